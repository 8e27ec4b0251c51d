"""The ASGI application as ``datafin serve`` runs it (``uvicorn --factory
api.server:application``): JSON-line logs, then `api.app.create_app` from the environment.

A factory rather than an app object so that each server process (``--workers N``) builds
its own engine and connection pool after the fork.
"""

from __future__ import annotations

import os
from typing import Any


def application() -> Any:
    """Configure logging and build the app from ``DATABASE_URL`` and the other settings."""
    from api.app import create_app
    from api.observability import configure_logging

    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    return create_app()
