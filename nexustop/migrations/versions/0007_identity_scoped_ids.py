"""identities keep the channel's business-scoped user ids (WhatsApp BSUID and parent BSUID)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 03:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scoped_user_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("parent_scoped_user_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_identities_scoped_user_id"), ["scoped_user_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_scoped_user_id"))
        batch_op.drop_column("parent_scoped_user_id")
        batch_op.drop_column("scoped_user_id")
