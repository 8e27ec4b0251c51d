"""Products tables (filled in by the PRODUCTS engineer).

Revision ID: 0004_products
Revises: 0003_credit
Create Date: 2026-11-25

Create this area's tables from models/products.py with explicit op.create_table /
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

revision: str = "0004_products"
down_revision: str | Sequence[str] | None = "0003_credit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "securitization",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("pool_balance", sa.Float(), nullable=False),
        sa.Column("note_balance", sa.Float(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
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
        sa.Column("securitization_id", sa.String(length=32), nullable=False),
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
    op.create_table(
        "securitization_pricing",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("securitization_id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("correlation", sa.Float(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["securitization_id"],
            ["securitization.id"],
            name=op.f("fk_securitization_pricing_securitization_id_securitization"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitization_pricing")),
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


def downgrade() -> None:
    op.drop_index(op.f("ix_securitization_pricing_tenant"), table_name="securitization_pricing")
    op.drop_index(
        op.f("ix_securitization_pricing_securitization_id"), table_name="securitization_pricing"
    )
    op.drop_table("securitization_pricing")
    op.drop_index(
        op.f("ix_securitization_tranche_securitization_id"), table_name="securitization_tranche"
    )
    op.drop_table("securitization_tranche")
    op.drop_index(op.f("ix_securitization_tenant"), table_name="securitization")
    op.drop_table("securitization")
