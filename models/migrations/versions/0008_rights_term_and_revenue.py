"""Rights carry their remaining term; comparables may carry the traded product's annual revenue.

Revision ID: 0008_rights_term_and_revenue
Revises: 0007_loan_valuation
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_rights_term_and_revenue"
down_revision: str | Sequence[str] | None = "0007_loan_valuation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("data_asset") as batch:
        batch.add_column(sa.Column("term_months", sa.Integer(), nullable=True))
    with op.batch_alter_table("comparable") as batch:
        batch.add_column(sa.Column("annual_revenue", sa.Numeric(20, 4), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comparable") as batch:
        batch.drop_column("annual_revenue")
    with op.batch_alter_table("data_asset") as batch:
        batch.drop_column("term_months")
