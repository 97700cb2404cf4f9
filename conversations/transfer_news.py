"""What users hear about their transfers afterwards: the news about each, and their history lines.

News kinds (``Notification.kind``, queued by ``domain.transfers``): received (to the recipient),
claimed, expired, released, rejected, and for payouts succeeded, failed and reversed (to the
sender); each ends with the balance when money came back or arrived.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from conversations import payees, transfers
from conversations.funding import short_reference
from conversations.i18n import N_, Localizer, localizer
from conversations.messages import Reply
from conversations.turn import Turn
from domain.countries import get_country
from domain.models import MoneyTransfer, Notification, User
from domain.money import Money
from domain.transfers import TransferState
from domain.transfers import history as transfer_history

#: News about transfers, per notification kind, translated when rendered.
RECEIPTS = {
    "transfer_received": N_("💸 %(sender)s sent you %(amount)s. Ref %(ref)s."),
    "transfer_claimed": N_("✅ %(payee)s claimed the %(amount)s you sent. Ref %(ref)s."),
    "transfer_expired": N_(
        "⌛ The %(amount)s you sent to %(payee)s was not claimed in time, so it is back in your wallet."
        " Ref %(ref)s."
    ),
    "transfer_released": N_("✅ Our team approved your transfer of %(amount)s to %(payee)s. Ref %(ref)s."),
    "transfer_rejected": N_(
        "❌ Your transfer of %(amount)s to %(payee)s was stopped after review, and the money is back"
        " in your wallet. Ref %(ref)s."
    ),
    "payout_succeeded": N_("✅ %(amount)s reached %(payee)s. Ref %(ref)s."),
    "payout_failed": N_(
        "❌ %(amount)s to %(payee)s could not be paid out, so it is back in your wallet. Ref %(ref)s."
    ),
    "payout_reversed": N_(
        "↩️ %(amount)s to %(payee)s was sent back by the receiving bank or wallet, so it is back in"
        " your wallet. Ref %(ref)s."
    ),
}
#: News after which the user's balance changed.
_WITH_BALANCE = frozenset(
    {"transfer_received", "transfer_expired", "transfer_rejected", "payout_failed", "payout_reversed"}
)
_STATES = {
    TransferState.HELD: N_("being checked by our team"),
    TransferState.COMPLETED: N_("sent"),
    TransferState.CLAIMABLE: N_("waiting to be claimed"),
    TransferState.CLAIMED: N_("claimed"),
    TransferState.EXPIRED: N_("not claimed, refunded"),
    TransferState.QUEUED: N_("on its way"),
    TransferState.PENDING: N_("on its way"),
    TransferState.SUCCEEDED: N_("paid"),
    TransferState.FAILED: N_("failed, refunded"),
    TransferState.REVERSED: N_("sent back, refunded"),
    TransferState.REJECTED: N_("stopped, refunded"),
}


def is_transfer_notification(notification: Notification) -> bool:
    """True for the notifications ``render`` answers."""
    return notification.money_transfer_id is not None and notification.kind in RECEIPTS


async def received_reply(session: AsyncSession, t: Localizer, transfer: MoneyTransfer, user_id: int) -> Reply:
    """The recipient's news: who sent how much, and their balance now."""
    text = t._(
        RECEIPTS["transfer_received"],
        sender=await payees.sender_name(session, t, transfer),
        amount=t.money(Money(transfer.amount, transfer.currency)),
        ref=short_reference(transfer.reference),
    )
    return Reply(text + "\n" + await transfers.balance_line(session, t, user_id, transfer.currency))


async def render(session: AsyncSession, notification: Notification) -> Reply | None:
    """The message for a transfer notification, in its user's language."""
    transfer = await session.get(MoneyTransfer, notification.money_transfer_id)
    user = await session.get(User, notification.user_id)
    template = RECEIPTS.get(notification.kind)
    if transfer is None or user is None or template is None:
        return None
    t = localizer(user.language, get_country(transfer.country))
    if notification.kind == "transfer_received":
        return await received_reply(session, t, transfer, user.id)
    values = {
        "amount": t.money(Money(transfer.amount, transfer.currency)),
        "payee": str(await payees.of_transfer(session, transfer)),
        "ref": short_reference(transfer.reference),
    }
    text = t._(template, **values)
    if notification.kind == "transfer_released":
        return _released(t, transfer, text)
    if notification.kind in _WITH_BALANCE:
        text += "\n" + await transfers.balance_line(session, t, user.id, transfer.currency)
    return Reply(text)


def _released(t: Localizer, transfer: MoneyTransfer, text: str) -> Reply:
    """A held transfer let through: a claim link to pass on, or a payout on its way."""
    state = TransferState(transfer.state)
    if state is TransferState.CLAIMABLE and transfer.claim_token:
        link = transfers.claim_link_reply(t, transfer)
        return Reply(text + "\n" + link.text, link=link.link, link_title=link.link_title)
    if state in (TransferState.QUEUED, TransferState.PENDING):
        return Reply(text + "\n" + t._("I'll tell you when it lands."))
    return Reply(text)


async def history_lines(turn: Turn) -> list[tuple[datetime, str]]:
    """The user's latest transfers, sent and received, as (when, line)."""
    t = turn.t
    lines = []
    for transfer in await transfer_history(turn.session, turn.user.id):
        amount = t.money(Money(transfer.amount, transfer.currency))
        when = t.when(transfer.created_at)
        if transfer.sender_user_id == turn.user.id:
            line = t._(
                "%(when)s · sent %(amount)s → %(payee)s · %(state)s",
                when=when,
                amount=amount,
                payee=str(await payees.of_transfer(turn.session, transfer)),
                state=t._(_STATES[TransferState(transfer.state)]),
            )
        else:
            sender = await payees.sender_name(turn.session, t, transfer)
            line = t._(
                "%(when)s · received %(amount)s from %(sender)s", when=when, amount=amount, sender=sender
            )
        lines.append((transfer.created_at, line))
    return lines
