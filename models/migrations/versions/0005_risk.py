"""Risk tables (filled in by the RISK engineer).

Revision ID: 0005_risk
Revises: 0004_products
Create Date: 2026-11-25

Create this area's tables from models/risk.py with explicit op.create_table /
op.create_index calls, naming constraints like the metadata's naming convention
(pk_<table>, uq_<table>_<cols>, fk_<table>_<col>_<referred>, ix_<table>_<col>), and
use plain SQLAlchemy types (sa.String(length=...), sa.DateTime(timezone=True),
sa.Numeric(20, 4), sa.Text) so it runs on SQLite and PostgreSQL.
tests/models/test_models_schema.py fails while the migrated schema and the
SQLModel metadata differ.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_risk"
down_revision: str | Sequence[str] | None = "0004_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "stress_scenario",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stress_scenario")),
        sa.UniqueConstraint("tenant", "name", name=op.f("uq_stress_scenario_tenant_name")),
    )
    op.create_index(op.f("ix_stress_scenario_name"), "stress_scenario", ["name"], unique=False)
    op.create_index(op.f("ix_stress_scenario_tenant"), "stress_scenario", ["tenant"], unique=False)
    op.create_table(
        "stress_run",
        sa.Column("scenario_name", sa.String(length=80), nullable=False),
        sa.Column("scenario", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
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
        sa.Column("run_id", sa.String(length=32), nullable=False),
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


def downgrade() -> None:
    op.drop_index(op.f("ix_stress_result_run_id"), table_name="stress_result")
    op.drop_table("stress_result")
    op.drop_index(op.f("ix_stress_run_tenant"), table_name="stress_run")
    op.drop_table("stress_run")
    op.drop_index(op.f("ix_stress_scenario_tenant"), table_name="stress_scenario")
    op.drop_index(op.f("ix_stress_scenario_name"), table_name="stress_scenario")
    op.drop_table("stress_scenario")
