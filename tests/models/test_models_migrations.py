"""How models.db.upgrade runs migrations: atomically, and without cascade losses on SQLite.

These use throw-away SQLite files and a copy of the migration scripts with one extra
revision, so they never touch the shared test database.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from models import db
from models.registry import DataAsset, Signal, issue_certificate_no

#: The newest revision shipped: the scratch revisions below build on it.
HEAD = sorted(p.stem for p in (db.MIGRATIONS_DIR / "versions").glob("0*.py"))[-1]

FAILING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0099_scratch"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("scratch", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO scratch (id) VALUES (1)")
    raise RuntimeError("boom in 0099_scratch")


def downgrade():
    pass
"""

RECREATING_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "0099_scratch"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode on SQLite copies data_asset to a new table and drops the old one.
    with op.batch_alter_table("data_asset", recreate="always") as batch:
        batch.add_column(sa.Column("note", sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table("data_asset", recreate="always") as batch:
        batch.drop_column("note")
"""


@pytest.fixture
def scratch_migrations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of models/migrations; tests add a scratch revision file to it."""
    target = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS_DIR, target, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "MIGRATIONS_DIR", target)
    db.head_revision.cache_clear()
    yield target
    db.head_revision.cache_clear()


def _engine(tmp_path: Path, name: str) -> sa.Engine:
    return db.make_engine(f"sqlite:///{tmp_path / name}")


def test_failing_migration_leaves_the_database_unchanged(
    tmp_path: Path, scratch_migrations: Path
) -> None:
    engine = _engine(tmp_path, "atomic.db")
    try:
        db.upgrade(engine, HEAD)
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(FAILING_REVISION.replace("{head}", HEAD))
        with pytest.raises(RuntimeError, match="boom"):
            db.upgrade(engine)
        assert db.schema_status(engine) == (HEAD, "0099_scratch")
        assert "scratch" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_failing_first_upgrade_leaves_an_empty_database(
    tmp_path: Path, scratch_migrations: Path
) -> None:
    engine = _engine(tmp_path, "fresh.db")
    try:
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(FAILING_REVISION.replace("{head}", HEAD))
        with pytest.raises(RuntimeError, match="boom"):
            db.upgrade(engine)
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_table_rebuild_keeps_child_rows_and_foreign_keys(
    tmp_path: Path, scratch_migrations: Path
) -> None:
    engine = _engine(tmp_path, "rebuild.db")
    try:
        db.upgrade(engine, HEAD)
        factory = db.make_session_factory(engine)
        with factory() as session:
            asset = DataAsset(
                name="a", category="consumer", holding=True, processing_use=True,
                product_operation=True, exclusive=False, territory="CN", cross_border=False,
                accuracy=1, consistency=1, completeness=1, conformity=1, timeliness=1,
                accessibility=1, records=1, refresh_days=1, fingerprint_sha256="0" * 64,
                certificate_no=issue_certificate_no(session), owner_tenant="t",
            )  # fmt: skip
            session.add(asset)
            session.flush()
            session.add(
                Signal(asset_id=asset.id, metric="revenue", month=date(2025, 1, 1), value=1)
            )
            session.commit()
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(RECREATING_REVISION.replace("{head}", HEAD))
        db.upgrade(engine)
        with factory() as session:
            assert len(session.exec(select(Signal)).all()) == 1
            # Foreign keys are back on for normal work.
            session.add(Signal(asset_id=999, metric="revenue", month=date(2025, 1, 1), value=1))
            with pytest.raises(sa.exc.IntegrityError):
                session.commit()
    finally:
        engine.dispose()


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "roundtrip.db")
    try:
        db.upgrade(engine)
        db.downgrade(engine, "base")
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        assert db.schema_status(engine)[0] is None
        db.upgrade(engine)
        db.ensure_schema_current(engine)
    finally:
        engine.dispose()


def test_migration_scripts_ship_inside_the_package() -> None:
    # upgrade() must work from an installed (non-editable) copy: the scripts live in
    # the models package, next to db.py, not at the repository root.
    package_dir = Path(db.__file__).resolve().parent
    assert package_dir / "migrations" == db.MIGRATIONS_DIR
    assert (db.MIGRATIONS_DIR / "env.py").is_file()
    assert (db.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert sorted(p.name for p in (db.MIGRATIONS_DIR / "versions").glob("0*.py")) == [
        "0001_registry.py", "0002_valuation.py", "0003_credit.py", "0004_products.py",
        "0005_risk.py", "0006_jobs.py", "0007_loan_valuation.py",
        "0008_rights_term_and_revenue.py", "0009_loan_policy.py", "0010_audit_integrity.py",
        "0011_quote_publication.py", "0012_pledge_consent.py",
    ]  # fmt: skip


def test_session_scope_commits_or_rolls_back(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "scope.db")
    try:
        db.upgrade(engine)
        with pytest.raises(sa.exc.IntegrityError), db.session_scope(engine) as session:
            session.add(Signal(asset_id=1, metric="revenue", month=date(2025, 1, 1), value=1))
        with db.session_scope(engine) as session:
            assert session.exec(select(Signal)).all() == []
        factory = db.make_session_factory(engine)
        with db.session_scope(factory) as session:
            assert isinstance(session, Session)
    finally:
        engine.dispose()


def test_url_handling(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert db.database_url() == "sqlite:///datafin.db"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:5432/d")
    assert db.database_url() == "postgresql://u@h:5432/d"
    assert db.normalise_url("postgresql://u@h:5432/d").drivername == "postgresql+psycopg"
    assert db.normalise_url("postgres://u@h/d").drivername == "postgresql+psycopg"
    with pytest.raises(ValueError, match="SQLite or PostgreSQL"):
        db.make_engine("mysql://u@h/d")
    memory = db.make_engine("sqlite://")
    try:
        assert db.dialect_name(memory) == "sqlite"
        with memory.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        memory.dispose()


def test_database_from_a_newer_version_is_named_as_such(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "newer.db")
    try:
        db.upgrade(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_future'")
        with pytest.raises(db.SchemaOutOfDate, match="newer datafin") as info:
            db.ensure_schema_current(engine)
        assert info.value.current == "0099_future"
    finally:
        engine.dispose()
