"""Gifts: the sender escrows the money, a recipient claims it as a top-up; the same for every door.

The money rules are ``domain.gifts``' (escrow per share, claims under the gift's row lock,
refunds through the settlement hook); these use cases own the unit of work, return typed
problems instead of raising, and queue a claim's order for fulfilment only after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import gifts, ledger, users
from domain.gifts import Claimed, GiftProblem, GiftRefused
from domain.models import Gift
from domain.money import Money
from domain.ports import FulfilmentQueue
from domain.purchase_terms import ProductKind, TermsProblem, TermsRefused
from services.purchases import InsufficientFunds
from services.unit_of_work import UnitOfWork


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
class GiftConfirmed:
    """The gift is escrowed and claimable (``created`` False: it already was)."""

    gift: Gift
    created: bool


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    """Who claims a share of a gift and where its top-up goes."""

    gift_id: int
    user_id: int
    channel: str
    channel_user_id: str
    conversation_id: int
    phone: str
    network: str
    price: int
    bundle_code: str | None = None
    claimer_name: str | None = None


async def confirm_gift(
    uow: UnitOfWork,
    *,
    gift_id: int,
    sender_user_id: int,
    offer: GiftOffer,
    sender_conversation_id: int | None,
    ttl_seconds: float,
) -> GiftConfirmed | InsufficientFunds | GiftProblem:
    """Escrow the gift's money from the sender's wallet, all shares or none, once."""
    async with uow.transaction() as session:
        try:
            gift, created = await gifts.confirm(
                session,
                gift_id,
                sender_user_id,
                kind=offer.kind,
                country=offer.country,
                currency=offer.currency,
                amount=offer.amount,
                shares=offer.shares,
                data_mb=offer.data_mb,
                sender_conversation_id=sender_conversation_id,
                ttl_seconds=ttl_seconds,
            )
        except GiftRefused as refused:
            return refused.problem
        except ledger.InsufficientFunds:
            available = await users.available_balance(session, sender_user_id, offer.currency)
            total = Money(offer.amount * offer.shares, offer.currency)
            return InsufficientFunds(total, Money(available, offer.currency))
    return GiftConfirmed(gift, created)


async def claim_gift(
    uow: UnitOfWork, queue: FulfilmentQueue, request: ClaimRequest
) -> Claimed | GiftProblem | TermsProblem:
    """Claim one share: its top-up order is placed from the escrow and queued after the commit."""
    async with uow.transaction() as session:
        try:
            claimed = await gifts.claim(
                session,
                request.gift_id,
                user_id=request.user_id,
                channel=request.channel,
                channel_user_id=request.channel_user_id,
                conversation_id=request.conversation_id,
                phone=request.phone,
                network=request.network,
                price=request.price,
                bundle_code=request.bundle_code,
                claimer_name=request.claimer_name,
            )
        except GiftRefused as refused:
            return refused.problem
        except TermsRefused as refused:
            return refused.problem
        if claimed.created:
            order_id = claimed.order.id
            uow.after_commit(lambda: queue.enqueue(order_id))
    return claimed
