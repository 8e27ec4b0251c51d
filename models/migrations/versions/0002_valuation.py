"""Valuation tables: immutable valuations and published quotes.

Revision ID: 0002_valuation
Revises: 0001_registry
Create Date: 2026-11-25

Mirrors models/valuation.py with plain SQLAlchemy types so it runs on SQLite and
PostgreSQL; constraint names follow the metadata's naming convention.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_valuation"
down_revision: str | Sequence[str] | None = "0001_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(precision=20, scale=4), nullable=False)


def upgrade() -> None:
    op.create_table(
        "valuation",
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("model_version", sa.String(length=60), nullable=False),
        sa.Column("inputs_sha256", sa.String(length=64), nullable=False),
        _money("value"),
        _money("mean"),
        _money("std"),
        _money("p05"),
        _money("p50"),
        _money("p95"),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["data_asset.id"],
            name=op.f("fk_valuation_asset_id_data_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_valuation")),
    )
    op.create_index(op.f("ix_valuation_asset_id"), "valuation", ["asset_id"], unique=False)
    op.create_index(
        op.f("ix_valuation_inputs_sha256"), "valuation", ["inputs_sha256"], unique=False
    )
    op.create_index(op.f("ix_valuation_tenant"), "valuation", ["tenant"], unique=False)

    op.create_table(
        "asset_quote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("valuation_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        _money("mid"),
        _money("bid"),
        _money("ask"),
        _money("lending_value"),
        sa.Column("haircut", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["data_asset.id"],
            name=op.f("fk_asset_quote_asset_id_data_asset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["valuation_id"],
            ["valuation.id"],
            name=op.f("fk_asset_quote_valuation_id_valuation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_quote")),
    )
    op.create_index(op.f("ix_asset_quote_asset_id"), "asset_quote", ["asset_id"], unique=False)
    op.create_index(op.f("ix_asset_quote_category"), "asset_quote", ["category"], unique=False)
    op.create_index(
        op.f("ix_asset_quote_valuation_id"), "asset_quote", ["valuation_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_asset_quote_valuation_id"), table_name="asset_quote")
    op.drop_index(op.f("ix_asset_quote_category"), table_name="asset_quote")
    op.drop_index(op.f("ix_asset_quote_asset_id"), table_name="asset_quote")
    op.drop_table("asset_quote")
    op.drop_index(op.f("ix_valuation_tenant"), table_name="valuation")
    op.drop_index(op.f("ix_valuation_inputs_sha256"), table_name="valuation")
    op.drop_index(op.f("ix_valuation_asset_id"), table_name="valuation")
    op.drop_table("valuation")
