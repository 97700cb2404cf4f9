"""Handing a chat to a person: what the user is told when the bot steps aside."""

from __future__ import annotations

from conversations.i18n import Localizer, localizer
from conversations.messages import Reply
from conversations.turn import Turn
from domain import handoff
from domain.countries import get_country
from domain.handoff import Mode, Reason

#: Two misunderstood turns in a row hand the chat to a person.
MISUNDERSTOOD_LIMIT = 2
#: What we promise users about when a person answers, in minutes.
DEFAULT_REPLY_MINUTES = 15


async def hand_off(turn: Turn, reason: Reason) -> Reply:
    """Queue the chat for a person (once) and tell the user, in their language, roughly when."""
    t = turn.t
    turn.reset()  # whatever was open is void: a person takes it from here
    if await handoff.request(turn.session, turn.conversation.id, reason, note=False):
        turn.conversation.mode = Mode.WAITING.value
        turn.conversation.handoff_now = reason.value  # noted after the user's message is saved
        return Reply(
            t._(
                "I'm passing you to a person from our support team. They will reply here,"
                " usually within %(minutes)s minutes.",
                minutes=turn.reply_minutes,
            )
        )
    return Reply(_already_queued(t))


def still_waiting(turn: Turn) -> Reply:
    """A message the bot cannot act on while a person is on the way: say they are coming."""
    t = turn.t
    return Reply(
        _already_queued(t) + "\n" + t._("Meanwhile I can still help with airtime, data and your balance.")
    )


def _already_queued(t: Localizer) -> str:
    return t._("A person from our support team already has your request and will reply here soon.")


def back_to_bot_text(language: str | None, country: str | None) -> str:
    """What the user is told when a person hands the chat back to the bot, in their language."""
    t = localizer(language, get_country(country) if country else None)
    return t._(
        "You're chatting with the NexusTop assistant again. Ask me for airtime, data, your balance"
        " or your recent orders."
    )
