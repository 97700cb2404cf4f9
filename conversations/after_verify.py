"""A send refused until the user verifies, kept so the identity flow can pick it back up.

The rule: when ``conversations.transfers`` refuses a send because the user is not verified, the
send's slots (amount and recipient, never a quote reference) wait in the ``STATE`` state for
the user's next message. When it refuses one for going over the daily limit of a level that
verifying would raise, the chat asks for a smaller amount and the whole send waits beside that
question: the Verify me button carries it as below, a typed answer (the smaller amount, or
anything else the send flow takes) drops it.

* Kept: the Verify me button or a request to verify ("verify", "my BVN is …") carries the send
  into the identity upgrade flow, which keeps it through its questions and retries, a restart of
  that flow, and requests that leave that flow waiting (such as the balance). Once the
  number is verified, the send resumes once, as if just asked for: the quote, or the refusal
  the new level still gives it.
* Dropped: any other typed message right after the refusal (cancel, another request, a bare
  number, anything not understood), any flow started meanwhile by text or button (it replaces
  the slots), an identity flow that stops without verifying (refused number, too many tries), a
  Verify me pressed when nothing is left to verify, and a PIN reset. A button of an older
  message that starts nothing (an expired offer) leaves it as it is.
* Never resumed when the refusal is older than ``LIFETIME``.

Nothing here moves money: the resumed send is quoted afresh and the domain checks it at confirm.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from conversations.flows import Flow
from conversations.intents import Intent
from conversations.messages import Reply
from conversations.parser import Parsed
from conversations.turn import Turn
from domain.models import utcnow

#: The state of a chat whose send was refused until the user verifies; the next message decides.
STATE = "send_after_verify"
#: The slot that carries the refused send (``send``) and when it was refused (``at``).
SLOT = "after_verify"
#: How long after the refusal the send may still be resumed.
LIFETIME = timedelta(minutes=30)


def pause(turn: Turn, send: dict[str, Any]) -> None:
    """Keep a send refused for want of verification until the user's next message."""
    turn.set_slots(kept(send), STATE)


def kept(send: dict[str, Any]) -> dict[str, Any]:
    """The slot that keeps ``send`` for a verify flow started next; merge it into the chat's slots."""
    return {SLOT: {"send": dict(send), "at": utcnow().isoformat()}}


def drop(slots: dict[str, Any]) -> None:
    """Forget a kept send: the user went on another way."""
    slots.pop(SLOT, None)


def carried(turn: Turn) -> dict[str, Any]:
    """The refused send, as slots for a verify flow starting now to keep; empty when there is none."""
    # Only the refusal's state and the verify flow started from it hold the slot: every other
    # flow replaces the slots, so a verify flow restarted midway ("verify" again) keeps the send.
    kept = turn.slots.get(SLOT)
    return {SLOT: kept} if isinstance(kept, dict) else {}


def take(slots: dict[str, Any]) -> dict[str, Any] | None:
    """The send to resume from a verified identity flow's slots; None when there is none or it is stale."""
    kept = slots.get(SLOT)
    if not isinstance(kept, dict):
        return None
    send, at = kept.get("send"), kept.get("at")
    if not isinstance(send, dict) or not isinstance(at, str):
        return None
    if utcnow() - datetime.fromisoformat(at) > LIFETIME:
        return None
    return dict(send)


async def _on_state(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """Only verifying right away keeps the refused send; anything else goes on from idle."""
    if parsed.intent is not Intent.VERIFY_IDENTITY:
        turn.reset()
    return None


FLOW = Flow("after_verify", states=(STATE,), on_state=_on_state)
