"""The support inbox's reads and actions on conversations, independent of HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from domain import audit, handoff, kyc, phones, users
from domain.countries import get_country
from domain.handoff import Mode
from domain.models import Conversation, Identity, Message, Order, OrderEvent, Staff, User, utcnow
from domain.orders import order_history

#: How many conversations a list shows.
LIST_LIMIT = 100
VIEWS = ("waiting", "mine", "all")


def mask_phone(phone: str | None) -> str:
    """A phone or account number as staff pages show it: every digit but the last four as •."""
    return phones.mask_phone(phone, "•", empty="—")


def duration(delta: timedelta | None) -> str:
    """A short human duration: 45s, 12m, 3h 5m, 2d."""
    if delta is None:
        return "—"
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


@dataclass(frozen=True, slots=True)
class Filters:
    """What a conversation list shows."""

    view: str = "waiting"
    channel: str = ""
    country: str = ""
    q: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One conversation in the list."""

    id: int
    channel: str
    country: str
    language: str
    name: str
    phone: str
    last_message: str
    last_at: datetime | None
    mode: str
    assignee: str
    waiting_for: str
    """How long the user has waited for a person (while waiting), else —."""
    first_reply: str
    """SLA: time from the handoff to the first human reply, once there is one."""
    overdue: bool


