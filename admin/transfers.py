"""The inbox's side of money out: transfers held for review, the decision on them, payouts stuck at a gateway.

Release and reject are the domain's (``TransferService``): they lock the transfer, move the
money at most once, queue the sender's news and write the audit line. Every phone and account
number leaves this module masked but its last four digits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.inbox import Refused, mask_phone
from domain import banks
from domain.models import Identity, MoneyTransfer, MoneyTransferEvent, Staff, User, utcnow
from domain.transfers import TransferKind, TransferService, TransferState, history, latest_conversation

#: A payout waiting this long for its gateway's final word is listed for support to see.
STALE_PAYOUT = timedelta(hours=1)
#: How many transfers a list shows.
LIST_LIMIT = 100
#: What a released transfer does next, as the agent is told.
NEXT_STEP = {
    TransferState.COMPLETED: "the money is in the recipient's wallet",
    TransferState.CLAIMABLE: "the recipient can claim it now",
    TransferState.QUEUED: "the payout goes to the gateway next",
}
#: Seven or more digits in a row (single spaces allowed): a phone or account number in free text.
_LONG_NUMBER = re.compile(r"\+?\d(?: ?\d){6,}")


def hide_numbers(text: str | None) -> str:
    """Free text (a gateway's detail, a reviewer's reason) with long numbers masked but the last 4 digits."""
    return _LONG_NUMBER.sub(lambda found: mask_phone(found.group()), text or "")


@dataclass(frozen=True, slots=True)
class TransferRow:
    """One transfer as the inbox shows it: people named, numbers masked."""

    id: int
    reference: str
    kind: str
    state: str
    amount: int
    currency: str
    sender_user_id: int
    sender_name: str
    sender_phone: str
    conversation_id: int | None
    """The sender's conversation (where the transfer was asked for, else their latest), if any."""
    recipient: str
    recipient_name: str
    reason: str
    reviewer: str
    created_at: datetime | None
    gateway: str
    detail: str
    pending_since: datetime | None = None


def recipient_label(transfer: MoneyTransfer) -> str:
    """Where the money goes: a masked phone, or the bank (name and code) or wallet and a masked number."""
    if transfer.kind == TransferKind.BANK:
        code = transfer.bank_code or ""
        bank = banks.bank_by_code(transfer.country, code)
        return f"{bank.name if bank else 'Bank'} ({code}) {mask_phone(transfer.account_number)}"
    if transfer.kind == TransferKind.MOBILE_MONEY:
        networks = banks.mobile_money_networks(transfer.country)
        network = next((n.name for n in networks if n.network == transfer.bank_code), "Mobile money")
        return f"{network} {mask_phone(transfer.recipient_phone or transfer.account_number)}"
    return mask_phone(transfer.recipient_phone)


async def _people(session: AsyncSession, user_ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    """Each user's display name (any channel) and masked phone."""
    name = (
        select(Identity.display_name)
        .where(Identity.user_id == User.id, Identity.display_name.is_not(None))
        .order_by(Identity.id)
        .limit(1)
        .scalar_subquery()
    )
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, name, User.phone).where(User.id.in_(wanted)))
    return {user_id: (display or "", mask_phone(phone)) for user_id, display, phone in rows.all()}


async def _reviewers(session: AsyncSession, staff_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {staff_id for staff_id in staff_ids if staff_id is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(wanted)))
    return {staff_id: staff_name for staff_id, staff_name in rows.all()}


async def _describe(
    session: AsyncSession, found: list[MoneyTransfer], since: dict[int, datetime] | None = None
) -> list[TransferRow]:
    """Rows for ``found``, with two queries for the people in them whatever their number."""
    people = await _people(session, [u for t in found for u in (t.sender_user_id, t.recipient_user_id)])
    reviewers = await _reviewers(session, (t.reviewed_by for t in found))
    rows = []
    for t in found:
        name, phone = people.get(t.sender_user_id, ("", "—"))
        recipient_name = t.recipient_name or people.get(t.recipient_user_id or 0, ("", ""))[0]
        conversation_id = t.sender_conversation_id or await latest_conversation(session, t.sender_user_id)
        rows.append(
            TransferRow(
                id=t.id,
                reference=t.reference,
                kind=t.kind,
                state=t.state,
                amount=t.amount,
                currency=t.currency,
                sender_user_id=t.sender_user_id,
                sender_name=name or "Customer",
                sender_phone=phone,
                conversation_id=conversation_id,
                recipient=recipient_label(t),
                recipient_name=recipient_name,
                reason=t.review_reason or "",
                reviewer=reviewers.get(t.reviewed_by, "") if t.reviewed_by is not None else "",
                created_at=t.created_at,
                gateway=t.gateway or "",
                detail=hide_numbers(t.detail),
                pending_since=(since or {}).get(t.id),
            )
        )
    return rows


