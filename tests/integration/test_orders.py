"""Placing orders on real PostgreSQL: concurrent confirmations of one quote place one order."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger, orders, users
from domain.database import Database
from domain.models import Account, Conversation, Order, Quote, Transfer
from domain.money import Money
from domain.purchase_terms import OutOfRange, ProductKind, QuoteTerms, TermsRefused, WrongCountry
from tests.integration.ledger_check import assert_ledger_balanced


async def _funded_quote(session: AsyncSession, balance: int) -> tuple[int, int, Quote]:
    """A new user with ``balance`` kobo in their wallet and a ₦100 airtime quote: (user, wallet, quote)."""
    known = await users.find_or_create_user(session, "test", uuid.uuid4().hex)
    conversation = Conversation(user_id=known.user.id, channel="test", chat_id=uuid.uuid4().hex)
    session.add(conversation)
    wallet = await ledger.open_wallet(session, known.user.id, "NGN")
    promo = await ledger.open_system_account(session, "promo", "NGN")
    await ledger.create_transfer(
        session, ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, balance, "NGN", "promo")
    )
    terms = QuoteTerms(ProductKind.AIRTIME, "NG", "mtn", "+2348031234567", Money.of("100", "NGN"))
    quote = await orders.create_quote(session, conversation.id, known.user.id, terms, 600)
    return known.user.id, wallet, quote


async def test_concurrent_confirmations_of_one_quote_place_one_order(db: Database) -> None:
    async with db.transaction() as session:
        user_id, wallet, quote = await _funded_quote(session, 100_000)

    async def confirm() -> orders.Placed:
        async with db.transaction() as session:
            return await orders.place_order(session, quote.id, user_id)

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


async def _placed_for_new_user(db: Database) -> tuple[int, str]:
    """A new user with a funded wallet places one ₦100 order; returns (user id, credit account code)."""
    async with db.transaction() as session:
        user_id, _wallet, quote = await _funded_quote(session, 10_000)
        placed = await orders.place_order(session, quote.id, user_id)
        transfer = await session.get(Transfer, placed.order.transfer_id)
        assert transfer is not None
        credited = await session.get(Account, transfer.credit_account_id)
        assert credited is not None
        assert await ledger.void_pending(session, placed.order.transfer_id)
        await orders.record_state(session, placed.order, orders.OrderState.REFUNDED, "test cleanup")
        return user_id, credited.code


async def test_orders_reserve_their_price_in_the_topups_shard_of_their_user(db: Database) -> None:
    placed = [await _placed_for_new_user(db) for _ in range(ledger.SHARDS + 1)]
    for user_id, code in placed:
        assert code == f"system:topups.{user_id % ledger.SHARDS}:NGN"
    assert len({code for _, code in placed}) == ledger.SHARDS  # consecutive users, every shard
    await assert_ledger_balanced(db)


async def test_a_one_kobo_quote_for_a_ghanaian_number_from_a_nigerian_wallet_is_refused(db: Database) -> None:
    async with db.transaction() as session:
        user_id, wallet, _quote = await _funded_quote(session, 100_000)
        conversation_id = _quote.conversation_id
        terms = QuoteTerms(ProductKind.AIRTIME, "NG", "mtn", "+233241234567", Money(1, "NGN"))
        with pytest.raises(TermsRefused) as refused:
            await orders.create_quote(session, conversation_id, user_id, terms, 600)
        assert refused.value.problem == WrongCountry("NG", "GH")
        one_kobo = QuoteTerms(ProductKind.AIRTIME, "NG", "mtn", "+2348031234567", Money(1, "NGN"))
        with pytest.raises(TermsRefused) as refused:
            await orders.create_quote(session, conversation_id, user_id, one_kobo, 600)
        assert isinstance(refused.value.problem, OutOfRange)
        assert (await ledger.balance(session, wallet)).available == 100_000
    await assert_ledger_balanced(db)


async def test_the_order_takes_its_service_id_from_the_catalog_for_the_quotes_network(db: Database) -> None:
    async with db.transaction() as session:
        user_id, _wallet, quote = await _funded_quote(session, 100_000)
        placed = await orders.place_order(session, quote.id, user_id)
        assert placed.order.service_id == "mtn" and placed.order.network == "mtn"
        assert await ledger.void_pending(session, placed.order.transfer_id)
        await orders.record_state(session, placed.order, orders.OrderState.REFUNDED, "test cleanup")
    await assert_ledger_balanced(db)