def _last_line() -> Any:
    return (
        select(Message.body)
        .where(Message.conversation_id == Conversation.id, Message.direction.in_(["in", "out"]))
        .order_by(Message.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _name() -> Any:
    return (
        select(Identity.display_name)
        .where(Identity.user_id == Conversation.user_id, Identity.channel == Conversation.channel)
        .limit(1)
        .scalar_subquery()
    )


def _list_query(filters: Filters, staff_id: int) -> Select[Any]:
    statement = (
        select(
            Conversation,
            User.country,
            User.language,
            User.phone,
            Staff.name,
            _last_line().label("last_line"),
            _name().label("display_name"),
        )
        .join(User, User.id == Conversation.user_id)
        .outerjoin(Staff, Staff.id == Conversation.assignee_id)
    )
    if filters.view == "waiting":
        statement = statement.where(Conversation.mode == Mode.WAITING.value)
    elif filters.view == "mine":
        statement = statement.where(
            Conversation.assignee_id == staff_id, Conversation.mode == Mode.WITH_AGENT.value
        )
    if filters.channel:
        statement = statement.where(Conversation.channel == filters.channel)
    if filters.country:
        statement = statement.where(User.country == filters.country.upper())
    if filters.q.strip():
        needle = filters.q.strip().lower()
        digits = "".join(ch for ch in needle if ch.isdigit())
        name_match = (
            select(Identity.id)
            .where(Identity.user_id == User.id, func.lower(Identity.display_name).contains(needle))
            .exists()
        )
        clauses: list[ColumnElement[bool]] = [name_match]
        if len(digits) >= 3:
            clauses.append(User.phone.contains(digits))
        statement = statement.where(or_(*clauses))
    rank = case(
        (Conversation.mode == Mode.WAITING.value, 0),
        (Conversation.mode == Mode.WITH_AGENT.value, 1),
        else_=2,
    )
    return statement.order_by(rank, Conversation.waiting_since, Conversation.updated_at.desc()).limit(
        LIST_LIMIT
    )


async def conversations(
    session: AsyncSession, filters: Filters, staff_id: int, sla_minutes: int = 15
) -> list[Row]:
    """The conversations a list view shows, waiting ones first (longest wait first)."""
    now = utcnow()
    rows = []
    for conversation, country, language, phone, assignee, last_line, name in (
        await session.execute(_list_query(filters, staff_id))
    ).all():
        waiting_since = conversation.waiting_since
        first = conversation.first_human_reply_at
        waiting = conversation.mode == Mode.WAITING.value and waiting_since is not None
        first_reply = duration(first - waiting_since) if first and waiting_since else "—"
        waited = now - waiting_since if waiting and waiting_since else None
        overdue = bool(waited and waited > timedelta(minutes=sla_minutes)) or bool(
            first and waiting_since and first - waiting_since > timedelta(minutes=sla_minutes)
        )
        rows.append(
            Row(
                id=conversation.id,
                channel=conversation.channel,
                country=country or "—",
                language=language or "—",
                name=name or "—",
                phone=mask_phone(phone),
                last_message=(last_line or "")[:120],
                last_at=conversation.updated_at,
                mode=conversation.mode,
                assignee=assignee or "",
                waiting_for=duration(waited),
                first_reply=first_reply,
                overdue=overdue,
            )
        )
    return rows


@dataclass
class Line:
    """One transcript line as the inbox shows it."""

    id: int
    direction: str
    sender: str
    body: str
    private: bool
    author: str
    at: datetime | None


@dataclass
class OrderView:
    """An order with its status history."""

    order: Order
    history: list[OrderEvent]


@dataclass
class Detail:
    """Everything the conversation page shows."""

    conversation: Conversation
    user: User
    identities: list[Identity]
    assignee: str
    lines: list[Line]
    balance: int | None
    currency: str | None
    orders: list[OrderView] = field(default_factory=list)
    kyc_tier: str = "unknown (no country yet)"
    """The user's KYC tier as the country's scheme names it (tier number and name)."""


async def transcript(session: AsyncSession, conversation_id: int, limit: int = 300) -> list[Line]:
    """The latest lines of a conversation (user, bot, agent, notes, events), oldest first."""
    rows = (
        await session.execute(
            select(Message, Staff.name)
            .outerjoin(Staff, Staff.id == Message.staff_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(Message.id.desc())
            .limit(limit)
        )
    ).all()
    return [
        Line(m.id, m.direction, m.sender, m.body, bool(m.private), author or "", m.created_at)
        for m, author in reversed(rows)
    ]


async def detail(session: AsyncSession, conversation_id: int) -> Detail | None:
    """The conversation page's data, or None if there is no such conversation."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    user = await session.get(User, conversation.user_id)
    assert user is not None
    identities = list((await session.scalars(select(Identity).where(Identity.user_id == user.id))).all())
    assignee = ""
    if conversation.assignee_id is not None:
        assignee = await session.scalar(select(Staff.name).where(Staff.id == conversation.assignee_id)) or ""
    country = get_country(user.country) if user.country else None
    balance = None
    if country is not None:
        wallet = await users.existing_wallet_balance(session, user.id, country.currency)
        balance = wallet.available if wallet is not None else None
    orders = (
        await session.scalars(
            select(Order).where(Order.user_id == user.id).order_by(Order.id.desc()).limit(5)
        )
    ).all()
    views = []
    for order in orders:
        views.append(OrderView(order, await order_history(session, order.id)))
    return Detail(
        conversation=conversation,
        user=user,
        identities=identities,
        assignee=assignee,
        lines=await transcript(session, conversation_id),
        balance=balance,
        currency=country.currency if country else None,
        orders=views,
        kyc_tier=await _kyc_tier(session, user.id, country.code) if country else Detail.kyc_tier,
    )


async def _kyc_tier(session: AsyncSession, user_id: int, country_code: str) -> str:
    """ "1 — Tier 1 (BVN or NIN)": the user's tier and its name in their country's scheme."""
    tier = await kyc.tier_of(session, user_id)
    return f"{tier} — {kyc.limits_for(country_code, tier).name}"


# ---- actions ---------------------------------------------------------------------------------


class Refused(Exception):
    """The action cannot be done now; the message says why (shown to the agent)."""


def actor(staff: Staff) -> str:
    """How the audit log names a staff member."""
    return f"staff:{staff.id}"


async def take_over(
    session: AsyncSession, conversation_id: int, staff: Staff, *, reassign: bool = False
) -> None:
    """Claim the conversation (atomic); refused when another agent has it, unless ``reassign`` (an admin)."""
    moved = await handoff.take_over(session, conversation_id, staff.id, staff.name) or (
        reassign and await handoff.reassign(session, conversation_id, staff.id, staff.name)
    )
    if not moved:
        holder = await session.scalar(
            select(Staff.name)
            .join(Conversation, Conversation.assignee_id == Staff.id)
            .where(Conversation.id == conversation_id)
        )
        raise Refused(f"{holder or 'Someone'} already has this conversation")
    await audit.record(session, actor(staff), "conversation.take_over", f"conversation:{conversation_id}")


async def locked_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation, row-locked for the rest of the transaction."""
    conversation = await session.scalar(
        select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    )
    if conversation is None:
        raise Refused("No such conversation")
    return conversation


async def add_agent_line(
    session: AsyncSession, conversation: Conversation, staff: Staff, text: str, *, private: bool
) -> None:
    """Add an agent's reply (sent) or private note (never sent) to the transcript."""
    session.add(
        Message(
            conversation_id=conversation.id,
            direction="int" if private else "out",
            sender="agent",
            body=text,
            private=private,
            staff_id=staff.id,
            created_at=utcnow(),
        )
    )
    if not private:
        await session.execute(
            update(Conversation)
            .where(Conversation.id == conversation.id, Conversation.first_human_reply_at.is_(None))
            .where(Conversation.waiting_since.is_not(None))
            .values(first_human_reply_at=utcnow())
            .execution_options(synchronize_session=False)
        )
    action = "conversation.note" if private else "conversation.reply"
    await audit.record(session, actor(staff), action, f"conversation:{conversation.id}", {"chars": len(text)})
