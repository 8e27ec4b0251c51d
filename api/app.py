"""Application factory.

``create_app(engine=None, settings=None)`` builds the FastAPI app: it checks that the
database schema is at the latest migration (refusing to start otherwise, naming
``datafin db upgrade``), installs the problem+json error handlers and includes the
routers. ``/health`` sits at the root; every resource router is mounted under ``/v1``.
OpenAPI is served at ``/openapi.json`` and the interactive docs at ``/docs``.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from api import errors, job_queue, limits, observability, offline_docs, openapi_errors
from api.routers import (
    admin,
    assets,
    comparables,
    consents,
    health,
    loans,
    products,
    reports,
    risk,
    ui,
    valuations,
)
from api.routers import (
    jobs as job_routes,
)
from api.settings import Settings
from api.version import service_version
from models import db
from models.audit import configure_audit_key


class SchemaNotCurrentError(RuntimeError):
    """The database schema is missing or behind the code's migrations.

    The message names the fix: ``datafin db upgrade``.
    """


def create_app(engine: Engine | None = None, settings: Settings | None = None) -> FastAPI:
    """Build the API on `engine` (default: one made from ``settings.database_url``).

    Raises
    ------
    SchemaNotCurrentError
        When the schema is not at the latest migration; the message says to run
        ``datafin db upgrade``.
    """
    settings = settings or Settings()
    configure_audit_key(settings.audit_key)
    if engine is None:
        engine = db.make_engine(settings.database_url)
    try:
        db.ensure_schema_current(engine)
    except db.SchemaOutOfDate as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaNotCurrentError(f"{exc} Database: {where}") from exc

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # the worker threads of synchronous routes: a few, so a busy server queues requests
        # instead of switching between dozens of threads that fight for the GIL
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = settings.server_threads
        # the modules and tables loaded at start live as long as the process: keep them out
        # of the collector's full passes, which otherwise stall every request for ~100 ms
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(
        lifespan=lifespan,
        title="datafin",
        version=service_version(),
        summary="Data-asset registry, valuation, lending, securitization and stress testing.",
        docs_url=None,  # served offline by api.offline_docs (below)
        redoc_url=None,
    )
    app.state.engine = engine
    app.state.session_factory = db.make_session_factory(engine)
    app.state.settings = settings
    errors.install_handlers(app)
    job_queue.recover_interrupted_runs(app)  # runs left open by a stopped server -> failed

    app.include_router(health.router)
    app.include_router(assets.router, prefix="/v1", tags=["assets"])
    app.include_router(comparables.router, prefix="/v1", tags=["comparables"])
    app.include_router(valuations.router, prefix="/v1", tags=["valuations"])
    app.include_router(loans.router, prefix="/v1", tags=["loans"])
    app.include_router(consents.router, prefix="/v1", tags=["loans"])
    app.include_router(products.router, prefix="/v1", tags=["products"])
    app.include_router(risk.router, prefix="/v1", tags=["risk"])
    app.include_router(reports.router, prefix="/v1", tags=["reports"])
    app.include_router(admin.router, prefix="/v1", tags=["admin"])
    app.include_router(job_routes.router, prefix="/v1", tags=["jobs"])
    app.include_router(ui.router)  # the read-only dashboard at /ui (HTML, outside the API schema)

    # --- operations: offline docs, request ids, metrics and access logs (api.observability)
    offline_docs.install(app)
    openapi_errors.install(app)  # every error response documented as problem+json
    limits.install(app)  # authenticate before the body, rate and size limits (inside the next)
    observability.install(app)
    return app
