"""Loans record their combined LTV, Basel effective maturity and any policy exception.

Revision ID: 0009_loan_policy
Revises: 0008_rights_term_and_revenue
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_loan_policy"
down_revision: str | Sequence[str] | None = "0008_rights_term_and_revenue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loan") as batch:
        batch.add_column(sa.Column("combined_ltv", sa.Float(), nullable=True))
        batch.add_column(sa.Column("effective_maturity_years", sa.Float(), nullable=True))
        batch.add_column(sa.Column("policy_exception", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("loan") as batch:
        batch.drop_column("policy_exception")
        batch.drop_column("effective_maturity_years")
        batch.drop_column("combined_ltv")
