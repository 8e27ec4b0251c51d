"""Integer ids everywhere: securitizations, their pricing runs and stress runs.

These three tables had random hex string ids while every other object of the API has an
integer id. Existing rows are numbered in the order they were created (``created_at``,
then the old id); the rows that point at them (tranches, pricing runs, stress results)
follow, and so do the open jobs that name a stress run. A pricing run made by a job
records the job (``job_id``, unique), so a retried job finds the run it already stored.
The audit log is append-only: its entries keep the ids they were written with.

Revision ID: 0013_integer_ids
Revises: 0012_pledge_consent
Create Date: 2026-12-04
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_integer_ids"
down_revision: str | Sequence[str] | None = "0012_pledge_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: parent table -> [(child table, its column naming the parent, FK constraint name)]
_CHILDREN = {
    "securitization": [
        (
            "securitization_tranche",
            "securitization_id",
            "fk_securitization_tranche_securitization_id_securitization",
        ),
        (
            "securitization_pricing",
            "securitization_id",
            "fk_securitization_pricing_securitization_id_securitization",
        ),
    ],
    "securitization_pricing": [],
    "stress_run": [("stress_result", "run_id", "fk_stress_result_run_id_stress_run")],
}


def _renumber(conn: sa.Connection, table: str) -> dict[str, str]:
    """Give every row of ``table`` its new id (as text, still in the string column) and
    point its children at it; returns old -> new."""
    rows = conn.execute(sa.text(f"SELECT id FROM {table} ORDER BY created_at, id")).scalars().all()
    mapping = {str(old): str(i) for i, old in enumerate(rows, start=1)}
    for old, new in mapping.items():
        # a prefix no old id (32 hex digits) has: the two numberings never collide midway
        conn.execute(
            sa.text(f"UPDATE {table} SET id = :tmp WHERE id = :old"), {"tmp": f"n{new}", "old": old}
        )
        for child, column, _fk in _CHILDREN[table]:
            conn.execute(
                sa.text(f"UPDATE {child} SET {column} = :tmp WHERE {column} = :old"),
                {"tmp": f"n{new}", "old": old},
            )
    conn.execute(sa.text(f"UPDATE {table} SET id = substr(id, 2)"))
    for child, column, _fk in _CHILDREN[table]:
        conn.execute(sa.text(f"UPDATE {child} SET {column} = substr({column}, 2)"))
    return mapping


def _follow_jobs(conn: sa.Connection, runs: dict[str, str]) -> None:
    """Open stress-run jobs name their run in ``ref`` and the payload's ``run_id``."""
    jobs = conn.execute(sa.text("SELECT id, ref, payload FROM job WHERE kind = 'stress_run'")).all()
    for job_id, ref, payload in jobs:
        new = runs.get(str(ref))
        if new is None:
            continue
        doc = json.loads(payload or "{}")
        doc["run_id"] = int(new)
        conn.execute(
            sa.text("UPDATE job SET ref = :ref, payload = :payload WHERE id = :id"),
            {"ref": new, "payload": json.dumps(doc), "id": job_id},
        )


def _drop_foreign_keys() -> None:
    """PostgreSQL checks a foreign key at once: drop them while ids move (recreated after)."""
    for children in _CHILDREN.values():
        for child, _column, fk in children:
            op.drop_constraint(fk, child, type_="foreignkey")


def _retype(conn: sa.Connection, to_integer: bool) -> None:
    if (
        conn.dialect.name == "postgresql"
    ):  # the foreign keys were dropped first (_drop_foreign_keys)
        for parent, children in _CHILDREN.items():
            if to_integer:
                op.execute(f"ALTER TABLE {parent} ALTER COLUMN id TYPE INTEGER USING id::integer")
                op.execute(f"CREATE SEQUENCE {parent}_id_seq OWNED BY {parent}.id")
                op.execute(
                    f"ALTER TABLE {parent} ALTER COLUMN id SET DEFAULT nextval('{parent}_id_seq')"
                )
                op.execute(
                    f"SELECT setval('{parent}_id_seq', COALESCE((SELECT max(id) FROM {parent}), 0) + 1, false)"
                )
            else:
                op.execute(f"ALTER TABLE {parent} ALTER COLUMN id DROP DEFAULT")
                op.execute(f"DROP SEQUENCE IF EXISTS {parent}_id_seq")
                op.execute(f"ALTER TABLE {parent} ALTER COLUMN id TYPE VARCHAR(32) USING id::text")
            for child, column, _fk in children:
                using = f"{column}::integer" if to_integer else f"{column}::text"
                kind = "INTEGER" if to_integer else "VARCHAR(32)"
                op.execute(f"ALTER TABLE {child} ALTER COLUMN {column} TYPE {kind} USING {using}")
        for parent, children in _CHILDREN.items():
            for child, column, fk in children:
                op.create_foreign_key(fk, child, parent, [column], ["id"], ondelete="CASCADE")
        return
    _rebuild_sqlite(to_integer)


#: The five tables in the order they are created (parents first).
_TABLES = (
    "securitization",
    "securitization_tranche",
    "securitization_pricing",
    "stress_run",
    "stress_result",
)


