"""Who may act on a conversation: the one place the inbox's conversation actions are authorized.

A conversation someone holds (``with_agent``) is acted on by its assignee or by an admin; any
agent may act on one nobody holds (take a waiting one, note, refund…). The same rule answers the
POST (``authorize``, under a row lock) and decides which buttons a page shows (``visible``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.inbox import Refused
from admin.staff import Role
from domain.handoff import Mode
from domain.models import Conversation, Staff


class Act(StrEnum):
    """An action on a conversation (or on an order or transfer that belongs to one)."""

    TAKE = "take"
    HANDBACK = "handback"
    RESOLVE = "resolve"
    REPLY = "reply"
    NOTE = "note"
    REQUERY = "requery"
    REFUND = "refund"
    RECEIPT = "receipt"
    RELEASE = "release"
    REJECT = "reject"


_VERBS = {
    Act.TAKE: "take it over",
    Act.HANDBACK: "hand it back",
    Act.RESOLVE: "resolve it",
    Act.REPLY: "reply",
    Act.NOTE: "add notes",
    Act.REQUERY: "requery its orders",
    Act.REFUND: "refund its orders",
    Act.RECEIPT: "resend its receipts",
    Act.RELEASE: "release its transfers",
    Act.REJECT: "reject its transfers",
}


@dataclass(frozen=True, slots=True)
class Holding:
    """Who has a conversation, as authorization sees it."""

    mode: str
    assignee_id: int | None
    holder: str = ""
    """The assignee's name (for the refusal message)."""

    @property
    def held(self) -> bool:
        """True while a person has the conversation."""
        return self.mode == Mode.WITH_AGENT.value and self.assignee_id is not None


def permitted(staff: Staff, act: Act, holding: Holding | None) -> bool:
    """The rule: the assignee or an admin acts on a held conversation; anyone on one nobody holds.

    Replying needs the conversation held (the bot would answer too otherwise); taking a held
    conversation is an admin's reassignment, never the holder's own no-op.
    """
    if holding is None or not holding.held:
        return act is not Act.REPLY
    if holding.assignee_id == staff.id:
        return act is not Act.TAKE
    return staff.role == Role.ADMIN.value


def refusal(staff: Staff, act: Act, holding: Holding | None) -> str | None:
    """Why ``staff`` may not do ``act`` (shown to them), or None when they may."""
    if permitted(staff, act, holding):
        return None
    if holding is None or not holding.held:
        return "Take the conversation over before replying"
    if holding.assignee_id == staff.id:
        return "You already have this conversation"
    if act is Act.TAKE:
        return f"{holding.holder or 'Someone'} already has this conversation"
    return f"{holding.holder or 'Someone'} has this conversation: only they or an admin may {_VERBS[act]}"


#: The modes each conversation action makes sense in (the page hides the others).
_MODES = {
    Act.TAKE: {Mode.BOT, Mode.WAITING, Mode.RESOLVED, Mode.WITH_AGENT},
    Act.HANDBACK: {Mode.WAITING, Mode.WITH_AGENT},
    Act.RESOLVE: {Mode.BOT, Mode.WAITING, Mode.WITH_AGENT},
    Act.REPLY: {Mode.WITH_AGENT},
}


def visible(staff: Staff, holding: Holding) -> frozenset[str]:
    """The actions a conversation page offers ``staff``: permitted and sensible in its mode."""
    return frozenset(
        act.value
        for act in Act
        if permitted(staff, act, holding) and Mode(holding.mode) in _MODES.get(act, set(Mode))
    )


async def holding(session: AsyncSession, conversation_id: int, *, lock: bool = True) -> Holding | None:
    """The conversation's holder (row-locked for the rest of the transaction), or None if it is gone."""
    statement = (
        select(Conversation.mode, Conversation.assignee_id, Staff.name)
        .outerjoin(Staff, Staff.id == Conversation.assignee_id)
        .where(Conversation.id == conversation_id)
    )
    if lock:
        statement = statement.with_for_update(of=Conversation)
    found = (await session.execute(statement)).first()
    if found is None:
        return None
    mode, assignee_id, name = found
    return Holding(mode, assignee_id, name or "")


async def authorize(session: AsyncSession, staff: Staff, act: Act, conversation_id: int | None) -> None:
    """Refuse ``act`` unless ``staff`` may do it on the conversation (locked until the transaction ends).

    ``None``: the order or transfer belongs to no conversation, which nobody holds.
    """
    found = None if conversation_id is None else await holding(session, conversation_id)
    if conversation_id is not None and found is None:
        raise Refused("No such conversation")
    why = refusal(staff, act, found)
    if why is not None:
        raise Refused(why)
