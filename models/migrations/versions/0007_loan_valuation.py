"""Loans and pledges record the stored valuation they rely on (valuation_id).

Revision ID: 0007_loan_valuation
Revises: 0006_jobs
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_loan_valuation"
down_revision: str | Sequence[str] | None = "0006_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("loan", "loan_pledge"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("valuation_id", sa.Integer(), nullable=True))
            batch.create_index(f"ix_{table}_valuation_id", ["valuation_id"])
            batch.create_foreign_key(
                f"fk_{table}_valuation_id", "valuation", ["valuation_id"], ["id"]
            )


def downgrade() -> None:
    for table in ("loan_pledge", "loan"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_valuation_id", type_="foreignkey")
            batch.drop_index(f"ix_{table}_valuation_id")
            batch.drop_column("valuation_id")