def _create_tables(to_integer: bool) -> None:
    """The five tables as the models define them, with integer (or, to downgrade, hex
    string) ids; ``job_id`` of pricing runs only with integer ids."""
    key = sa.Integer() if to_integer else sa.String(length=32)
    op.create_table(
        "securitization",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pool_balance", sa.Float(), nullable=False),
        sa.Column("note_balance", sa.Float(), nullable=False),
        sa.Column("id", key, nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("pool_snapshot", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitization")),
    )
    op.create_index(op.f("ix_securitization_tenant"), "securitization", ["tenant"], unique=False)
    op.create_table(
        "securitization_tranche",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("securitization_id", key, nullable=False),
        sa.Column("seniority", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("attach", sa.Float(), nullable=False),
        sa.Column("detach", sa.Float(), nullable=False),
        sa.Column("balance", sa.Float(), nullable=False),
        sa.Column("coupon", sa.Float(), nullable=True),
        sa.Column("spread_bp", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["securitization_id"],
            ["securitization.id"],
            name=op.f("fk_securitization_tranche_securitization_id_securitization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitization_tranche")),
        sa.UniqueConstraint(
            "securitization_id",
            "seniority",
            name=op.f("uq_securitization_tranche_securitization_id_seniority"),
        ),
    )
    op.create_index(
        op.f("ix_securitization_tranche_securitization_id"),
        "securitization_tranche",
        ["securitization_id"],
        unique=False,
    )
    pricing_job = [sa.Column("job_id", sa.Integer(), nullable=True)] if to_integer else []
    pricing_unique = (
        [sa.UniqueConstraint("job_id", name=op.f("uq_securitization_pricing_job_id"))]
        if to_integer
        else []
    )
    op.create_table(
        "securitization_pricing",
        sa.Column("id", key, nullable=False),
        sa.Column("securitization_id", key, nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("correlation", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        *pricing_job,
        sa.ForeignKeyConstraint(
            ["securitization_id"],
            ["securitization.id"],
            name=op.f("fk_securitization_pricing_securitization_id_securitization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitization_pricing")),
        *pricing_unique,
    )
    op.create_index(
        op.f("ix_securitization_pricing_securitization_id"),
        "securitization_pricing",
        ["securitization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_securitization_pricing_tenant"), "securitization_pricing", ["tenant"], unique=False
    )
    op.create_table(
        "stress_run",
        sa.Column("scenario_name", sa.String(length=80), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("id", key, nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("record", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stress_run")),
    )
    op.create_index(op.f("ix_stress_run_tenant"), "stress_run", ["tenant"], unique=False)
    op.create_table(
        "stress_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", key, nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("position_id", sa.String(length=80), nullable=False),
        sa.Column("metric", sa.String(length=40), nullable=False),
        sa.Column("base", sa.Float(), nullable=True),
        sa.Column("stressed", sa.Float(), nullable=True),
        sa.Column("delta", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["stress_run.id"],
            name=op.f("fk_stress_result_run_id_stress_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stress_result")),
    )
    op.create_index(op.f("ix_stress_result_run_id"), "stress_result", ["run_id"], unique=False)


def _rebuild_sqlite(to_integer: bool) -> None:
    """SQLite cannot change a column's type: copy the rows aside, drop the tables children
    first (so dropping a parent cascades to nothing), create them anew, copy back."""
    conn = op.get_bind()
    columns: dict[str, list[str]] = {}
    for table in _TABLES:
        columns[table] = [c["name"] for c in sa.inspect(conn).get_columns(table)]
        conn.execute(sa.text(f"CREATE TABLE _old_{table} AS SELECT * FROM {table}"))
    for table in reversed(_TABLES):
        op.drop_table(table)
    _create_tables(to_integer)
    keyed = {
        "securitization": ["id"],
        "securitization_tranche": ["securitization_id"],
        "securitization_pricing": ["id", "securitization_id"],
        "stress_run": ["id"],
        "stress_result": ["run_id"],
    }
    for table in _TABLES:
        names = [c for c in columns[table] if c != "job_id"]
        cast = "INTEGER" if to_integer else "VARCHAR(32)"
        select = ", ".join(f"CAST({c} AS {cast})" if c in keyed[table] else c for c in names)
        conn.execute(
            sa.text(f"INSERT INTO {table} ({', '.join(names)}) SELECT {select} FROM _old_{table}")
        )
        conn.execute(sa.text(f"DROP TABLE _old_{table}"))


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.execute(
            sa.text("PRAGMA defer_foreign_keys = ON")
        )  # parents and children move together
    else:
        _drop_foreign_keys()
    for parent in ("securitization", "securitization_pricing"):
        _renumber(conn, parent)
    _follow_jobs(conn, _renumber(conn, "stress_run"))
    _retype(conn, to_integer=True)
    if conn.dialect.name == "postgresql":  # SQLite's rebuilt table has it already
        op.add_column("securitization_pricing", sa.Column("job_id", sa.Integer(), nullable=True))
        op.create_unique_constraint(
            op.f("uq_securitization_pricing_job_id"), "securitization_pricing", ["job_id"]
        )


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        conn.execute(sa.text("PRAGMA defer_foreign_keys = ON"))
    else:
        op.drop_constraint(
            op.f("uq_securitization_pricing_job_id"), "securitization_pricing", type_="unique"
        )
        op.drop_column("securitization_pricing", "job_id")
        _drop_foreign_keys()
    _retype(conn, to_integer=False)
