"""Database fixtures shared by the whole suite.

The same tests run on SQLite (default) and on PostgreSQL (when
``TEST_DATABASE_URL`` is set, e.g.
``TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test``).
The schema is always built by the Alembic migrations (``upgrade head``), never by
``create_all``, so a test run also checks the migrations.

Fixtures
--------
engine : sqlalchemy.Engine (session scope)
    A migrated database for the whole run. SQLite: a temporary file. PostgreSQL:
    a uniquely named schema ``test_<random>`` in the given database, put on the
    ``search_path`` of every connection of this engine and dropped (CASCADE) at
    the end. If ``TEST_DATABASE_URL`` is set and the server cannot be reached,
    the run errors (it never silently skips).
db_session : sqlmodel.Session
    A session on ``engine`` for one test. Commit freely. After the test every
    table is emptied (``DELETE`` in reverse dependency order), so tests are
    independent; the schema is not rebuilt (cheap per test).
session_factory : callable () -> sqlmodel.Session
    Makes new sessions bound to ``engine`` (``expire_on_commit=False``), for code
    under test that opens its own sessions (services, the demo, the API's
    ``get_session`` override). Tables are emptied after the test, as above.
    Using both ``db_session`` and ``session_factory`` in one test is fine.
database_dialect : str
    ``"sqlite"`` or ``"postgresql"``, for the rare test that must know.

Core tests (valuation, credit, products, risk) never request these fixtures and
never touch a database.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models  # noqa: F401  (registers every table)
from models.audit import drop_append_only_triggers, install_append_only_triggers
from models.db import dialect_name, make_engine, make_session_factory, upgrade

TEST_DATABASE_URL_ENV = "TEST_DATABASE_URL"

# The apps under test run the durable jobs they queue on their own threads (no separate
# `datafin worker`); tests of the worker itself start subprocesses without this variable.
os.environ.setdefault("JOBS_IN_PROCESS", "true")


def _postgres_engine(url: str) -> Iterator[Engine]:
    admin = make_engine(url, pool_pre_ping=False, connect_args={"connect_timeout": 10})
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"{TEST_DATABASE_URL_ENV} is set but PostgreSQL cannot be reached ({exc}); "
            "the PostgreSQL run fails rather than skipping.",
            pytrace=False,
        )
    # Tag the run's connections so teardown can end any a test leaked (an open
    # transaction would otherwise make DROP SCHEMA wait forever).
    application_name = f"datafin-{schema}"
    engine = make_engine(url, schema=schema, connect_args={"application_name": application_name})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": application_name},
            )
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _sqlite_engine(directory: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{directory / 'test.db'}")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database for the whole run (see the module docstring)."""
    url = os.environ.get(TEST_DATABASE_URL_ENV, "").strip()
    if url:
        yield from _postgres_engine(url)
    else:
        yield from _sqlite_engine(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def database_dialect(engine: Engine) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return dialect_name(engine)


CLEANUP_LOCK_TIMEOUT = "30s"
"""PostgreSQL: how long the cleanup waits for locks before failing the test loudly."""


def empty_tables(engine: Engine) -> None:
    """Delete every row of every table (children first); keeps the schema.

    On PostgreSQL a session left open with uncommitted writes would make this wait
    for its locks; a lock timeout turns that hang into an error naming the cause.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"SET LOCAL lock_timeout = '{CLEANUP_LOCK_TIMEOUT}'"))
        try:
            # the audit tables refuse DELETE by trigger: lift it for the cleanup only
            drop_append_only_triggers(connection)
            for table in reversed(SQLModel.metadata.sorted_tables):
                connection.execute(table.delete())
            install_append_only_triggers(connection)
        except sa.exc.OperationalError as exc:
            raise RuntimeError(
                f"Emptying the test tables failed ({exc.orig}); a session opened by the "
                "test or the code under test is probably still holding locks: close it."
            ) from exc


class _TrackingFactory:
    """Session factory that remembers its sessions so teardown can close them."""

    def __init__(self, engine: Engine) -> None:
        self._factory = make_session_factory(engine)
        self.sessions: list[Session] = []

    def __call__(self) -> Session:
        session = self._factory()
        self.sessions.append(session)
        return session

    def close_all(self) -> None:
        for session in self.sessions:
            session.rollback()
            session.close()
        self.sessions.clear()


@pytest.fixture
def _tracked_sessions(engine: Engine) -> Iterator[_TrackingFactory]:
    factory = _TrackingFactory(engine)
    yield factory
    # Close what the test left open (an open transaction would block the cleanup
    # on PostgreSQL), then empty the tables for the next test.
    factory.close_all()
    empty_tables(engine)


@pytest.fixture
def session_factory(_tracked_sessions: _TrackingFactory) -> Callable[[], Session]:
    """New sessions bound to ``engine``; tables are emptied after the test."""
    return _tracked_sessions


@pytest.fixture
def db_session(_tracked_sessions: _TrackingFactory) -> Session:
    """One session for the test; tables are emptied after the test."""
    return _tracked_sessions()
