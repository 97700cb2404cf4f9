"""Gifts: airtime or data one user pays for and another claims, with the money held in escrow.

Money, in ledger transfers (each under an id bound to the gift, so every step is idempotent):

* **confirm** — one *pending* transfer per share, ``gift:<id>:<n>``, from the sender's wallet to
  ``system:gifts:<CUR>``: the escrow. A giveaway "5x200" escrows 5 × 200.
* **claim** — share *n* is posted into ``system:gifts``; the claimer's top-up order reserves its
  price from there (``order:<quote>``, pending, to a shard of ``system:topups`` as any order does); whatever
  the share held beyond the price (data bundles differ by network) goes back to the sender at
  once (``gift:<id>:<n>:change``).
* **fulfilment** — the order settles as any order: delivered posts its reservation; a definite
  failure voids it back into ``system:gifts``, and ``after_settled`` refunds the sender from there
  (``gift:<id>:<n>:refund``).
* **expiry / decline** — the shares still pending are voided: the sender gets them back, once.

A gift announced in a group is shown there in its latest state: every claim, the expiry and a
decline queue a ``gift_status:<id>`` notification, which channels that can edit messages render
as an edit of the announcement.

Claims lock the gift row, so concurrent claims can never take more shares than there are; the
``(gift_id, user_id)`` and ``(gift_id, share)`` unique constraints back that up.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger
from domain.database import Database
from domain.models import Gift, GiftClaim, Notification, Order, utcnow
from domain.money import Money
from domain.orders import (
    OrderState,
    _add_order,
    create_quote,
    new_reference,
    topups_account,
)
from domain.purchase_terms import ProductKind, QuoteTerms, TermsRefused, check_terms, service_id_for

#: Unclaimed gifts expire after this long unless the caller says otherwise.
DEFAULT_TTL_HOURS = 48
DEFAULT_TTL_SECONDS = DEFAULT_TTL_HOURS * 3600.0
#: The most shares one giveaway may have.
MAX_SHARES = 50
#: The escrow account's name (``system:gifts:<CUR>``).
ESCROW = "gifts"


class GiftState(StrEnum):
    """Where a gift stands."""

    DRAFT = "draft"
    """Asked for, not yet confirmed by the sender: no money moved."""
    ACTIVE = "active"
    """Confirmed: money in escrow, claimable."""
    CLAIMED = "claimed"
    """Every share claimed."""
    EXPIRED = "expired"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class GiftProblem(StrEnum):
    """Why a gift cannot be confirmed or claimed."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    OWN_GIFT = "own_gift"
    NOT_ACTIVE = "not_active"
    EXPIRED = "expired"
    ALL_CLAIMED = "all_claimed"
    ALREADY_CLAIMED = "already_claimed"


