"""The migrated schema equals the SQLModel metadata, and schema status checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from models.db import (
    SchemaOutOfDate,
    alembic_config,
    ensure_schema_current,
    head_revision,
    make_engine,
    schema_status,
    upgrade,
)

EXPECTED_CHAIN = [
    "0001_registry",
    "0002_valuation",
    "0003_credit",
    "0004_products",
    "0005_risk",
    "0006_jobs",
    "0007_loan_valuation",
    "0008_rights_term_and_revenue",
    "0009_loan_policy",
    "0010_audit_integrity",
    "0011_quote_publication",
    "0012_pledge_consent",
    "0013_integer_ids",
]
HEAD = EXPECTED_CHAIN[-1]


def _diffs(connection: sa.Connection) -> list[object]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "target_metadata": SQLModel.metadata,
        },
    )
    return compare_metadata(context, SQLModel.metadata)


def test_migrated_schema_matches_metadata(engine: Engine) -> None:
    # Every table of every area must be created by a migration with the same
    # columns, types, nullability, indexes, unique constraints and foreign keys.
    with engine.connect() as connection:
        diffs = _diffs(connection)
    assert diffs == [], "migrations and SQLModel tables differ:\n" + "\n".join(map(repr, diffs))


def test_every_table_is_migrated(engine: Engine) -> None:
    tables = set(sa.inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables


def test_revision_chain_is_linear_and_fixed() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    chain = [rev.revision for rev in script.walk_revisions("base", "heads")]
    assert list(reversed(chain)) == EXPECTED_CHAIN
    assert script.get_heads() == [HEAD]
    assert head_revision() == HEAD


def test_engine_fixture_is_at_head(engine: Engine) -> None:
    assert schema_status(engine) == (HEAD, HEAD)
    ensure_schema_current(engine)


def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Path) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert schema_status(fresh) == (None, HEAD)
        with pytest.raises(SchemaOutOfDate, match="datafin db upgrade") as info:
            ensure_schema_current(fresh)
        assert info.value.current is None
        upgrade(fresh, "0001_registry")
        with pytest.raises(SchemaOutOfDate, match="0001_registry"):
            ensure_schema_current(fresh)
        upgrade(fresh)
        ensure_schema_current(fresh)
    finally:
        fresh.dispose()


def test_upgrade_from_url_string(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'by_url.db'}"
    upgrade(url)
    assert schema_status(url) == (HEAD, HEAD)
