"""``GET /health``: open to anyone, reports the database dialect and the version."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.errors import problem_response

router = APIRouter(tags=["health"])


def service_version() -> str:
    """The installed ``datafin`` distribution's version."""
    try:
        return version("datafin")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0+unknown"


@router.get("/health", summary="Liveness and database reachability")
def health(request: Request) -> object:
    """``{"status": "ok", "database": "sqlite" | "postgresql", "version": ...}``; 503 when the
    database does not answer."""
    engine = request.app.state.engine
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:  # any driver error means the database is unreachable
        return problem_response(503, f"The {engine.dialect.name} database does not answer.")
    return {"status": "ok", "database": engine.dialect.name, "version": service_version()}