async def held_count(session: AsyncSession) -> int:
    """How many transfers wait for a person (the navigation's badge)."""
    count = await session.scalar(
        select(func.count()).select_from(MoneyTransfer).where(MoneyTransfer.state == TransferState.HELD)
    )
    return int(count or 0)


async def held(session: AsyncSession, service: TransferService, limit: int = LIST_LIMIT) -> list[TransferRow]:
    """The transfers waiting for review, oldest first."""
    return await _describe(session, await service.held(session, limit))


def _pending_since() -> Any:
    return (
        select(func.max(MoneyTransferEvent.created_at))
        .where(
            MoneyTransferEvent.money_transfer_id == MoneyTransfer.id,
            MoneyTransferEvent.state == TransferState.PENDING,
        )
        .scalar_subquery()
    )


async def stale_payouts(
    session: AsyncSession, older_than: timedelta = STALE_PAYOUT, limit: int = LIST_LIMIT
) -> list[TransferRow]:
    """Payouts pending at their gateway for over ``older_than``, longest first (to look at, not act on)."""
    since = _pending_since()
    found = (
        await session.execute(
            select(MoneyTransfer, since)
            .where(MoneyTransfer.state == TransferState.PENDING, since < utcnow() - older_than)
            .order_by(since)
            .limit(limit)
        )
    ).all()
    return await _describe(session, [t for t, _ in found], {t.id: moment for t, moment in found})


@dataclass
class TransferDetail:
    """Everything the transfer page shows."""

    row: TransferRow
    events: list[MoneyTransferEvent]
    recent: list[TransferRow]
    """The sender's latest transfers, sent or received, newest first."""

    @property
    def held(self) -> bool:
        """True while a person may still release or reject it."""
        return self.row.state == TransferState.HELD


async def detail(session: AsyncSession, transfer_id: int, recent: int = 10) -> TransferDetail | None:
    """The transfer page's data, or None if there is no such transfer."""
    transfer = await session.get(MoneyTransfer, transfer_id)
    if transfer is None:
        return None
    events = (
        await session.scalars(
            select(MoneyTransferEvent)
            .where(MoneyTransferEvent.money_transfer_id == transfer_id)
            .order_by(MoneyTransferEvent.id)
        )
    ).all()
    (row,) = await _describe(session, [transfer])
    latest = await _describe(session, await history(session, transfer.sender_user_id, recent))
    return TransferDetail(row, list(events), latest)


async def conversation_of(session: AsyncSession, transfer_id: int) -> int | None:
    """The sender's conversation a transfer belongs to (where it was asked for, else their latest)."""
    found = (
        await session.execute(
            select(MoneyTransfer.sender_conversation_id, MoneyTransfer.sender_user_id).where(
                MoneyTransfer.id == transfer_id
            )
        )
    ).first()
    if found is None:
        return None
    conversation_id, sender = found
    return conversation_id or await latest_conversation(session, sender)


# ---- decisions -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decision:
    """What a release or reject did, for the agent and for the other inboxes."""

    message: str
    event: str = ""
    """The live event to publish (``transfer.released``…); empty when someone had already decided."""
    conversation_id: int | None = None


async def release(
    session: AsyncSession, service: TransferService, transfer_id: int, staff: Staff
) -> Decision:
    """Let a held transfer carry on, as ``staff``; a transfer already decided is reported, not an error."""
    done = await service.release(session, transfer_id, staff.id)
    if done is None:
        return await _already(session, transfer_id, staff)
    step = NEXT_STEP.get(TransferState(done.state), done.state)
    return Decision(f"Released {done.reference}: {step}.", "transfer.released", done.sender_conversation_id)


async def reject(
    session: AsyncSession, service: TransferService, transfer_id: int, staff: Staff, reason: str
) -> Decision:
    """Stop a held transfer and refund the sender, as ``staff`` and for ``reason`` (required)."""
    reason = " ".join(reason.split())[:500]
    if not reason:
        raise Refused("Say why you reject this transfer")
    done = await service.reject(session, transfer_id, staff.id, reason)
    if done is None:
        return await _already(session, transfer_id, staff)
    message = f"Rejected {done.reference}: the sender is refunded."
    return Decision(message, "transfer.rejected", done.sender_conversation_id)


async def _already(session: AsyncSession, transfer_id: int, staff: Staff) -> Decision:
    found = (
        await session.execute(
            select(MoneyTransfer.reference, MoneyTransfer.state, MoneyTransfer.reviewed_by, Staff.name)
            .outerjoin(Staff, Staff.id == MoneyTransfer.reviewed_by)
            .where(MoneyTransfer.id == transfer_id)
        )
    ).first()
    if found is None:
        raise Refused("No such transfer")
    reference, state, reviewer_id, reviewer = found
    if reviewer_id is None:
        raise Refused(f"Transfer {reference} is {state}: it is not waiting for review")
    who = "you" if reviewer_id == staff.id else reviewer
    return Decision(f"Already reviewed by {who}: {reference} is {state}.")
