"""The transaction PIN in chat: choosing one (typed twice), typing it to confirm, wrong tries and lockouts.

A PIN never stays in the conversation: every reply to a message that carried one asks the engine
to redact it from the transcript (``Reply.forget_inbound``), and while a new PIN is being repeated
only the argon2 hash of its first entry waits in the slots.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conversations.i18n import N_, Localizer
from conversations.messages import Reply
from conversations.turn import Turn
from domain import pins
from domain.pins import PinProblem

#: Choosing a new PIN, repeating it, and typing the PIN to confirm a transfer.
CHOOSE, REPEAT, ENTER = "pin_choose", "pin_repeat", "pin_enter"
#: States whose messages are PINs.
STATES = (CHOOSE, REPEAT, ENTER)
#: The slot holding the hash of a new PIN's first entry.
_DRAFT = "pin_draft"

_PROBLEMS = {
    PinProblem.FORMAT: N_("A PIN is 4 to 6 digits, nothing else. Please choose one."),
    PinProblem.WEAK: N_("That PIN is too easy to guess (like 1234 or 1111). Please choose another one."),
}


@dataclass(frozen=True, slots=True)
class Entered:
    """A PIN the user typed; ``new`` when they have just chosen it (it is saved)."""

    pin: str
    new: bool = False


def locked_reply(t: Localizer, until: datetime | None) -> Reply:
    """Money out is locked by wrong PINs: until when, and the way out."""
    text = t._("Too many wrong PINs, so sending money is locked.")
    if until is not None:
        text = t._("Too many wrong PINs, so sending money is locked until %(time)s.", time=t.clock(until))
    return Reply(text + "\n" + t._('Forgot your PIN? Say "forgot PIN" to reset it.'))


def saved_reply(t: Localizer) -> Reply:
    """A new PIN was saved."""
    return Reply(t._("Your PIN is saved. Keep it to yourself: NexusTop staff will never ask for it."))


def wrong_reply(t: Localizer, attempts_left: int) -> Reply:
    """A wrong PIN that did not lock money out yet."""
    return Reply(
        t.n_(
            "Wrong PIN. You have %(tries)s try left before sending money is locked.",
            "Wrong PIN. You have %(tries)s tries left before sending money is locked.",
            attempts_left,
            tries=attempts_left,
        )
    )


async def ask(turn: Turn, slots: dict[str, Any]) -> Reply:
    """Ask for the PIN, or to choose one first; a locked user is told until when and not asked."""
    t = turn.t
    until = await pins.locked_until(turn.session, turn.user.id)
    if until is not None:
        turn.reset()
        return locked_reply(t, until)
    if await pins.has_pin(turn.session, turn.user.id):
        turn.set_slots(slots, ENTER)
        return Reply(t._("Enter your transaction PIN to confirm."))
    return choose(turn, slots)


def choose(turn: Turn, slots: dict[str, Any]) -> Reply:
    """Ask the user to choose their first PIN."""
    slots.pop(_DRAFT, None)
    turn.set_slots(slots, CHOOSE)
    return Reply(
        turn.t._(
            "To keep your money safe, choose a transaction PIN of 4 to 6 digits."
            " Don't use your bank card PIN or your year of birth."
        )
    )


async def take(turn: Turn, text: str, pepper: bytes) -> Entered | Reply:
    """Read a message sent while a PIN is expected: the PIN to use, or what to say back.

    Replies here answer a PIN, so callers must pass them through ``messages.forgetting``.
    """
    entry = text.strip()
    state = turn.conversation.state
    if state == ENTER:
        if pins.pin_problem(entry) is PinProblem.FORMAT:
            return Reply(turn.t._("Your PIN is 4 to 6 digits. Please send it, or say cancel."))
        return Entered(entry)
    if state == CHOOSE:
        return _first_entry(turn, entry, pepper)
    return await _second_entry(turn, entry, pepper)


def _first_entry(turn: Turn, entry: str, pepper: bytes) -> Reply:
    problem = pins.pin_problem(entry)
    if problem is not None:
        return Reply(turn.t._(_PROBLEMS[problem]))
    slots = turn.slots
    slots[_DRAFT] = pins.hash_pin(entry, pepper)
    turn.set_slots(slots, REPEAT)
    return Reply(turn.t._("Send the same PIN again to confirm it."))


async def _second_entry(turn: Turn, entry: str, pepper: bytes) -> Entered | Reply:
    slots = turn.slots
    draft = slots.pop(_DRAFT, None)
    if not isinstance(draft, str) or not pins.same_pin(draft, entry, pepper):
        choose(turn, slots)
        return Reply(
            turn.t._("The two PINs are different. Let's start again: choose a PIN of 4 to 6 digits.")
        )
    # A PIN set meanwhile (another chat) is never replaced without the old one.
    if await pins.has_pin(turn.session, turn.user.id):
        turn.set_slots(slots, ENTER)
        return Reply(turn.t._("You already have a PIN. Enter it to confirm."))
    await pins.set_pin(turn.session, turn.user.id, entry, pepper)
    turn.set_slots(slots, ENTER)
    return Entered(entry, new=True)