class GiftRefused(Exception):
    """A confirmation or claim the gift does not allow."""

    def __init__(self, problem: GiftProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class GiftOffer:
    """What the sender gives: ``shares`` × ``amount`` minor units of airtime, or of a data bundle."""

    kind: ProductKind
    country: str
    currency: str
    amount: int
    shares: int = 1
    data_mb: int | None = None


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """Who claims a share of a gift and where its top-up goes."""

    user_id: int
    channel: str
    channel_user_id: str
    conversation_id: int
    phone: str
    network: str
    price: int
    bundle_code: str | None = None
    claimer_name: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """What a claim produced: the claim, its order, and whether this call created them."""

    claim: GiftClaim
    order: Order
    created: bool


def share_transfer_id(gift_id: int, share: int) -> str:
    """The escrow transfer of one share."""
    return f"gift:{gift_id}:{share}"


def _new_token(prefix: str) -> str:
    """A deep-link-safe single-use token (``A-Z a-z 0-9 _ -``, well under Telegram's 64)."""
    return prefix + secrets.token_urlsafe(15)


async def create_draft(
    session: AsyncSession,
    *,
    channel: str,
    sender_user_id: int,
    spec: str,
    sender_name: str | None = None,
    origin_conversation_id: int | None = None,
    recipient_channel_user_id: str | None = None,
    recipient_name: str | None = None,
    recipient_phone: str | None = None,
    ttl_hours: int = DEFAULT_TTL_HOURS,
) -> Gift:
    """Record a gift the sender has asked for but not confirmed (no money moves yet)."""
    gift = Gift(
        confirm_token=_new_token("c_"),
        claim_token=_new_token("g_"),
        channel=channel,
        sender_user_id=sender_user_id,
        sender_name=sender_name,
        origin_conversation_id=origin_conversation_id,
        recipient_channel_user_id=recipient_channel_user_id,
        recipient_name=recipient_name,
        recipient_phone=recipient_phone,
        spec=spec[:64],
        shares=1,
        claimed=0,
        state=GiftState.DRAFT,
        ttl_hours=ttl_hours,
    )
    session.add(gift)
    await session.flush()
    return gift


async def by_token(session: AsyncSession, token: str, *, lock: bool = False) -> Gift | None:
    """The gift a confirm or claim token belongs to."""
    column = Gift.confirm_token if token.startswith("c_") else Gift.claim_token
    statement = select(Gift).where(column == token)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def locked(session: AsyncSession, gift_id: int) -> Gift:
    """The gift, row-locked for the rest of the transaction (fresh from the database)."""
    gift = await session.scalar(
        select(Gift).where(Gift.id == gift_id).with_for_update().execution_options(populate_existing=True)
    )
    if gift is None:
        raise GiftRefused(GiftProblem.UNKNOWN)
    return gift


async def confirm(
    session: AsyncSession,
    gift_id: int,
    sender_user_id: int,
    offer: GiftOffer,
    *,
    sender_conversation_id: int | None = None,
    ttl_seconds: float = DEFAULT_TTL_SECONDS,
) -> tuple[Gift, bool]:
    """Escrow the gift's money (one pending transfer per share) and make it claimable.

    Returns the gift and whether this call confirmed it; confirming again moves no money.
    Raises ``ledger.InsufficientFunds`` (nothing written) or ``GiftRefused``.
    """
    if not 1 <= offer.shares <= MAX_SHARES or offer.amount <= 0:
        raise ValueError("a gift has 1 to 50 shares of a positive amount")
    gift = await locked(session, gift_id)
    if gift.sender_user_id != sender_user_id:
        raise GiftRefused(GiftProblem.NOT_YOURS)
    if gift.state != GiftState.DRAFT:
        if gift.state == GiftState.CANCELLED:
            raise GiftRefused(GiftProblem.NOT_ACTIVE)
        return gift, False
    wallet = await ledger.open_wallet(session, sender_user_id, offer.currency)
    escrow = await ledger.open_system_account(session, ESCROW, offer.currency)
    batch = [
        ledger.NewTransfer(
            id=share_transfer_id(gift.id, n),
            debit_account_id=wallet,
            credit_account_id=escrow,
            amount=offer.amount,
            currency=offer.currency,
            code=ledger.TransferCode.GIFT_ESCROW,
            pending=True,
        )
        for n in range(1, offer.shares + 1)
    ]
    # All shares or none: a linked batch writes nothing when the wallet cannot afford them all.
    results = await ledger.create_transfers(session, batch, linked=True)
    if ledger.TransferResult.INSUFFICIENT_FUNDS in results:
        raise ledger.InsufficientFunds(batch[0].id)
    if any(result is not ledger.TransferResult.CREATED for result in results):
        raise ledger.LedgerError(f"gift {gift.id}'s escrow exists with other terms: {results}")
    now = utcnow()
    gift.kind = offer.kind
    gift.country = offer.country
    gift.currency = offer.currency
    gift.amount = offer.amount
    gift.shares = offer.shares
    gift.data_mb = offer.data_mb
    gift.sender_conversation_id = sender_conversation_id
    gift.state = GiftState.ACTIVE
    gift.expires_at = now + timedelta(seconds=ttl_seconds)
    await session.flush()
    return gift, True


async def cancel_draft(session: AsyncSession, gift_id: int, sender_user_id: int) -> bool:
    """The sender changed their mind before confirming; False if it was no longer a draft."""
    gift = await locked(session, gift_id)
    if gift.sender_user_id != sender_user_id or gift.state != GiftState.DRAFT:
        return False
    gift.state = GiftState.CANCELLED
    gift.resolved_at = utcnow()
    return True


def claim_problem(
    gift: Gift, user_id: int, channel: str, channel_user_id: str, now: datetime | None = None
) -> GiftProblem | None:
    """Why ``user_id`` may not claim the gift now, or None when they may."""
    if gift.sender_user_id == user_id:
        return GiftProblem.OWN_GIFT
    if gift.recipient_channel_user_id is not None and (
        gift.channel != channel or gift.recipient_channel_user_id != channel_user_id
    ):
        return GiftProblem.NOT_YOURS
    if gift.state == GiftState.CLAIMED:
        return GiftProblem.ALL_CLAIMED
    if gift.state != GiftState.ACTIVE:
        return GiftProblem.EXPIRED if gift.state == GiftState.EXPIRED else GiftProblem.NOT_ACTIVE
    if gift.expires_at is not None and gift.expires_at <= (now or utcnow()):
        return GiftProblem.EXPIRED
    if gift.claimed >= gift.shares:
        return GiftProblem.ALL_CLAIMED
    return None


async def claim_of(session: AsyncSession, gift_id: int, user_id: int) -> GiftClaim | None:
    """The user's claim on a gift, if they made one."""
    return await session.scalar(
        select(GiftClaim).where(GiftClaim.gift_id == gift_id, GiftClaim.user_id == user_id)
    )


async def claim(session: AsyncSession, gift_id: int, request: ClaimRequest) -> Claimed:
    """Claim one share for ``request.user_id``: post it from escrow and place the top-up order it pays for.

    The gift row is locked, so concurrent claims queue and none can take a share that is gone.
    Claiming again returns the first claim. Raises ``GiftRefused``, or ``TermsRefused`` for a
    top-up the catalog does not allow (a number abroad, a price off the network's range), in
    both cases before anything is written.
    """
    gift = await locked(session, gift_id)
    existing = await claim_of(session, gift.id, request.user_id)
    if existing is not None and existing.order_id is not None:
        order = await session.get(Order, existing.order_id)
        assert order is not None
        return Claimed(existing, order, created=False)
    problem = claim_problem(gift, request.user_id, request.channel, request.channel_user_id)
    if problem is not None:
        raise GiftRefused(problem)
    assert gift.amount is not None and gift.currency is not None and gift.country is not None
    if request.price > gift.amount:
        raise ValueError("a claim cannot cost more than its share")
    kind = ProductKind(gift.kind or ProductKind.AIRTIME)
    terms = QuoteTerms(
        kind,
        gift.country,
        request.network,
        request.phone,
        Money(request.price, gift.currency),
        request.bundle_code,
    )
    if terms_problem := check_terms(terms):
        raise TermsRefused(terms_problem)  # before anything is written
    share = gift.claimed + 1
    posted = await ledger.post_pending(session, share_transfer_id(gift.id, share))
    if not posted:
        raise GiftRefused(GiftProblem.NOT_ACTIVE)
    escrow = await ledger.open_system_account(session, ESCROW, gift.currency)
    topups = await ledger.open_system_account(session, topups_account(request.user_id), gift.currency)
    quote = await create_quote(session, request.conversation_id, request.user_id, terms, 600.0)
    transfer_id = f"order:{quote.id}"
    await ledger.create_transfer(
        session,
        ledger.NewTransfer(
            transfer_id,
            escrow,
            topups,
            request.price,
            gift.currency,
            ledger.TransferCode.GIFT_PURCHASE,
            pending=True,
        ),
    )
    if gift.amount > request.price:
        wallet = await ledger.open_wallet(session, gift.sender_user_id, gift.currency)
        await ledger.create_transfer(
            session,
            ledger.NewTransfer(
                f"{share_transfer_id(gift.id, share)}:change",
                escrow,
                wallet,
                gift.amount - request.price,
                gift.currency,
                ledger.TransferCode.GIFT_CHANGE,
            ),
        )
    now = utcnow()
    values = {
        "reference": new_reference(now),
        "quote_id": quote.id,
        "user_id": request.user_id,
        "conversation_id": request.conversation_id,
        "kind": kind,
        "country": gift.country,
        "network": request.network,
        "service_id": service_id_for(gift.country, request.network),
        "phone": request.phone,
        "amount": request.price,
        "currency": gift.currency,
        "bundle_code": request.bundle_code,
        "transfer_id": transfer_id,
        "state": OrderState.PLACED,
        "attempts": 0,
        "next_check_at": None,
        "provider_reference": None,
        "created_at": now,
        "updated_at": now,
    }
    order_id = await _add_order(session, values, f"gift {gift.id} share {share}")
    order = Order(id=order_id, **values)
    row = GiftClaim(
        gift_id=gift.id,
        share=share,
        user_id=request.user_id,
        claimer_name=request.claimer_name,
        phone=request.phone,
        order_id=order_id,
    )
    session.add(row)
    gift.claimed = share
    if share >= gift.shares:
        gift.state = GiftState.CLAIMED
        gift.resolved_at = now
    _show(session, gift)
    await session.flush()
    return Claimed(row, order, created=True)


async def _void_remaining(session: AsyncSession, gift: Gift, state: GiftState) -> int:
    """Void every share still in escrow (the refund) and close the gift; return the amount voided."""
    refunded = 0
    for share in range(gift.claimed + 1, gift.shares + 1):
        if await ledger.void_pending(session, share_transfer_id(gift.id, share)):
            refunded += gift.amount or 0
    gift.state = state
    gift.resolved_at = utcnow()
    return refunded


async def tell(
    session: AsyncSession,
    user_id: int,
    conversation_id: int | None,
    kind: str,
    order_id: int | None = None,
) -> None:
    """Queue a notification (rendered by the conversation layer) unless it is already queued."""
    if conversation_id is None:
        return
    already = await session.scalar(
        select(Notification.id).where(
            Notification.kind == kind,
            Notification.conversation_id == conversation_id,
            Notification.order_id.is_(None) if order_id is None else Notification.order_id == order_id,
        )
    )
    if already is None:
        session.add(
            Notification(user_id=user_id, conversation_id=conversation_id, kind=kind, order_id=order_id)
        )


def _show(session: AsyncSession, gift: Gift) -> None:
    """Queue a refresh of the gift's group announcement (gifts asked for in a group only)."""
    if gift.origin_conversation_id in (None, gift.sender_conversation_id):
        return
    # One per change, never merged with an undelivered one: that one may be rendering right now
    # from the state before this change.
    session.add(
        Notification(
            user_id=gift.sender_user_id,
            conversation_id=gift.origin_conversation_id,
            kind=f"gift_status:{gift.id}",
        )
    )


async def decline(
    session: AsyncSession, gift_id: int, channel: str, channel_user_id: str, user_id: int
) -> int:
    """The named recipient turns the gift down: the sender is refunded and told. Returns the refund."""
    gift = await locked(session, gift_id)
    problem = claim_problem(gift, user_id, channel, channel_user_id)
    if problem is not None:
        raise GiftRefused(problem)
    if gift.recipient_channel_user_id is None:
        raise GiftRefused(GiftProblem.NOT_YOURS)  # a giveaway is not anyone's to decline
    refunded = await _void_remaining(session, gift, GiftState.DECLINED)
    _show(session, gift)
    await tell(session, gift.sender_user_id, gift.sender_conversation_id, f"gift_declined:{gift.id}")
    return refunded


async def expire(session: AsyncSession, gift_id: int, now: datetime | None = None) -> int:
    """Expire one gift if it is due: void the unclaimed shares and tell the sender. Returns the refund."""
    gift = await locked(session, gift_id)
    moment = now or utcnow()
    if gift.state != GiftState.ACTIVE or gift.expires_at is None or gift.expires_at > moment:
        return 0
    refunded = await _void_remaining(session, gift, GiftState.EXPIRED)
    _show(session, gift)
    if refunded:
        await tell(session, gift.sender_user_id, gift.sender_conversation_id, f"gift_expired:{gift.id}")
    return refunded


async def due_for_expiry(session: AsyncSession, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Active gifts whose time is up."""
    statement = (
        select(Gift.id)
        .where(Gift.state == GiftState.ACTIVE, Gift.expires_at <= (now or utcnow()))
        .order_by(Gift.id)
        .limit(limit)
    )
    return list((await session.scalars(statement)).all())


async def expire_due(db: Database, now: datetime | None = None, limit: int = 500) -> int:
    """Expire every due gift, one transaction each (the beat task); return how many refunded money."""
    async with db.transaction() as session:
        due = await due_for_expiry(session, now, limit)
    count = 0
    for gift_id in due:
        async with db.transaction() as session:
            if await expire(session, gift_id, now):
                count += 1
    return count


async def after_settled(session: AsyncSession, order: Order, state: OrderState) -> bool:
    """Fulfilment's hook: settle a gift order's other side. True when the order was a gift's.

    Delivered: the sender is told. Refunded: the order's reservation came back to the escrow,
    which now returns it to the sender, who is told (the claimer gets no "back in your wallet").
    """
    row = await session.scalar(select(GiftClaim).where(GiftClaim.order_id == order.id))
    if row is None:
        return False
    gift = await session.get(Gift, row.gift_id)
    assert gift is not None and gift.currency is not None
    if state is OrderState.DELIVERED:
        await tell(session, gift.sender_user_id, gift.sender_conversation_id, "gift_delivered", order.id)
        if gift.origin_conversation_id not in (None, gift.sender_conversation_id):
            await tell(session, gift.sender_user_id, gift.origin_conversation_id, "gift_claimed", order.id)
    elif state is OrderState.REFUNDED:
        escrow = await ledger.open_system_account(session, ESCROW, gift.currency)
        wallet = await ledger.open_wallet(session, gift.sender_user_id, gift.currency)
        await ledger.create_transfer(
            session,
            ledger.NewTransfer(
                f"{share_transfer_id(gift.id, row.share)}:refund",
                escrow,
                wallet,
                order.amount,
                gift.currency,
                ledger.TransferCode.GIFT_REFUND,
            ),
        )
        await tell(session, gift.sender_user_id, gift.sender_conversation_id, "gift_failed", order.id)
        await tell(session, order.user_id, order.conversation_id, "gift_undelivered", order.id)
    return True
