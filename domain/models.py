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
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

#: A primary key that autoincrements on both PostgreSQL (BIGINT) and SQLite (INTEGER).
IdType = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment stored in UTC and read back timezone-aware on every database.

    PostgreSQL's ``timestamptz`` comes back aware; SQLite keeps no zone and hands datetimes back
    naive. Every datetime column is of this type, so the domain never sees a naive one.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Aware moments are stored in UTC; a naive one is taken as UTC already."""
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


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
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JSON}


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
    scoped_user_id: Mapped[str | None] = mapped_column(String(64), index=True)
    """The channel's business-scoped id for the user when it has one (WhatsApp's BSUID)."""
    parent_scoped_user_id: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    """The channel's handle for the user, lower-cased, without the ``@`` (Telegram usernames)."""
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
    """Who answers: ``bot``, ``waiting`` (for a person), ``with_agent`` (bot silent) or ``resolved``."""
    misunderstood: Mapped[int] = mapped_column(Integer, default=0)
    last_inbound_at: Mapped[datetime | None] = mapped_column()
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    """The staff member who took the conversation over (while ``with_agent``)."""
    waiting_since: Mapped[datetime | None] = mapped_column()
    """When the latest handoff to a person was asked for (the SLA clock starts here)."""
    handoff_reason: Mapped[str | None] = mapped_column(String(32))
    """Why the bot handed off: ``asked``, ``misunderstood`` or ``needs_review``."""
    first_human_reply_at: Mapped[datetime | None] = mapped_column()
    """When a person first answered since ``waiting_since`` (the SLA clock stops here)."""
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
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """A staff note: shown in the inbox, never sent to the user."""
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    """The staff member who wrote an ``agent`` line or a note, or whose action a ``system`` line records."""


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
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"), index=True)
    """The chat the quote was shown in; None for one a client app asked for."""
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


class Gift(Base):
    """Airtime or data one user gives another (or, as a giveaway, to the first few who claim it).

    Confirming it escrows the money: one pending ledger transfer per share, from the sender's
    wallet to ``system:gifts``. A claim posts its share and places a top-up order paid from the
    escrow; expiry or a decline voids the shares still pending (the refund).
    """

    __tablename__ = "gifts"
    __table_args__ = (Index("ix_gifts_state_expires", "state", "expires_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    confirm_token: Mapped[str] = mapped_column(String(32), unique=True)
    """Single-use deep-link token that opens the sender's private confirmation."""
    claim_token: Mapped[str] = mapped_column(String(32), unique=True)
    """Deep-link token recipients claim with (a giveaway's claimers share it, once each)."""
    channel: Mapped[str] = mapped_column(String(16))
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    sender_name: Mapped[str | None] = mapped_column(String(128))
    origin_conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    """Where the gift was asked for (a group member's conversation): announcements go there."""
    sender_conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    """The sender's private conversation, where they confirmed and are told what happens."""
    recipient_channel_user_id: Mapped[str | None] = mapped_column(String(64))
    """Only this channel user may claim; None for giveaways and shared links."""
    recipient_name: Mapped[str | None] = mapped_column(String(128))
    recipient_phone: Mapped[str | None] = mapped_column(String(20))
    """The number the sender named (1:1 gifts), offered to the claimer."""
    spec: Mapped[str] = mapped_column(String(64))
    """What the sender asked for, as typed (``500``, ``1GB``, ``5x200``), priced at confirmation."""
    kind: Mapped[str | None] = mapped_column(String(8))
    country: Mapped[str | None] = mapped_column(String(2))
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    """Escrowed per share, minor units."""
    data_mb: Mapped[int | None] = mapped_column(Integer)
    shares: Mapped[int] = mapped_column(Integer, default=1)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12))
    """draft → active → claimed | expired | declined; or cancelled before confirmation."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    ttl_hours: Mapped[int | None] = mapped_column(Integer)
    """How long the gift stays claimable once confirmed, fixed when it is asked for (the sender is told)."""


class GiftClaim(Base):
    """One share of a gift claimed by one user, and the order that tops up their number."""

    __tablename__ = "gift_claims"
    __table_args__ = (
        UniqueConstraint("gift_id", "user_id", name="uq_gift_claim_user"),
        UniqueConstraint("gift_id", "share", name="uq_gift_claim_share"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    gift_id: Mapped[int] = mapped_column(ForeignKey("gifts.id"))
    share: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    claimer_name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Notification(Base):
    """Something to tell a user (a receipt, a refund), written in the same transaction as its cause."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("kind", "order_id", name="uq_notification_kind_order"),
        UniqueConstraint("kind", "money_transfer_id", name="uq_notification_kind_transfer"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(24))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    """Set for wallet-funding notifications (``wallet_funded``, ``funding_failed``)."""
    money_transfer_id: Mapped[int | None] = mapped_column(ForeignKey("money_transfers.id"), index=True)
    """Set for notifications about a transfer or payout (``transfer_received``, ``payout_failed``…)."""
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


class Payment(Base):
    """A wallet top-up asked of a payment gateway; ``reference`` is its key there and in the ledger."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_state_next_check", "state", "next_check_at"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    """Our reference at the gateway (a UUID v4) and the id of the ledger transfer that credits it."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    gateway: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    amount: Mapped[int] = mapped_column(BigInteger)
    """Expected amount, minor units of ``currency``."""
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(12))
    """created → pending → credited | failed | rejected | expired."""
    gateway_reference: Mapped[str | None] = mapped_column(String(128))
    payment_url: Mapped[str | None] = mapped_column(String(500))
    detail: Mapped[str] = mapped_column(Text, default="")
    """Why it failed or was rejected, or what the last status check said."""
    checks: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    credited_at: Mapped[datetime | None] = mapped_column()


