"""Pledge consents: the owner's consent that another tenant may pledge its asset.

Revision ID: 0012_pledge_consent
Revises: 0011_quote_publication
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_pledge_consent"
down_revision: str | Sequence[str] | None = "0011_quote_publication"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pledge_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.Integer(), nullable=False),
        sa.Column("owner_tenant", sa.String(length=80), nullable=False),
        sa.Column("lender_tenant", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=120), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["data_asset.id"], name=op.f("fk_pledge_consent_asset_id_data_asset")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pledge_consent")),
    )
    op.create_index(
        op.f("ix_pledge_consent_asset_id"), "pledge_consent", ["asset_id"], unique=False
    )
    op.create_index(
        op.f("ix_pledge_consent_lender_tenant"), "pledge_consent", ["lender_tenant"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_pledge_consent_lender_tenant"), table_name="pledge_consent")
    op.drop_index(op.f("ix_pledge_consent_asset_id"), table_name="pledge_consent")
    op.drop_table("pledge_consent")
