"""Claiming money sent to a number not yet with us: the ``m_…`` link, or all that waits, on first contact.

A claim pays only the owner of the number the money was sent to, and a typed number proves
nothing: the number must come from the channel (WhatsApp's sender, a contact shared with
Telegram's "share my number" button, the terminal's ``--phone``). Once a number is proven, every
unexpired transfer waiting for it is credited and the user is told.
"""

from __future__ import annotations

from sqlalchemy import select

from conversations import onboarding
from conversations.flows import Flow
from conversations.i18n import N_, Localizer
from conversations.intents import Intent
from conversations.messages import ChatKind, Reply
from conversations.parser import Parsed
from conversations.payees import sender_name
from conversations.transfer_news import received_reply
from conversations.turn import Turn
from domain import users
from domain.models import MoneyTransfer
from domain.money import Money
from domain.transfers import ClaimProblem, ClaimRefused, TransferState

#: Waiting for the user to share their number so a claim can be paid (slot ``claim``: the token).
AWAIT_CONTACT = "claim_contact"
#: Claim tokens start so (gift tokens with ``c_`` and ``g_``).
TOKEN_PREFIX = "m_"

_PROBLEMS = {
    ClaimProblem.UNKNOWN: N_("This money link is not valid."),
    ClaimProblem.NOT_YOURS: N_("This money was sent to another number, so I can't pay it to you."),
    ClaimProblem.OWN: N_("You can't claim money you sent."),
    ClaimProblem.NOT_CLAIMABLE: N_("This money has already been claimed or returned."),
    ClaimProblem.EXPIRED: N_("This link has expired, and the money went back to the sender."),
}


def is_claim_token(token: str) -> bool:
    """True for a claimable transfer's token (as opposed to a gift's)."""
    return token.startswith(TOKEN_PREFIX)


async def on_link(turn: Turn, token: str) -> list[Reply]:
    """A claim link opened (or "claim m_…" typed): pay it if the number is proven, else ask for it."""
    t = turn.t
    if turn.message.chat_kind is not ChatKind.PRIVATE:
        return [Reply(t._("Let's do that in a private chat with me."))]
    transfer = await turn.session.scalar(select(MoneyTransfer).where(MoneyTransfer.claim_token == token))
    if turn.transfers is None or transfer is None:
        return [Reply(t._(_PROBLEMS[ClaimProblem.UNKNOWN]))]
    replies: list[Reply] = []
    if turn.user.country is None:
        replies, _ = await onboarding.settle(turn, transfer.country, onboarding.first_language(turn, None))
        t = turn.t
    if transfer.state == TransferState.CLAIMED and transfer.recipient_user_id == turn.user.id:
        return [*replies, Reply(t._("You already claimed this money."))]
    phone = await _proven_phone(turn)
    if phone is None:
        turn.set_slots({"claim": token}, AWAIT_CONTACT)
        return [*replies, await _ask_contact(turn, transfer)]
    return [*replies, *(await _claim(turn, token, phone))]


async def on_text(turn: Turn, parsed: Parsed) -> list[Reply] | None:
    """While a claim waits for the user's number: a shared contact pays it; None for another request."""
    if turn.conversation.state != AWAIT_CONTACT:
        return None
    token = turn.slots.get("claim")
    if turn.message.phone is None or not isinstance(token, str):
        if parsed.phone is None and parsed.intent is not Intent.UNKNOWN:
            return None
        return [
            Reply(
                turn.t._(
                    "A typed number doesn't prove it is yours."
                    " Please share your number with the button below."
                ),
                request_contact=True,
            )
        ]
    phone = await _proven_phone(turn)
    assert phone is not None
    return await _claim(turn, token, phone)


async def collect_waiting(turn: Turn) -> list[Reply]:
    """Credit everything waiting for the user's proven number (a new user's first contact) and say so."""
    service = turn.transfers
    phone = turn.user.phone
    if service is None or phone is None:
        return []
    replies = []
    for transfer in await service.claimable_for(turn.session, phone):
        if transfer.sender_user_id == turn.user.id or transfer.claim_token is None:
            continue
        replies += await _claim(turn, transfer.claim_token, phone, quiet=True)
    return replies


async def _proven_phone(turn: Turn) -> str | None:
    """The user's number as their channel vouches for it (kept on the user when they had none)."""
    phone = turn.message.phone
    if phone is None:
        return turn.user.phone
    if turn.user.phone is None and await users.record_phone(turn.session, turn.user.id, phone):
        turn.user.phone = phone
    return phone


async def _ask_contact(turn: Turn, transfer: MoneyTransfer) -> Reply:
    t = turn.t
    text = t._(
        "💸 %(sender)s sent you %(amount)s! To receive it, share your phone number with the button below:"
        " I can only pay it to the number it was sent to.",
        sender=await sender_name(turn.session, t, transfer),
        amount=t.money(Money(transfer.amount, transfer.currency)),
    )
    return Reply(text, request_contact=True)


async def _claim(turn: Turn, token: str, phone: str, *, quiet: bool = False) -> list[Reply]:
    """Pay a claim; ``quiet`` (first contact) skips refusals the user did not ask about."""
    service = turn.transfers
    assert service is not None
    t = turn.t
    if not quiet:
        turn.reset()
    try:
        transfer = await service.claim(turn.session, token, turn.user.id, phone)
    except ClaimRefused as refused:
        if quiet and refused.problem is not ClaimProblem.OVER_LIMIT:
            return []
        return [Reply(_problem_text(t, refused.problem, token))]
    replies = [await received_reply(turn.session, t, transfer, turn.user.id)]
    if not quiet:
        replies += await collect_waiting(turn)
    return replies


def _problem_text(t: Localizer, problem: ClaimProblem, token: str) -> str:
    if problem is ClaimProblem.OVER_LIMIT:
        return t._(
            "Money is waiting for you, but your wallet can't hold that much at your level."
            ' Say verify to raise your limit, then send "claim %(token)s".',
            token=token,
        )
    return t._(_PROBLEMS[problem])


# ---- the flow in the engine -------------------------------------------------------------------


async def _on_state(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    return await on_text(turn, parsed)


FLOW = Flow("claim", states=(AWAIT_CONTACT,), on_state=_on_state)
