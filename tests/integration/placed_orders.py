"""Orders placed straight through the domain for fulfilment tests: a funded user, a quote, an order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from domain import ledger, orders, users
from domain.database import Database
from domain.models import Conversation
from domain.money import Money
from domain.purchase_terms import ProductKind, QuoteTerms

AMOUNT = Money.of("100", "NGN")


@dataclass(frozen=True)
class PlacedOrder:
    """An order placed for a freshly funded user."""

    order_id: int
    reference: str
    transfer_id: str
    wallet_id: int
    funded: int


async def place(db: Database, phone: str, *, funded: int = 100_000, price: Money = AMOUNT) -> PlacedOrder:
    """Create a user with a funded NGN wallet and place an MTN airtime order to ``phone``."""
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", uuid.uuid4().hex)
        conversation = Conversation(user_id=known.user.id, channel="test", chat_id=uuid.uuid4().hex)
        session.add(conversation)
        await session.flush()
        wallet = await ledger.open_wallet(session, known.user.id, "NGN")
        promo = await ledger.open_system_account(session, "promo", "NGN")
        await ledger.create_transfer(
            session, ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, funded, "NGN", "promo")
        )
        terms = QuoteTerms(ProductKind.AIRTIME, "NG", "MTN", phone, price)
        quote = await orders.create_quote(session, conversation.id, known.user.id, terms, 600)
        placed = await orders.place_order(session, quote.id, known.user.id)
    order = placed.order
    return PlacedOrder(order.id, order.reference, order.transfer_id, wallet, funded)
