"""``datafin demo``: the whole service on sample data, from an empty database.

1. Upgrade the schema of ``DATABASE_URL`` (``make demo`` uses a fresh
   ``sqlite:///datafin-demo.db``); refuse a database that already holds assets.
2. Create the demo tenant's API keys (printed, so the API can be tried at once).
3. Run the steps of ``api/demo_steps`` in order: registry, valuation, credit,
   products, risk, then the documents (written to ``reports/``). Each step gets the
   same `DemoContext`.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module

import sqlalchemy as sa

from api.demo_steps import DemoContext
from models import db
from models.registry import DataAsset
from models.security import create_api_key
from samples.data_assets import DEFAULT_SEED

DEMO_TENANT = "demo"
STEPS: tuple[str, ...] = ("registry", "valuation", "credit", "products", "risk", "reports")
"""Modules of ``api.demo_steps`` run in this order, each as ``run(ctx)``."""

DEMO_ROLES = ("registrar", "bank", "fund_manager", "risk")


class DemoError(RuntimeError):
    """The demo cannot run (non-empty database) or one of its steps failed."""


def run_demo(
    database_url: str | None = None,
    *,
    seed: int = DEFAULT_SEED,
    out: Callable[..., None] = print,
    tenant: str = DEMO_TENANT,
) -> DemoContext:
    """Run the demo against ``database_url`` (default ``DATABASE_URL``); return its context.

    Raises
    ------
    DemoError
        The database already holds data assets, or a step failed (its name is given).
    """
    engine = db.make_engine(database_url)
    try:
        db.upgrade(engine)
        with engine.connect() as conn:
            existing = conn.execute(sa.select(sa.func.count()).select_from(DataAsset)).scalar_one()
        if existing:
            where = engine.url.render_as_string(hide_password=True)
            raise DemoError(
                f"The demo needs an empty database, but {where} already holds {existing} data "
                "assets. Point DATABASE_URL at a new database (make demo uses a fresh "
                "sqlite:///datafin-demo.db)."
            )
        factory = db.make_session_factory(engine)
        ctx = DemoContext(session_factory=factory, tenant=tenant, out=out, seed=seed)
        out(
            f"datafin demo on {engine.url.render_as_string(hide_password=True)} "
            f"(schema {db.head_revision()})"
        )

        keys: dict[str, str] = {}
        with db.session_scope(factory) as session:
            for role in DEMO_ROLES:
                keys[role], _row = create_api_key(session, role=role, tenant=tenant, label="demo")
        ctx.state["keys"] = keys
        out(f"API keys for tenant {tenant!r} (shown once):")
        for role, key in keys.items():
            out(f"  {role:<13} {key}")

        for name in STEPS:
            module = import_module(f"api.demo_steps.{name}")
            out("")
            out(f"== {name} ==")
            try:
                module.run(ctx)
            except Exception as exc:
                raise DemoError(
                    f"The demo step {name!r} failed: {exc.__class__.__name__}: {exc}"
                ) from exc
        return ctx
    finally:
        engine.dispose()
