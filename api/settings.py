"""Service configuration (pydantic-settings), read from the environment.

Variables (case-insensitive): ``DATABASE_URL`` (default ``sqlite:///datafin.db`` in the
working directory), ``DASK_SCHEDULER`` (``tcp://host:8786``; unset means the local
executor), ``ENVIRONMENT`` (``development``, ``test`` or ``production``) and
``SECRET_KEY`` (signs pagination cursors) and ``AUDIT_KEY`` (keys the audit chain's HMACs
and signs its checkpoints; keep it outside the database). Outside ``development`` the
default values are refused, so a deployment cannot run with a value published in this
file, and both must be at least 32 characters.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.audit import DEFAULT_AUDIT_KEY
from models.db import DEFAULT_DATABASE_URL

DEFAULT_SECRET_KEY = "datafin-development-secret-change-me"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    """Configuration of the HTTP service and the CLI."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str = DEFAULT_DATABASE_URL
    dask_scheduler: str | None = None
    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEFAULT_SECRET_KEY
    audit_key: str = DEFAULT_AUDIT_KEY
    #: Seconds an authenticated key is remembered (api.auth_cache); 0 turns the cache off.
    auth_cache_seconds: float = 10.0
    #: Requests per second and burst per API key (api.limits); 0 turns the limit off.
    #: Worker threads of the synchronous routes per server process (FastAPI's default is 40:
    #: on a small server a few threads answer faster than many that contend for the GIL).
    server_threads: int = Field(default=8, ge=1, le=256)
    #: Seconds a server process keeps the answer of GET /v1/quotes/{id} (0: no cache); a
    #: publication in another process shows after at most this long (api.quote_cache).
    quote_cache_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    rate_limit_per_second: float = 100.0
    rate_limit_burst: float = 1000.0
    #: Failed authentications allowed per client address: per minute, and in a burst.
    auth_failure_per_minute: float = 60.0
    auth_failure_burst: float = 100.0
    #: Largest request body in bytes (413 above it); signal imports and registration have their own.
    max_body_bytes: int = 10_000_000
    max_import_body_bytes: int = 50_000_000
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
        if self.environment != "development" and self.audit_key == DEFAULT_AUDIT_KEY:
            raise ValueError(
                f"AUDIT_KEY must be set to a private value when ENVIRONMENT={self.environment!r}; "
                "the built-in default is only allowed in development."
            )
        minimum = 32 if self.environment == "production" else 16
        if len(self.secret_key) < minimum:
            raise ValueError(f"SECRET_KEY must be at least {minimum} characters long.")
        if len(self.audit_key.encode("utf-8")) < 32:
            raise ValueError("AUDIT_KEY must be at least 32 bytes long.")
        return self