class PaymentEvent(Base):
    """A gateway webhook, stored once under the gateway's event key before anything acts on it."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("gateway", "event_key", name="uq_payment_event_gateway_key"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    gateway: Mapped[str] = mapped_column(String(16))
    event_key: Mapped[str] = mapped_column(String(160))
    reference: Mapped[str | None] = mapped_column(String(64), index=True)
    authentic: Mapped[bool | None] = mapped_column(Boolean)
    """True: signature valid; False: forged; None: unsigned (a hint, confirmed by a status query)."""
    payload: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(24))
    """What acting on it did: credited, already_credited, forged, rejected, failed, pending, unknown…"""
    detail: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(index=True)


class Staff(Base):
    """A support person (``agent``) or an ``admin`` who signs in to the inbox."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    """Stored lower-cased; the login name."""
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(8))
    """``agent`` or ``admin``."""
    password_hash: Mapped[str] = mapped_column(String(256))
    """argon2id, in the PHC string format."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive failed logins; reaching the limit locks the account for a while."""
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


class StaffSession(Base):
    """A signed-in browser: the cookie carries a random token, only its SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """SHA-256 (hex) of the cookie's token."""
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class CannedResponse(Base):
    """A saved reply agents insert by short code, one text per language."""

    __tablename__ = "canned_responses"
    __table_args__ = (UniqueConstraint("short_code", "language", name="uq_canned_code_language"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    short_code: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(5))
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """One line of the append-only audit log; each stores the previous line's hash (a hash chain)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    """Who did it, e.g. ``staff:3`` or ``system:fulfilment``."""
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    """What it was done to, e.g. ``conversation:12`` or ``order:NT2026…``."""
    details: Mapped[str] = mapped_column(Text)
    """Canonical JSON (sorted keys), exactly the bytes that were hashed."""
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """The previous line's ``hash`` (64 zeros for the first): UNIQUE, so the chain cannot fork."""
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class Credential(Base):
    """A user's transaction PIN (argon2id of the peppered PIN) and its lockout state."""

    __tablename__ = "credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    pin_hash: Mapped[str | None] = mapped_column(String(256))
    """None until the user sets a PIN (and again after a reset is started)."""
    pin_set_at: Mapped[datetime | None] = mapped_column()
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Consecutive wrong PINs; reaching the limit locks money-out until ``locked_until``."""
    locked_until: Mapped[datetime | None] = mapped_column()
    reset_at: Mapped[datetime | None] = mapped_column()
    """When the PIN was last reset: money-out cools off for a while after it."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class KycProfile(Base):
    """How well we know a user: their KYC tier and the identity numbers that earned it.

    Identity numbers are never stored in clear: a keyed hash (to recognise the same number again)
    and the last digits (for support) only.
    """

    __tablename__ = "kyc_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    tier: Mapped[int] = mapped_column(Integer, default=0)
    bvn_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    bvn_last4: Mapped[str | None] = mapped_column(String(4))
    nin_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    nin_last4: Mapped[str | None] = mapped_column(String(4))
    verified_name: Mapped[str | None] = mapped_column(String(128))
    """The name the identity verifier returned."""
    verified_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MoneyTransfer(Base):
    """Money a user sends out: to another wallet (P2P), as a claimable link, or to a bank or mobile money.

    ``reference`` is the idempotency key everywhere: of the request, of the ledger transfers
    (``xfer:<reference>…``) and, for payouts, at the gateway.
    """

    __tablename__ = "money_transfers"
    __table_args__ = (
        Index("ix_money_transfers_state_next_check", "state", "next_check_at"),
        Index("ix_money_transfers_sender_created", "sender_user_id", "created_at"),
        CheckConstraint("amount > 0", name="positive_amount"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    reference: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(12))
    """``p2p`` (to a user with us), ``claimable`` (to a number not with us), ``bank``, ``mobile_money``."""
    sender_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sender_conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id"))
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    recipient_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    """E.164: the P2P or claimable recipient, or the mobile-money number paid out to."""
    recipient_name: Mapped[str | None] = mapped_column(String(128))
    """The account name a lookup returned (payouts), or the recipient's name as we know it."""
    bank_code: Mapped[str | None] = mapped_column(String(16))
    account_number: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str] = mapped_column(String(2))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(12))
    """See ``domain.transfers.TransferState``."""
    claim_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column()
    gateway: Mapped[str | None] = mapped_column(String(16))
    gateway_reference: Mapped[str | None] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_check_at: Mapped[datetime | None] = mapped_column()
    review_reason: Mapped[str | None] = mapped_column(String(64))
    """Why the fraud checks held it for a person to look at."""
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()


class MoneyTransferEvent(Base):
    """One step in a transfer's status history."""

    __tablename__ = "money_transfer_events"

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    money_transfer_id: Mapped[int] = mapped_column(ForeignKey("money_transfers.id"), index=True)
    state: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VelocityCounter(Base):
    """How many transfers, and how much money, one subject moved in one time window.

    ``key`` names subject, direction and window, e.g. ``out:u42:d20261127`` or
    ``to:+2348031234567:h2026112714``; one upsert per transfer keeps limits O(1) to check.
    """

    __tablename__ = "velocity_counters"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    """After this the window is over and the row may be deleted."""
