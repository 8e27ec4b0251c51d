"""How models.db.upgrade runs migrations: atomically, and without cascade losses on SQLite.

These use throw-away SQLite files and a copy of the migration scripts with one extra
revision, so they never touch the shared test database.
"""

from __future__ import annotations

import os
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
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(
            FAILING_REVISION.replace("{head}", HEAD)
        )
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
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(
            FAILING_REVISION.replace("{head}", HEAD)
        )
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
        (scratch_migrations / "versions" / "0099_scratch.py").write_text(
            RECREATING_REVISION.replace("{head}", HEAD)
        )
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
        "0013_integer_ids.py",
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


@pytest.fixture(
    params=["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]
)
def scratch_engine(request, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database: a SQLite file, and (when TEST_DATABASE_URL is set, as in CI's
    PostgreSQL run) a throw-away PostgreSQL schema."""
    import uuid

    if request.param == "sqlite":
        engine = _engine(tmp_path, "ids.db")
        yield engine
        engine.dispose()
        return
    url = os.environ["TEST_DATABASE_URL"]
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    admin = db.make_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = db.make_engine(url, schema=schema)
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_hex_ids_become_integers_in_creation_order(scratch_engine: sa.Engine) -> None:
    """0013: securitizations, pricing runs and stress runs get integer ids numbered in the
    order they were created; tranches, pricing runs, results and open jobs follow; new
    rows are numbered on; the downgrade gives string ids back."""
    import json

    db.upgrade(scratch_engine, "0012_pledge_consent")
    older, newer = "f" * 32, "0" * 32  # the hex order is the reverse of the creation order
    with scratch_engine.begin() as conn:
        for sid, at in ((older, "2026-01-01 00:00:00"), (newer, "2026-02-01 00:00:00")):
            conn.execute(
                sa.text(
                    "INSERT INTO securitization (id, name, currency, pool_balance, note_balance, tenant, spec, "
                    "pool_snapshot, created_by, created_at) VALUES (:id, 'd', 'CNY', 1, 1, 't', '{}', '{}', 'x', :at)"
                ),
                {"id": sid, "at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO securitization_tranche (securitization_id, seniority, name, attach, detach, balance) "
                    "VALUES (:id, 0, 'A', 0, 1, 1)"
                ),
                {"id": sid},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO securitization_pricing (id, securitization_id, tenant, method, paths, seed, "
                    "correlation, as_of, result, created_by, created_at) VALUES (:pid, :id, 't', 'mc', 1, 1, 0.1, "
                    "'2026-01-01', '{}', 'x', :at)"
                ),
                {"pid": sid[::-1][:31] + "p", "id": sid, "at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO stress_run (id, scenario_name, scenario, tenant, status, progress, created_at) "
                    "VALUES (:id, 's', '{}', 't', 'queued', 0, :at)"
                ),
                {"id": sid, "at": at},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO stress_result (run_id, kind, position_id, metric) VALUES (:id, 'loan', '1', 'pv')"
                ),
                {"id": sid},
            )
        conn.execute(
            sa.text(
                "INSERT INTO job (kind, ref, payload, status, progress, attempts, max_attempts, created_at) "
                "VALUES ('stress_run', :ref, :payload, 'queued', 0, 0, 3, '2026-02-01 00:00:00')"
            ),
            {"ref": newer, "payload": json.dumps({"run_id": newer})},
        )
    db.upgrade(scratch_engine)
    with scratch_engine.connect() as conn:

        def rows(sql: str) -> list:
            return [tuple(r) for r in conn.execute(sa.text(sql)).all()]

        assert rows("SELECT id, created_at < '2026-01-15' FROM securitization ORDER BY id") == [
            (1, True),
            (2, False),
        ]
        assert rows(
            "SELECT securitization_id FROM securitization_tranche ORDER BY securitization_id"
        ) == [(1,), (2,)]
        assert rows("SELECT id, securitization_id FROM securitization_pricing ORDER BY id") == [
            (1, 1),
            (2, 2),
        ]
        assert rows("SELECT id FROM stress_run ORDER BY id") == [(1,), (2,)]
        assert rows("SELECT run_id FROM stress_result ORDER BY run_id") == [(1,), (2,)]
        ref, payload = conn.execute(sa.text("SELECT ref, payload FROM job")).one()
        assert ref == "2"
        assert json.loads(payload)["run_id"] == 2
    with scratch_engine.begin() as conn:  # new rows are numbered on
        conn.execute(
            sa.text(
                "INSERT INTO stress_run (scenario_name, scenario, tenant, status, progress, created_at) "
                "VALUES ('s', '{}', 't', 'queued', 0, '2026-03-01 00:00:00')"
            )
        )
        assert conn.execute(sa.text("SELECT max(id) FROM stress_run")).scalar_one() == 3
    db.downgrade(scratch_engine, "0012_pledge_consent")
    with scratch_engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT id FROM stress_run")).scalars()) == [
            "1",
            "2",
            "3",
        ]
    db.upgrade(scratch_engine)
