"""Quotes record whether they are the exchange's public quote or a lender's own figure.

Existing quotes stay public (they were all shown as the asset's quote).

Revision ID: 0011_quote_publication
Revises: 0010_audit_integrity
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_quote_publication"
down_revision: str | Sequence[str] | None = "0010_audit_integrity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("asset_quote") as batch:
        batch.add_column(
            sa.Column("public", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch.create_index(batch.f("ix_asset_quote_public"), ["public"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("asset_quote") as batch:
        batch.drop_index(batch.f("ix_asset_quote_public"))
        batch.drop_column("public")
