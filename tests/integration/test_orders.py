"""Placing orders on real PostgreSQL: concurrent confirmations of one quote place one order."""

from __future__ import annotations

import asyncio
import uuid

from domain import ledger, orders, users
from domain.database import Database
from domain.models import Conversation, Order
from domain.money import Money
from domain.orders import ProductKind, QuoteTerms


async def test_concurrent_confirmations_of_one_quote_place_one_order(db: Database) -> None:
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", uuid.uuid4().hex)
        conversation = Conversation(user_id=known.user.id, channel="test", chat_id=uuid.uuid4().hex)
        session.add(conversation)
        wallet = await ledger.open_wallet(session, known.user.id, "NGN")
        promo = await ledger.open_system_account(session, "promo", "NGN")
        await ledger.create_transfer(
            session, ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, 100_000, "NGN", "promo")
        )
        terms = QuoteTerms(ProductKind.AIRTIME, "NG", "mtn", "+2348031234567", Money.of("100", "NGN"))
        quote = await orders.create_quote(session, conversation.id, known.user.id, terms, 600)

    async def confirm() -> orders.Placed:
        async with db.transaction() as session:
            return await orders.place_order(session, quote.id, known.user.id, "mtn")

    results = await asyncio.gather(*(confirm() for _ in range(10)))
    assert sum(placed.created for placed in results) == 1
    assert len({placed.order.id for placed in results}) == 1
    async with db.transaction() as session:
        assert (await ledger.balance(session, wallet)).available == 100_000 - 10_000
        # Settle it (refund) so no order stays in flight for the other tests of this database.
        order = await session.get(Order, results[0].order.id)
        assert order is not None
        assert await ledger.void_pending(session, order.transfer_id)
        await orders.record_state(session, order, orders.OrderState.REFUNDED, "test cleanup")
