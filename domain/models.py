"""The persistent schema: typed SQLAlchemy 2 models for users, conversations, ledger and orders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: A primary key that autoincrements on both PostgreSQL (BIGINT) and SQLite (INTEGER).
IdType = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    """Declarative base with constraint names Alembic can rely on."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class User(Base):
    """A customer, whatever channels they reach us on."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    country: Mapped[str | None] = mapped_column(String(2))
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Identity(Base):
    """One way a user reaches us: a channel and that channel's id for them."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id", name="uq_identity_channel_user"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    channel_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """A chat between a user and us on one channel, with the engine's state and slots."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversation_channel_chat"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(32), default="idle")
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)
    mode: Mapped[str] = mapped_column(String(16), default="bot")
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Message(Base):
    """One line of a conversation's transcript, inbound or outbound."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    direction: Mapped[str] = mapped_column(String(3))
    sender: Mapped[str] = mapped_column(String(8))
    body: Mapped[str] = mapped_column(Text)
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboundUpdate(Base):
    """A raw channel update, stored once under the channel's own id before it is acknowledged."""

    __tablename__ = "inbound_updates"
    __table_args__ = (
        UniqueConstraint("channel", "update_key", name="uq_inbound_channel_key"),
        Index("ix_inbound_channel_chat_sequence", "channel", "chat_key", "sequence"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    update_key: Mapped[str] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    """When a retry may claim it; a claim pushes this forward as a lease."""
    chat_key: Mapped[str | None] = mapped_column(String(64))
    """The chat the update belongs to, for channels that process each chat's updates strictly in order."""
    sequence: Mapped[int | None] = mapped_column(BigInteger)
    """The channel's own order of updates (Telegram ``update_id``); a chat's updates are processed by it."""


class ButtonToken(Base):
    """A short opaque token standing for one button's payload, bound to a chat and who may press it."""

    __tablename__ = "button_tokens"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    token: Mapped[str] = mapped_column(String(24), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    allowed_user_id: Mapped[str | None] = mapped_column(String(64))
    """The channel user id that may press it; None when anyone in the chat may."""
    payload: Mapped[str] = mapped_column(String(160))
    """The engine's button id, or a channel action such as a page turn."""
    keyboard: Mapped[str] = mapped_column(String(24), index=True)
    """The keyboard (message) it belongs to: pressing one choice uses up all of its choices."""
    reusable: Mapped[bool] = mapped_column(Boolean, default=False)
    """True for navigation (page turns), which may be pressed any number of times."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column()


class Account(Base):
    """A ledger account (TigerBeetle style): posted and pending debit and credit totals."""

    __tablename__ = "accounts"
    __table_args__ = (
        CheckConstraint(
            "NOT debits_must_not_exceed_credits OR credits_posted - debits_posted - debits_pending >= 0",
            name="no_overdraft",
        ),
        CheckConstraint(
            "debits_pending >= 0 AND debits_posted >= 0 AND credits_pending >= 0 AND credits_posted >= 0",
            name="totals_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    """A stable name, e.g. ``wallet:42:NGN`` or ``system:in_flight:NGN``."""
    currency: Mapped[str] = mapped_column(String(3))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Transfer(Base):
    """A ledger transfer under a client-chosen id: single-phase posted, or pending → posted | voided."""

    __tablename__ = "transfers"
    __table_args__ = (CheckConstraint("amount > 0", name="positive_amount"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    debit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    credit_account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    code: Mapped[str] = mapped_column(String(32))
    """Why the money moved, e.g. ``purchase``, ``promo``, ``refund``."""
    two_phase: Mapped[bool] = mapped_column(Boolean, default=False)
    """Created pending (to be posted or voided later) rather than posted at once."""
    state: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()


class Quote(Base):
    """A priced offer shown to a user; its opaque id is the only thing a Confirm button carries."""

    __tablename__ = "quotes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2))
    network: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    bundle_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class Order(Base):
    """A purchase of airtime or data: placed once per quote, then fulfilled by a provider."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_state_next_check", "state", "next_check_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    """Our idempotency key at the provider."""
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(8))
    country: Mapped[str] = mapped_column(String(2))
    network: Mapped[str] = mapped_column(String(32))
    service_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    bundle_code: Mapped[str | None] = mapped_column(String(64))
    transfer_id: Mapped[str] = mapped_column(ForeignKey("transfers.id"))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column()
    provider_reference: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderEvent(Base):
    """One step in an order's status history."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Something to tell a user (a receipt, a refund), written in the same transaction as its cause."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("kind", "order_id", name="uq_notification_kind_order"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(24))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)


class OutboundMessage(Base):
    """One message we send on a channel: queued, handed over, then delivery states from status webhooks."""

    __tablename__ = "outbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "channel_message_id", name="uq_outbound_channel_message"),
        Index("ix_outbound_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_outbound_channel_chat", "channel", "chat_id"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    """``reply`` (answer to an inbound message) or ``receipt`` (may go as a template)."""
    payload: Mapped[dict[str, Any]] = mapped_column()
    """The rendered message, in the channel's own terms."""
    state: Mapped[str] = mapped_column(String(12), default="queued")
    """queued → accepted → sent → delivered → read; or failed."""
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    as_template: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column()
    error_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
