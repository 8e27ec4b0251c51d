"""Registry: data assets, signals, cost records, comparables, API keys, audit log.

Revision ID: 0001_registry
Revises:
Create Date: 2026-11-25

Types are spelled with plain SQLAlchemy types (String, DateTime(timezone=True),
Numeric) so this file does not depend on SQLModel internals; they match what the
SQLModel tables in models/registry.py, models/security.py and models/audit.py map to.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_registry"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_key",
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_index(op.f("ix_api_key_tenant"), "api_key", ["tenant"], unique=False)

    op.create_table(
        "audit_entry",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=120), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=True),
        sa.Column("action", sa.String(length=80), nullable=False),
        sa.Column("entity", sa.String(length=80), nullable=False),
        sa.Column("entity_id", sa.String(length=80), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_entry")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_entry_hash")),
    )
    op.create_index(op.f("ix_audit_entry_tenant"), "audit_entry", ["tenant"], unique=False)

    op.create_table(
        "certificate_counter",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_certificate_counter")),
    )
    op.create_table(
        "comparable",
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("price", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("traded_on", sa.Date(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("rights_scope", sa.String(length=80), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comparable")),
    )
    op.create_index(op.f("ix_comparable_category"), "comparable", ["category"], unique=False)
    op.create_index(op.f("ix_comparable_tenant"), "comparable", ["tenant"], unique=False)

    op.create_table(
        "data_asset",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("holding", sa.Boolean(), nullable=False),
        sa.Column("processing_use", sa.Boolean(), nullable=False),
        sa.Column("product_operation", sa.Boolean(), nullable=False),
        sa.Column("exclusive", sa.Boolean(), nullable=False),
        sa.Column("territory", sa.String(length=80), nullable=False),
        sa.Column("cross_border", sa.Boolean(), nullable=False),
        sa.Column("accuracy", sa.Float(), nullable=False),
        sa.Column("consistency", sa.Float(), nullable=False),
        sa.Column("completeness", sa.Float(), nullable=False),
        sa.Column("conformity", sa.Float(), nullable=False),
        sa.Column("timeliness", sa.Float(), nullable=False),
        sa.Column("accessibility", sa.Float(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("refresh_days", sa.Integer(), nullable=False),
        sa.Column("fingerprint_sha256", sa.String(length=64), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_no", sa.String(length=16), nullable=False),
        sa.Column("owner_tenant", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_asset")),
        sa.UniqueConstraint("certificate_no", name=op.f("uq_data_asset_certificate_no")),
    )
    op.create_index(op.f("ix_data_asset_category"), "data_asset", ["category"], unique=False)
    op.create_index(
        op.f("ix_data_asset_fingerprint_sha256"), "data_asset", ["fingerprint_sha256"], unique=False
    )
    op.create_index(
        op.f("ix_data_asset_owner_tenant"), "data_asset", ["owner_tenant"], unique=False
    )

    op.create_table(
        "asset_signal",
        sa.Column("metric", sa.String(length=60), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["data_asset.id"],
            name=op.f("fk_asset_signal_asset_id_data_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_asset_signal")),
        sa.UniqueConstraint(
            "asset_id", "metric", "month", name=op.f("uq_asset_signal_asset_id_metric_month")
        ),
    )
    op.create_index(op.f("ix_asset_signal_asset_id"), "asset_signal", ["asset_id"], unique=False)

    op.create_table(
        "cost_record",
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("incurred_on", sa.Date(), nullable=False),
        sa.Column("recurring_months", sa.Integer(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["data_asset.id"],
            name=op.f("fk_cost_record_asset_id_data_asset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_record")),
    )
    op.create_index(op.f("ix_cost_record_asset_id"), "cost_record", ["asset_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_cost_record_asset_id"), table_name="cost_record")

    op.drop_table("cost_record")
    op.drop_index(op.f("ix_asset_signal_asset_id"), table_name="asset_signal")

    op.drop_table("asset_signal")
    op.drop_index(op.f("ix_data_asset_owner_tenant"), table_name="data_asset")
    op.drop_index(op.f("ix_data_asset_fingerprint_sha256"), table_name="data_asset")
    op.drop_index(op.f("ix_data_asset_category"), table_name="data_asset")

    op.drop_table("data_asset")
    op.drop_index(op.f("ix_comparable_tenant"), table_name="comparable")
    op.drop_index(op.f("ix_comparable_category"), table_name="comparable")

    op.drop_table("comparable")
    op.drop_table("certificate_counter")
    op.drop_index(op.f("ix_audit_entry_tenant"), table_name="audit_entry")

    op.drop_table("audit_entry")
    op.drop_index(op.f("ix_api_key_tenant"), table_name="api_key")

    op.drop_table("api_key")
