"""gift escrow, claims and giveaways

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "gifts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("confirm_token", sa.String(length=32), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_user_id", _ID, nullable=False),
        sa.Column("sender_name", sa.String(length=128), nullable=True),
        sa.Column("origin_conversation_id", _ID, nullable=True),
        sa.Column("sender_conversation_id", _ID, nullable=True),
        sa.Column("recipient_channel_user_id", sa.String(length=64), nullable=True),
        sa.Column("recipient_name", sa.String(length=128), nullable=True),
        sa.Column("recipient_phone", sa.String(length=20), nullable=True),
        sa.Column("spec", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("data_mb", sa.Integer(), nullable=True),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["origin_conversation_id"],
            ["conversations.id"],
            name=op.f("fk_gifts_origin_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_conversation_id"],
            ["conversations.id"],
            name=op.f("fk_gifts_sender_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(["sender_user_id"], ["users.id"], name=op.f("fk_gifts_sender_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gifts")),
        sa.UniqueConstraint("claim_token", name=op.f("uq_gifts_claim_token")),
        sa.UniqueConstraint("confirm_token", name=op.f("uq_gifts_confirm_token")),
    )
    op.create_index("ix_gifts_state_expires", "gifts", ["state", "expires_at"], unique=False)
    op.create_index(op.f("ix_gifts_sender_user_id"), "gifts", ["sender_user_id"], unique=False)
    op.create_table(
        "gift_claims",
        sa.Column("id", _ID, nullable=False),
        sa.Column("gift_id", _ID, nullable=False),
        sa.Column("share", sa.Integer(), nullable=False),
        sa.Column("user_id", _ID, nullable=False),
        sa.Column("claimer_name", sa.String(length=128), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("order_id", _ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["gift_id"], ["gifts.id"], name=op.f("fk_gift_claims_gift_id_gifts")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_gift_claims_order_id_orders")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_gift_claims_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gift_claims")),
        sa.UniqueConstraint("gift_id", "share", name="uq_gift_claim_share"),
        sa.UniqueConstraint("gift_id", "user_id", name="uq_gift_claim_user"),
        sa.UniqueConstraint("order_id", name=op.f("uq_gift_claims_order_id")),
    )
    op.create_index(op.f("ix_gift_claims_user_id"), "gift_claims", ["user_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_gift_claims_user_id"), table_name="gift_claims")
    op.drop_table("gift_claims")
    op.drop_index(op.f("ix_gifts_sender_user_id"), table_name="gifts")
    op.drop_index("ix_gifts_state_expires", table_name="gifts")
    op.drop_table("gifts")
