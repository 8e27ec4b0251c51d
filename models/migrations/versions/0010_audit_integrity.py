"""Audit integrity: keyed hashes (scheme column), a signed checkpoint of the chain's head in a
separate table, and database triggers that make both tables append-only.

Existing entries keep their unkeyed SHA-256 hashes (scheme ``sha256``) and stay verifiable;
new entries are HMAC-SHA256 with the audit key.

Revision ID: 0010_audit_integrity
Revises: 0009_loan_policy
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.audit import drop_append_only_triggers, install_append_only_triggers

revision: str = "0010_audit_integrity"
down_revision: str | Sequence[str] | None = "0009_loan_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_entry") as batch:
        batch.add_column(
            sa.Column("scheme", sa.String(length=16), nullable=False, server_default="sha256")
        )
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )
    op.create_index(op.f("ix_audit_checkpoint_seq"), "audit_checkpoint", ["seq"], unique=False)
    install_append_only_triggers(op.get_bind())


def downgrade() -> None:
    drop_append_only_triggers(op.get_bind())
    op.drop_index(op.f("ix_audit_checkpoint_seq"), table_name="audit_checkpoint")
    op.drop_table("audit_checkpoint")
    with op.batch_alter_table("audit_entry") as batch:
        batch.drop_column("scheme")
