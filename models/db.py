"""Engines, sessions and schema migrations.

The database is named by ``DATABASE_URL`` (default ``sqlite:///datafin.db`` in the
working directory). SQLite needs nothing installed; PostgreSQL is reached through
psycopg 3 (``postgresql+psycopg://user@host:port/db``; plain ``postgresql://`` and
``postgres://`` URLs are accepted and mapped to psycopg).

The schema is owned by Alembic (``models/migrations``). :func:`upgrade` runs the
migrations programmatically, so neither an ``alembic.ini`` nor a working directory
is needed; :func:`ensure_schema_current` lets the application refuse to start on
an out-of-date schema with a message naming the command that fixes it.

Examples
--------
>>> engine = make_engine("sqlite://")
>>> upgrade(engine)
>>> current, head = schema_status(engine)
>>> current == head
True
>>> with session_scope(engine) as session:
...     pass
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

DEFAULT_DATABASE_URL = "sqlite:///datafin.db"
"""Used when ``DATABASE_URL`` is unset: a SQLite file in the working directory."""

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""Alembic script directory (env.py, script.py.mako, versions/)."""

UPGRADE_COMMAND = "datafin db upgrade"

# Deterministic constraint names on every dialect: Alembic's batch mode on SQLite
# and the autogenerate comparison both need named constraints. Set before any
# table module is imported (models/__init__.py imports this module first).
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DialectName = Literal["sqlite", "postgresql"]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC: the one clock of stored timestamps (the core
    never reads a clock; `api.clock` derives today's date from this)."""
    return datetime.now(UTC)


def _utc_on_load(target: Any, *_args: Any) -> None:
    """Timestamps come back in UTC with their zone on every backend.

    Every timestamp is written in UTC; PostgreSQL returns it zone-aware, SQLite without a
    zone. Attaching UTC on load means the API renders every timestamp the same way
    (RFC 3339 with ``Z``) and code never compares a naive time with an aware one.
    """
    state = sa.inspect(target)
    for attr in state.mapper.column_attrs:
        key = attr.key
        value = state.dict.get(key)
        if isinstance(value, datetime) and value.utcoffset() is None:
            state.dict[key] = value.replace(tzinfo=UTC)


sa.event.listen(SQLModel, "load", _utc_on_load, propagate=True)
sa.event.listen(SQLModel, "refresh", _utc_on_load, propagate=True)


class SchemaOutOfDate(RuntimeError):
    """The database schema does not match the migrations shipped with the code."""

    def __init__(self, current: str | None, head: str | None, *, known: bool = True) -> None:
        self.current = current
        self.head = head
        found = current if current is not None else "none (no schema yet)"
        if known:
            message = (
                f"The database schema is out of date: it is at revision {found}, "
                f"this version of datafin needs {head}. "
                f"Run `{UPGRADE_COMMAND}` (it honours DATABASE_URL) to create or upgrade it."
            )
        else:
            message = (
                f"The database schema is at revision {found}, which this version of datafin "
                f"does not know (it needs {head}): the database was migrated by a newer "
                "datafin. Install that version, or point DATABASE_URL at another database "
                f"and run `{UPGRADE_COMMAND}`."
            )
        super().__init__(message)


def database_url() -> str:
    """Return the database URL from ``DATABASE_URL`` or the SQLite default."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return url or DEFAULT_DATABASE_URL


def normalise_url(url: str | sa.URL) -> sa.URL:
    """Parse ``url``; map PostgreSQL URLs without a driver to psycopg 3."""
    parsed = sa.make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
    finally:
        cursor.close()


def make_engine(
    url: str | sa.URL | None = None,
    *,
    schema: str | None = None,
    echo: bool = False,
    **kwargs: Any,
) -> Engine:
    """Create an engine for ``url`` (default: :func:`database_url`).

    Parameters
    ----------
    url : str or sqlalchemy.URL, optional
        ``sqlite:///path.db``, ``sqlite://`` (in memory, one shared connection) or
        ``postgresql+psycopg://user@host:port/db``.
    schema : str, optional
        PostgreSQL only: put this schema first on the ``search_path`` of every
        connection, so tables and ``alembic_version`` live there (the test suite
        uses one throw-away schema per run).
    echo : bool
        Log SQL.
    **kwargs
        Passed to :func:`sqlalchemy.create_engine`.

    Notes
    -----
    SQLite connections get ``PRAGMA foreign_keys=ON`` and a busy timeout, and
    ``check_same_thread=False`` so a connection may move between the threads of
    a web server's pool.
    """
    parsed = normalise_url(url if url is not None else database_url())
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = dict(kwargs.pop("connect_args", {}))
    if backend == "sqlite":
        if schema is not None:
            raise ValueError("The `schema` of make_engine is only supported on PostgreSQL.")
        connect_args.setdefault("check_same_thread", False)
        database = parsed.database or ""
        if database in {"", ":memory:"} and "poolclass" not in kwargs:
            kwargs["poolclass"] = StaticPool
        elif "poolclass" not in kwargs:
            # SQLite connections are cheap to hold and dear to churn (each new one runs the
            # pragmas below): keep enough for the server's worker threads
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = sa.create_engine(parsed, echo=echo, connect_args=connect_args, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if backend == "postgresql":
        if schema is not None:
            options = connect_args.get("options", "")
            connect_args["options"] = f"{options} -csearch_path={schema}".strip()
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, echo=echo, connect_args=connect_args, **kwargs)
    raise ValueError(
        f"The DATABASE_URL must name SQLite or PostgreSQL. Got the backend {backend!r} "
        f"({parsed.render_as_string(hide_password=True)})."
    )


def dialect_name(bind: Engine | Connection) -> DialectName:
    """Return ``"sqlite"`` or ``"postgresql"`` for an engine or connection."""
    name = bind.dialect.name
    if name not in ("sqlite", "postgresql"):
        raise ValueError(f"Unsupported database dialect {name!r}.")
    return name  # type: ignore[return-value]


def make_session_factory(engine: Engine) -> Callable[[], Session]:
    """Return a factory of SQLModel sessions bound to ``engine``.

    Sessions do not expire objects on commit, so returned objects stay readable
    after the transaction that loaded them has ended.
    """
    return sessionmaker(bind=engine, class_=Session, expire_on_commit=False)


@contextmanager
def session_scope(
    bind: Engine | Callable[[], Session] | None = None,
) -> Iterator[Session]:
    """A transaction as a ``with`` block: commit on success, roll back on error.

    Parameters
    ----------
    bind : Engine or session factory, optional
        Where to open the session; default a new engine on :func:`database_url`.
    """
    owned_engine: Engine | None = None
    if bind is None:
        owned_engine = make_engine()
        factory: Callable[[], Session] = make_session_factory(owned_engine)
    elif isinstance(bind, Engine):
        factory = make_session_factory(bind)
    else:
        factory = bind
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if owned_engine is not None:
            owned_engine.dispose()


# --------------------------------------------------------------------- migrations


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` built in code.

    ``script_location`` points at the installed ``models/migrations``; the given
    connection (if any) is handed to ``env.py`` via ``config.attributes``.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    """The head revision of the shipped migrations (read once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _as_engine(target: Engine | Connection | str | sa.URL | None) -> tuple[Any, Engine | None]:
    """Return (bind, engine-to-dispose-or-None)."""
    if target is None or isinstance(target, str | sa.URL):
        engine = make_engine(target)
        return engine, engine
    return target, None


def _migrate(engine: Engine, step: Callable[[Connection], None]) -> None:
    """Run one Alembic command on ``engine`` in a single transaction.

    On SQLite, two things Alembic's docs call for: foreign keys are switched off
    while migrating (batch operations recreate tables, and dropping a parent table
    with ``foreign_keys=ON`` would cascade-delete its children's rows) and checked
    with ``PRAGMA foreign_key_check`` before commit; and an explicit ``BEGIN`` makes
    the DDL transactional (pysqlite does not open a transaction before DDL), so a
    failing migration leaves the database as it was.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            step(connection)
        return
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        try:
            with connection.begin():
                connection.exec_driver_sql("BEGIN")
                step(connection)
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    table, rowid, parent, _ = broken[0]
                    raise RuntimeError(
                        f"The migration left {len(broken)} row(s) violating foreign keys, "
                        f"e.g. {table} rowid {rowid} -> {parent}; rolled back."
                    )
        finally:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def upgrade(
    target: Engine | Connection | str | sa.URL | None = None, revision: str = "head"
) -> None:
    """Run the migrations up to ``revision`` (default ``head``), all in one transaction.

    Parameters
    ----------
    target : Engine, Connection, str or URL, optional
        Where to migrate. A URL makes (and disposes of) its own engine; default
        :func:`database_url`. A connection is used as is (its transaction is left
        to the caller), e.g. one whose ``search_path`` names a test schema.
    revision : str
        Target revision id.
    """
    bind, owned = _as_engine(target)
    try:
        if isinstance(bind, Connection):
            command.upgrade(alembic_config(bind), revision)
        else:
            _migrate(bind, lambda conn: command.upgrade(alembic_config(conn), revision))
    finally:
        if owned is not None:
            owned.dispose()


def downgrade(target: Engine | Connection | str | sa.URL | None, revision: str) -> None:
    """Run the downgrade migrations to ``revision`` (``base`` drops everything)."""
    bind, owned = _as_engine(target)
    try:
        if isinstance(bind, Connection):
            command.downgrade(alembic_config(bind), revision)
        else:
            _migrate(bind, lambda conn: command.downgrade(alembic_config(conn), revision))
    finally:
        if owned is not None:
            owned.dispose()


def schema_status(
    target: Engine | Connection | str | sa.URL | None = None,
) -> tuple[str | None, str | None]:
    """Return ``(current_revision, head_revision)``; current is None on an empty database."""
    bind, owned = _as_engine(target)
    try:
        if isinstance(bind, Connection):
            current = MigrationContext.configure(bind).get_current_revision()
        else:
            with bind.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
    finally:
        if owned is not None:
            owned.dispose()
    return current, head_revision()


def ensure_schema_current(target: Engine | Connection | str | sa.URL | None = None) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at the head revision."""
    current, head = schema_status(target)
    if current != head:
        raise SchemaOutOfDate(current, head, known=current is None or _is_known(current))


def _is_known(revision: str) -> bool:
    script = ScriptDirectory.from_config(alembic_config())
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        return False


def row_id(row: Any) -> int:
    """The primary key of a stored (flushed) row, as an int: the type checker's ``int | None``
    of a SQLModel id made definite. A row without one is a programming error."""
    rid = row.id
    if rid is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: add and flush it first")
    return int(rid)
