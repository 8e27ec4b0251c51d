"""Service configuration (pydantic-settings), read from the environment.

Variables (case-insensitive): ``DATABASE_URL`` (default ``sqlite:///datafin.db`` in the
working directory), ``DASK_SCHEDULER`` (``tcp://host:8786``; unset means the local
executor), ``ENVIRONMENT`` (``development``, ``test`` or ``production``) and
``SECRET_KEY`` (signs pagination cursors). Outside ``development`` the default
secret is refused, so a deployment cannot run with a value published in this file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.db import DEFAULT_DATABASE_URL

DEFAULT_SECRET_KEY = "datafin-development-secret-change-me"


class Settings(BaseSettings):
    """Configuration of the HTTP service and the CLI."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    dask_scheduler: str | None = None
    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    #: Seconds an authenticated key is remembered (api.auth_cache); 0 turns the cache off.
    auth_cache_seconds: float = 10.0
    #: Development and tests: the web process also runs the jobs it queues (on its own
    #: threads), so no `datafin worker` is needed. Off in a deployment.
    jobs_in_process: bool = False

    @model_validator(mode="after")
    def _no_default_secret_outside_development(self) -> Settings:
        if self.environment != "development" and self.secret_key == DEFAULT_SECRET_KEY:
            raise ValueError(
                f"SECRET_KEY must be set to a private value when ENVIRONMENT={self.environment!r}; "
                "the built-in default is only allowed in development."
            )
        if len(self.secret_key) < 16:
            raise ValueError("SECRET_KEY must be at least 16 characters long.")
        return self
