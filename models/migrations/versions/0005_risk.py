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

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0005_risk"
down_revision: str | Sequence[str] | None = "0004_products"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
