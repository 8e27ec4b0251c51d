"""``GET /health``: open to anyone, reports the database dialect and the version.

The check never queues behind heavy requests: it is an ``async`` handler (it takes no
place in the worker thread pool that synchronous routes share) and it reaches the
database through a connection of its own, opened by a small dedicated executor with a
deadline, never one from the engine's pool (which heavy requests may have exhausted).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool, StaticPool

from api.errors import problem_response
from api.version import service_version

router = APIRouter(tags=["health"])

#: Seconds the database has to answer ``SELECT 1`` before the check reports 503.
PROBE_TIMEOUT_SECONDS = 5.0

_PROBE_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="health-probe")


def probe_engine(engine: Engine) -> Engine:
    """An engine on the same database whose connections are opened per check (no pool).

    An in-memory SQLite database lives in one shared connection: there the check uses
    ``engine`` itself.
    """
    if isinstance(engine.pool, StaticPool):
        return engine
    connect_args = {"check_same_thread": False} if engine.dialect.name == "sqlite" else {}
    return sa.create_engine(engine.url, poolclass=NullPool, connect_args=connect_args)


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


@router.get("/health", summary="Liveness and database reachability")
async def health(request: Request) -> object:
    """``{"status": "ok", "database": "sqlite" | "postgresql", "version": ...}``; 503 when the
    database does not answer within `PROBE_TIMEOUT_SECONDS`."""
    state = request.app.state
    engine = getattr(state, "health_engine", None)
    if engine is None:
        engine = state.health_engine = probe_engine(state.engine)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(
            loop.run_in_executor(_PROBE_THREADS, _ping, engine), PROBE_TIMEOUT_SECONDS
        )
    except Exception:  # any driver error or the deadline means the database is unreachable
        return problem_response(503, f"The {engine.dialect.name} database does not answer.")
    return {"status": "ok", "database": engine.dialect.name, "version": service_version()}
