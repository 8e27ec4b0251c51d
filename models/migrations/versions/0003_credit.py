"""Credit tables: loans, pledges of data assets to loans, loan events.

Revision ID: 0003_credit
Revises: 0002_valuation
Create Date: 2026-11-25

Plain SQLAlchemy types matching models/credit.py; runs on SQLite and PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_credit"
down_revision: str | Sequence[str] | None = "0002_valuation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "loan",
        sa.Column("borrower", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("tenor_months", sa.Integer(), nullable=False),
        sa.Column("amortization", sa.String(length=10), nullable=False),
        sa.Column("frequency_months", sa.Integer(), nullable=False),
        sa.Column("day_count", sa.String(length=10), nullable=False),
        sa.Column("calendar", sa.String(length=40), nullable=True),
        sa.Column("annual_rate", sa.Float(), nullable=False),
        sa.Column("rate_funding", sa.Float(), nullable=False),
        sa.Column("rate_expected_loss", sa.Float(), nullable=False),
        sa.Column("rate_capital", sa.Float(), nullable=False),
        sa.Column("rate_costs", sa.Float(), nullable=False),
        sa.Column("pd", sa.Float(), nullable=False),
        sa.Column("pd_source", sa.String(length=20), nullable=False),
        sa.Column("rating", sa.String(length=10), nullable=True),
        sa.Column("lgd", sa.Float(), nullable=False),
        sa.Column("lgd_economic", sa.Float(), nullable=False),
        sa.Column("lgd_regulatory", sa.Float(), nullable=False),
        sa.Column("ead", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("expected_loss", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("capital", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("rwa", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("capital_k", sa.Float(), nullable=False),
        sa.Column("collateral_value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("lending_value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("haircut", sa.Float(), nullable=False),
        sa.Column("ltv", sa.Float(), nullable=False),
        sa.Column("asset_correlation", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("paths", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant", sa.String(length=80), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan")),
        sa.UniqueConstraint(
            "tenant", "idempotency_key", name=op.f("uq_loan_tenant_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_loan_tenant"), "loan", ["tenant"], unique=False)

    op.create_table(
        "loan_pledge",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("asset_value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("lending_value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("haircut", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["data_asset.id"], name=op.f("fk_loan_pledge_asset_id_data_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_pledge")),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loan.id"], name=op.f("fk_loan_pledge_loan_id_loan"), ondelete="CASCADE"
        ),
    )
    op.create_index(op.f("ix_loan_pledge_asset_id"), "loan_pledge", ["asset_id"], unique=False)
    op.create_index(op.f("ix_loan_pledge_loan_id"), "loan_pledge", ["loan_id"], unique=False)

    op.create_table(
        "loan_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("loan_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("ltv", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("collateral_value", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("outstanding", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("cure_amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loan.id"], name=op.f("fk_loan_event_loan_id_loan"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_event")),
    )
    op.create_index(op.f("ix_loan_event_loan_id"), "loan_event", ["loan_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_loan_event_loan_id"), table_name="loan_event")
    op.drop_table("loan_event")
    op.drop_index(op.f("ix_loan_pledge_loan_id"), table_name="loan_pledge")
    op.drop_index(op.f("ix_loan_pledge_asset_id"), table_name="loan_pledge")
    op.drop_table("loan_pledge")
    op.drop_index(op.f("ix_loan_tenant"), table_name="loan")
    op.drop_table("loan")
