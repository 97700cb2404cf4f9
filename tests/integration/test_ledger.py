"""The ledger on real PostgreSQL: no overdraft under concurrency, idempotency, zero-sum currencies."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from domain import ledger
from domain.database import Database
from domain.ledger import InsufficientFunds, NewTransfer, TransferResult
from domain.models import Transfer
from tests.integration.ledger_check import assert_ledger_balanced


async def _funded_wallet(db: Database, amount: int, currency: str = "NGN") -> tuple[int, int, int]:
    """A fresh wallet holding ``amount``, plus the promo and topups accounts of its currency."""
    async with db.transaction() as session:
        wallet = await ledger.open_account(session, f"test:{uuid.uuid4().hex}", currency, no_overdraft=True)
        promo = await ledger.open_system_account(session, "promo", currency)
        topups = await ledger.open_system_account(session, "topups", currency)
        await ledger.create_transfer(
            session, NewTransfer(uuid.uuid4().hex, promo, wallet, amount, currency, "promo")
        )
    return wallet, promo, topups


async def test_200_concurrent_purchases_against_a_wallet_that_affords_50(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 50 * 500)

    async def purchase() -> bool:
        try:
            async with db.transaction() as session:
                await ledger.create_transfer(
                    session,
                    NewTransfer(uuid.uuid4().hex, wallet, topups, 500, "NGN", "purchase", pending=True),
                )
            return True
        except InsufficientFunds:
            return False

    outcomes = await asyncio.gather(*(purchase() for _ in range(200)))

    assert sum(outcomes) == 50
    async with db.transaction() as session:
        bal = await ledger.balance(session, wallet)
    assert bal.available == 0
    assert bal.debits_pending == 50 * 500
    await assert_ledger_balanced(db)


async def test_replaying_an_idempotency_key_moves_money_once(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 10_000)
    transfer = NewTransfer(uuid.uuid4().hex, wallet, topups, 1_500, "NGN", "purchase")

    async def attempt() -> TransferResult:
        async with db.transaction() as session:
            return await ledger.create_transfer(session, transfer)

    results = await asyncio.gather(*(attempt() for _ in range(10)))

    assert sorted(results) == sorted([TransferResult.CREATED] + [TransferResult.EXISTS] * 9)
    async with db.transaction() as session:
        assert (await ledger.balance(session, wallet)).available == 8_500
    await assert_ledger_balanced(db)


async def test_same_id_with_other_terms_is_a_conflict(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 10_000)
    key = uuid.uuid4().hex
    async with db.transaction() as session:
        await ledger.create_transfer(session, NewTransfer(key, wallet, topups, 100, "NGN", "purchase"))
    with pytest.raises(ledger.TransferConflict):
        async with db.transaction() as session:
            await ledger.create_transfer(session, NewTransfer(key, wallet, topups, 200, "NGN", "purchase"))


async def test_pending_then_post_or_void_resolves_once(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 1_000)
    posted, voided = uuid.uuid4().hex, uuid.uuid4().hex
    async with db.transaction() as session:
        await ledger.create_transfer(
            session, NewTransfer(posted, wallet, topups, 300, "NGN", "purchase", pending=True)
        )
        await ledger.create_transfer(
            session, NewTransfer(voided, wallet, topups, 400, "NGN", "purchase", pending=True)
        )
        assert (await ledger.balance(session, wallet)).available == 300

    async with db.transaction() as session:
        assert await ledger.post_pending(session, posted)
        assert await ledger.void_pending(session, voided)
        assert not await ledger.post_pending(session, posted)
        assert not await ledger.void_pending(session, posted)
        assert not await ledger.post_pending(session, voided)
        bal = await ledger.balance(session, wallet)
    assert (bal.posted, bal.available, bal.debits_pending) == (700, 700, 0)
    await assert_ledger_balanced(db)


async def test_concurrent_post_and_void_of_one_pending_transfer_resolve_it_once(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 1_000)
    key = uuid.uuid4().hex
    async with db.transaction() as session:
        await ledger.create_transfer(
            session, NewTransfer(key, wallet, topups, 600, "NGN", "purchase", pending=True)
        )

    async def resolve(post: bool) -> bool:
        async with db.transaction() as session:
            return await (ledger.post_pending if post else ledger.void_pending)(session, key)

    results = await asyncio.gather(*(resolve(i % 2 == 0) for i in range(20)))

    assert sum(results) == 1
    async with db.transaction() as session:
        bal = await ledger.balance(session, wallet)
    assert bal.debits_pending == 0 and bal.available in (400, 1_000)
    await assert_ledger_balanced(db)


async def test_a_linked_batch_is_created_whole_or_not_at_all(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 1_000)
    done = NewTransfer(uuid.uuid4().hex, wallet, topups, 100, "NGN", "purchase")
    async with db.transaction() as session:
        assert await ledger.create_transfer(session, done) is TransferResult.CREATED
    cases = [
        ([400, 700], [TransferResult.LINKED_EVENT_FAILED, TransferResult.INSUFFICIENT_FUNDS]),
        (None, [TransferResult.LINKED_EVENT_FAILED, TransferResult.EXISTS]),  # one already exists
    ]
    for amounts, expected in cases:
        fresh = NewTransfer(uuid.uuid4().hex, wallet, topups, 300, "NGN", "purchase", pending=True)
        batch = (
            [
                NewTransfer(uuid.uuid4().hex, wallet, topups, a, "NGN", "purchase", pending=True)
                for a in amounts
            ]
            if amounts
            else [fresh, done]
        )
        # Committed on purpose: the refusal must leave nothing behind even when the caller goes on.
        async with db.transaction() as session:
            assert await ledger.create_transfers(session, batch, linked=True) == expected
        async with db.transaction() as session:
            assert await session.get(Transfer, batch[0].id) is None
            assert (await ledger.balance(session, wallet)).available == 900
    async with db.transaction() as session:
        both = [NewTransfer(uuid.uuid4().hex, wallet, topups, 450, "NGN", "purchase") for _ in range(2)]
        assert await ledger.create_transfers(session, both, linked=True) == [TransferResult.CREATED] * 2
        assert (await ledger.balance(session, wallet)).available == 0
    await assert_ledger_balanced(db)


async def test_a_batch_applies_in_order_and_rejects_only_what_overdraws(db: Database) -> None:
    wallet, _promo, topups = await _funded_wallet(db, 1_000)
    batch = [
        NewTransfer(uuid.uuid4().hex, wallet, topups, amount, "NGN", "purchase") for amount in (400, 700, 600)
    ]
    async with db.transaction() as session:
        results = await ledger.create_transfers(session, batch)
        bal = await ledger.balance(session, wallet)
    assert results == [TransferResult.CREATED, TransferResult.INSUFFICIENT_FUNDS, TransferResult.CREATED]
    assert bal.available == 0
    await assert_ledger_balanced(db)


def test_amounts_are_positive_integers() -> None:
    for bad in (0, -5, 1.5, True):
        with pytest.raises(ledger.LedgerError):
            NewTransfer("x", 1, 2, bad, "NGN", "purchase")  # type: ignore[arg-type]


async def test_one_transfer_moves_posted_or_pending_totals_and_a_refused_one_leaves_no_trace(
    db: Database,
) -> None:
    wallet, promo, topups = await _funded_wallet(db, 1_000)
    refused = uuid.uuid4().hex
    async with db.transaction() as session:
        topups_before = await ledger.balance(session, topups)
        await ledger.create_transfer(
            session, NewTransfer(uuid.uuid4().hex, wallet, topups, 300, "NGN", "purchase")
        )
        await ledger.create_transfer(
            session, NewTransfer(uuid.uuid4().hex, wallet, topups, 200, "NGN", "purchase", pending=True)
        )
        with pytest.raises(InsufficientFunds):
            await ledger.create_transfer(
                session, NewTransfer(refused, wallet, topups, 501, "NGN", "purchase")
            )
        # A system account may go below zero: promo funds wallets from nothing.
        await ledger.create_transfer(
            session, NewTransfer(uuid.uuid4().hex, promo, wallet, 5, "NGN", "purchase")
        )
        wallet_now, topups_now = await ledger.balance(session, wallet), await ledger.balance(session, topups)
        assert await session.get(Transfer, refused) is None
    assert (wallet_now.posted, wallet_now.debits_pending, wallet_now.available) == (705, 200, 505)
    assert topups_now.credits_posted - topups_before.credits_posted == 300
    assert topups_now.credits_pending - topups_before.credits_pending == 200
    await assert_ledger_balanced(db)


async def test_a_transfer_between_currencies_is_refused(db: Database) -> None:
    wallet, _promo, _topups = await _funded_wallet(db, 1_000)
    async with db.transaction() as session:
        cedis = await ledger.open_system_account(session, "topups", "GHS")
    with pytest.raises(ledger.LedgerError, match="currency"):
        async with db.transaction() as session:
            await ledger.create_transfer(
                session, NewTransfer(uuid.uuid4().hex, wallet, cedis, 10, "NGN", "purchase")
            )
    async with db.transaction() as session:
        assert (await ledger.balance(session, wallet)).available == 1_000
