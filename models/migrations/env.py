"""Alembic environment for datafin.

Run through :func:`models.db.upgrade` (config built in code). When the caller puts
a connection in ``config.attributes["connection"]`` it is used as is (tests
migrate a given engine or PostgreSQL schema this way); otherwise an engine is
made from ``sqlalchemy.url`` in the config, or ``DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from models.db import database_url, make_engine

config = context.config
target_metadata = SQLModel.metadata


def configure_options(dialect: str) -> dict[str, object]:
    """Options shared by migrations and the schema-drift test."""
    return {
        "target_metadata": target_metadata,
        "compare_type": True,
        "render_as_batch": dialect == "sqlite",
        "user_module_prefix": "sqlmodel.sql.sqltypes.",
    }


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or database_url()


def run_migrations_offline() -> None:
    url = _url()
    dialect = "sqlite" if url.startswith("sqlite") else "postgresql"
    context.configure(url=url, literal_binds=True, **configure_options(dialect))  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: Connection) -> None:
    context.configure(connection=connection, **configure_options(connection.dialect.name))  # type: ignore[arg-type]
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
