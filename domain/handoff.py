"""Who answers a conversation — the bot or a person — and the atomic moves between them.

Modes follow Chatwoot's bot inboxes: ``bot`` (Chatwoot's pending), ``waiting`` (open, no one has
it yet), ``with_agent`` (open, assigned: the bot stays silent), ``resolved``. Every move is one
conditional ``UPDATE … WHERE mode IN (…)`` (check-and-set), so retries and races cannot hand off
twice or let two agents take the same chat, and each move that happens writes an activity line
into the transcript.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import orders
from domain.models import Conversation, Message, utcnow


class Mode(StrEnum):
    """Who answers a conversation."""

    BOT = "bot"
    WAITING = "waiting"
    WITH_AGENT = "with_agent"
    RESOLVED = "resolved"


class Reason(StrEnum):
    """Why the bot handed a conversation to a person."""

    ASKED = "asked"
    MISUNDERSTOOD = "misunderstood"
    NEEDS_REVIEW = "needs_review"


_ACTIVITY = {
    Reason.ASKED: "The user asked for a person",
    Reason.MISUNDERSTOOD: "The bot did not understand twice in a row",
    Reason.NEEDS_REVIEW: "An order needs review",
}


async def activity(
    session: AsyncSession, conversation_id: int, text: str, staff_id: int | None = None
) -> None:
    """Add a system line (an event, never sent to the user) to a transcript."""
    await session.execute(
        insert(Message).values(
            conversation_id=conversation_id,
            direction="evt",
            sender="system",
            body=text,
            private=False,
            staff_id=staff_id,
            created_at=utcnow(),
        )
    )


async def _move(
    session: AsyncSession, conversation_id: int, from_modes: tuple[Mode, ...], **values: object
) -> bool:
    result = await session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.mode.in_([m.value for m in from_modes]))
        .values(**values, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


async def request(session: AsyncSession, conversation_id: int, reason: Reason, *, note: bool = True) -> bool:
    """Queue the conversation for a person; False when it already is waiting or with one.

    ``note=False`` leaves the activity line to the caller (``note_waiting``), e.g. to write it
    after the user's message that caused the handoff.
    """
    moved = await _move(
        session,
        conversation_id,
        (Mode.BOT, Mode.RESOLVED),
        mode=Mode.WAITING.value,
        waiting_since=utcnow(),
        handoff_reason=reason.value,
        first_human_reply_at=None,
        assignee_id=None,
    )
    if moved:
        await orders.void_quotes(session, conversation_id)  # a person has it now: no Confirm left to press
    if moved and note:
        await note_waiting(session, conversation_id, reason)
    return moved


async def note_waiting(session: AsyncSession, conversation_id: int, reason: Reason) -> None:
    """The activity line of a handoff."""
    await activity(session, conversation_id, f"Waiting for an agent: {_ACTIVITY[reason]}")


async def take_over(session: AsyncSession, conversation_id: int, staff_id: int, staff_name: str) -> bool:
    """Assign the conversation to ``staff_id``; False when someone else already has it."""
    moved = await _move(
        session,
        conversation_id,
        (Mode.BOT, Mode.WAITING, Mode.RESOLVED),
        mode=Mode.WITH_AGENT.value,
        assignee_id=staff_id,
    )
    if moved:
        await orders.void_quotes(session, conversation_id)  # the person decides what is bought now
        await activity(session, conversation_id, f"{staff_name} took over the conversation", staff_id)
    return moved


async def reassign(session: AsyncSession, conversation_id: int, staff_id: int, staff_name: str) -> bool:
    """Give a conversation another agent has to ``staff_id`` (an admin's decision); False if nobody has it."""
    moved = await _move(session, conversation_id, (Mode.WITH_AGENT,), assignee_id=staff_id)
    if moved:
        await activity(session, conversation_id, f"{staff_name} took over the conversation", staff_id)
    return moved


async def hand_back(session: AsyncSession, conversation_id: int, staff_id: int, staff_name: str) -> bool:
    """Give the conversation back to the bot (it answers the next message)."""
    moved = await _move(
        session,
        conversation_id,
        (Mode.WAITING, Mode.WITH_AGENT),
        mode=Mode.BOT.value,
        assignee_id=None,
        misunderstood=0,
    )
    if moved:
        await activity(
            session, conversation_id, f"{staff_name} handed the conversation back to the bot", staff_id
        )
    return moved


async def resolve(session: AsyncSession, conversation_id: int, staff_id: int, staff_name: str) -> bool:
    """Close the conversation; the user's next message reopens it with the bot."""
    moved = await _move(
        session,
        conversation_id,
        (Mode.BOT, Mode.WAITING, Mode.WITH_AGENT),
        mode=Mode.RESOLVED.value,
        assignee_id=None,
        misunderstood=0,
    )
    if moved:
        await activity(session, conversation_id, f"{staff_name} resolved the conversation", staff_id)
    return moved


async def reopen(session: AsyncSession, conversation_id: int) -> bool:
    """A resolved conversation the user writes to again goes back to the bot."""
    return await _move(session, conversation_id, (Mode.RESOLVED,), mode=Mode.BOT.value)
