"""quotes without a conversation: a client app's quote belongs to a user, not to a chat

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column(
            "conversation_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        )


def downgrade() -> None:
    """Revert this revision (quotes made without a conversation are dropped first)."""
    op.execute("DELETE FROM quotes WHERE conversation_id IS NULL AND id NOT IN (SELECT quote_id FROM orders)")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.alter_column(
            "conversation_id",
            existing_type=sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        )
