"""money out: PINs, KYC profiles, transfers and payouts, velocity counters, usernames

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 05:10:17.728885
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "velocity_counters",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_velocity_counters")),
    )
    with op.batch_alter_table("velocity_counters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_velocity_counters_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "credentials",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pin_hash", sa.String(length=256), nullable=True),
        sa.Column("pin_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_credentials_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_credentials")),
    )
    op.create_table(
        "kyc_profiles",
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("bvn_hash", sa.String(length=64), nullable=True),
        sa.Column("bvn_last4", sa.String(length=4), nullable=True),
        sa.Column("nin_hash", sa.String(length=64), nullable=True),
        sa.Column("nin_last4", sa.String(length=4), nullable=True),
        sa.Column("verified_name", sa.String(length=128), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_kyc_profiles_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_kyc_profiles")),
    )
    with op.batch_alter_table("kyc_profiles", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_kyc_profiles_bvn_hash"), ["bvn_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_kyc_profiles_nin_hash"), ["nin_hash"], unique=False)

    op.create_table(
        "money_transfers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("reference", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("sender_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "sender_conversation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("recipient_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("recipient_phone", sa.String(length=20), nullable=True),
        sa.Column("recipient_name", sa.String(length=128), nullable=True),
        sa.Column("bank_code", sa.String(length=16), nullable=True),
        sa.Column("account_number", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("gateway", sa.String(length=16), nullable=True),
        sa.Column("gateway_reference", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.String(length=64), nullable=True),
        sa.Column("reviewed_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_money_transfers_positive_amount")),
        sa.ForeignKeyConstraint(
            ["recipient_user_id"], ["users.id"], name=op.f("fk_money_transfers_recipient_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by"], ["staff.id"], name=op.f("fk_money_transfers_reviewed_by_staff")
        ),
        sa.ForeignKeyConstraint(
            ["sender_conversation_id"],
            ["conversations.id"],
            name=op.f("fk_money_transfers_sender_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["sender_user_id"], ["users.id"], name=op.f("fk_money_transfers_sender_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_transfers")),
        sa.UniqueConstraint("claim_token", name=op.f("uq_money_transfers_claim_token")),
        sa.UniqueConstraint("reference", name=op.f("uq_money_transfers_reference")),
    )
    with op.batch_alter_table("money_transfers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_money_transfers_recipient_phone"), ["recipient_phone"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_money_transfers_recipient_user_id"), ["recipient_user_id"], unique=False
        )
        batch_op.create_index(
            "ix_money_transfers_sender_created", ["sender_user_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_money_transfers_state_next_check", ["state", "next_check_at"], unique=False)

    op.create_table(
        "money_transfer_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("money_transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["money_transfer_id"],
            ["money_transfers.id"],
            name=op.f("fk_money_transfer_events_money_transfer_id_money_transfers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_transfer_events")),
    )
    with op.batch_alter_table("money_transfer_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_money_transfer_events_money_transfer_id"), ["money_transfer_id"], unique=False
        )

    with op.batch_alter_table("gifts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ttl_hours", sa.Integer(), nullable=True))

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_identities_username"), ["username"], unique=False)

    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "money_transfer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_index(
            batch_op.f("ix_notifications_money_transfer_id"), ["money_transfer_id"], unique=False
        )
        batch_op.create_unique_constraint("uq_notification_kind_transfer", ["kind", "money_transfer_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_money_transfer_id_money_transfers"),
            "money_transfers",
            ["money_transfer_id"],
            ["id"],
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_money_transfer_id_money_transfers"), type_="foreignkey"
        )
        batch_op.drop_constraint("uq_notification_kind_transfer", type_="unique")
        batch_op.drop_index(batch_op.f("ix_notifications_money_transfer_id"))
        batch_op.drop_column("money_transfer_id")

    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_username"))
        batch_op.drop_column("username")

    with op.batch_alter_table("gifts", schema=None) as batch_op:
        batch_op.drop_column("ttl_hours")

    with op.batch_alter_table("money_transfer_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_money_transfer_events_money_transfer_id"))

    op.drop_table("money_transfer_events")
    with op.batch_alter_table("money_transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_money_transfers_state_next_check")
        batch_op.drop_index("ix_money_transfers_sender_created")
        batch_op.drop_index(batch_op.f("ix_money_transfers_recipient_user_id"))
        batch_op.drop_index(batch_op.f("ix_money_transfers_recipient_phone"))

    op.drop_table("money_transfers")
    with op.batch_alter_table("kyc_profiles", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_kyc_profiles_nin_hash"))
        batch_op.drop_index(batch_op.f("ix_kyc_profiles_bvn_hash"))

    op.drop_table("kyc_profiles")
    op.drop_table("credentials")
    with op.batch_alter_table("velocity_counters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_velocity_counters_expires_at"))

    op.drop_table("velocity_counters")
