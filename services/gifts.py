"""Gifts: the sender escrows the money, a recipient claims it as a top-up; the same for every door.

The money rules are ``domain.gifts``' (escrow per share, claims under the gift's row lock,
refunds through the settlement hook); these use cases own the unit of work, return typed
problems instead of raising, and queue a claim's order for fulfilment only after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain import gifts, ledger, users
from domain.gifts import Claimed, ClaimRequest, GiftOffer, GiftProblem, GiftRefused
from domain.models import Gift
from domain.money import Money
from domain.ports import FulfilmentQueue
from domain.purchase_terms import TermsProblem, TermsRefused
from services.purchases import InsufficientFunds
from services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class GiftConfirmed:
    """The gift is escrowed and claimable (``created`` False: it already was)."""

    gift: Gift
    created: bool


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
                offer,
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
    uow: UnitOfWork, queue: FulfilmentQueue, gift_id: int, request: ClaimRequest
) -> Claimed | GiftProblem | TermsProblem:
    """Claim one share: its top-up order is placed from the escrow and queued after the commit."""
    async with uow.transaction() as session:
        try:
            claimed = await gifts.claim(session, gift_id, request)
        except GiftRefused as refused:
            return refused.problem
        except TermsRefused as refused:
            return refused.problem
        if claimed.created:
            order_id = claimed.order.id
            uow.after_commit(lambda: queue.enqueue(order_id))
    return claimed


__all__ = ["ClaimRequest", "GiftConfirmed", "GiftOffer", "claim_gift", "confirm_gift"]
