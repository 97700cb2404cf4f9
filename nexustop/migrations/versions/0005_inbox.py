"""support inbox: staff, handoff, notes, canned responses, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "staff",
        sa.Column("id", _ID, nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_email")),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_id", _ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"], name=op.f("fk_staff_sessions_staff_id_staff")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_staff_id"), "staff_sessions", ["staff_id"], unique=False)
    op.create_table(
        "canned_responses",
        sa.Column("id", _ID, nullable=False),
        sa.Column("short_code", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_responses")),
        sa.UniqueConstraint("short_code", "language", name="uq_canned_code_language"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_log_hash")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_audit_log_prev_hash")),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("assignee_id", _ID, nullable=True))
        batch.add_column(sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("handoff_reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("first_human_reply_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(op.f("ix_conversations_assignee_id"), ["assignee_id"], unique=False)
        batch.create_foreign_key(op.f("fk_conversations_assignee_id_staff"), "staff", ["assignee_id"], ["id"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("staff_id", _ID, nullable=True))
        batch.create_foreign_key(op.f("fk_messages_staff_id_staff"), "staff", ["staff_id"], ["id"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint(op.f("fk_messages_staff_id_staff"), type_="foreignkey")
        batch.drop_column("staff_id")
        batch.drop_column("private")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("fk_conversations_assignee_id_staff"), type_="foreignkey")
        batch.drop_index(op.f("ix_conversations_assignee_id"))
        batch.drop_column("first_human_reply_at")
        batch.drop_column("handoff_reason")
        batch.drop_column("waiting_since")
        batch.drop_column("assignee_id")
    op.drop_table("audit_log")
    op.drop_table("canned_responses")
    op.drop_index(op.f("ix_staff_sessions_staff_id"), table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff")
