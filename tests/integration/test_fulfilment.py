"""Fulfilment on real PostgreSQL against the in-process VTpass sandbox through the real adapter.

Every outcome the sandbox can produce (by the recipient's last 4 digits) must end with money
moved exactly once: posted on delivery, voided on a definite failure, held otherwise.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import select

from domain import ledger
from domain.database import Database
from domain.fulfilment import CheckAgain, Settled, fulfil
from domain.models import Notification, Order, Transfer
from domain.orders import OrderState
from nexustop.providers import build_topup_provider
from nexustop.queues import InProcessQueue
from nexustop.settings import Settings
from payments.vtpass import VTpassProvider
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration.ledger_check import assert_ledger_balanced
from tests.integration.placed_orders import AMOUNT, PlacedOrder, place

CLIENT_TIMEOUT = 0.3
SANDBOX_DELAY = 1.0
FAST = (0.0, 0.0, 0.0, 0.0, 0.0)


def ng(last4: str) -> str:
    """An E.164 Nigerian MTN number ending in ``last4``."""
    return f"+234803123{last4}"


async def snapshot(db: Database, placed: PlacedOrder) -> tuple[Order, str, ledger.Balance, set[str]]:
    """The order, its transfer's state, the wallet balance and the order's notification kinds."""
    async with db.transaction() as session:
        order = await session.get(Order, placed.order_id, populate_existing=True)
        assert order is not None
        transfer = await session.get(Transfer, placed.transfer_id, populate_existing=True)
        assert transfer is not None
        balance = await ledger.balance(session, placed.wallet_id)
        kinds = set(
            (await session.scalars(select(Notification.kind).where(Notification.order_id == order.id))).all()
        )
    return order, transfer.state, balance, kinds


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[str]:
    """The VTpass sandbox on this loop, replies to 3333/7777 held past the client timeout."""
    runner, base_url = await start_vtpass_sandbox(timeout_delay=SANDBOX_DELAY, pending_requeries=2)
    yield base_url
    await runner.cleanup()


@pytest_asyncio.fixture
async def provider(sandbox: str) -> AsyncIterator[VTpassProvider]:
    """The real adapter, built from settings as production builds it, with a short timeout."""
    settings = Settings(vtpass_base_url=sandbox, provider_timeout_seconds=CLIENT_TIMEOUT)
    async with build_topup_provider(settings) as vtpass:
        yield vtpass


@pytest_asyncio.fixture
async def knobs(sandbox: str) -> AsyncIterator[Any]:
    """Set sandbox knobs for one test; the module defaults come back afterwards."""
    async with aiohttp.ClientSession() as http:

        async def set_knobs(**values: Any) -> None:
            async with http.post(f"{sandbox}/sandbox/control", json=values) as response:
                assert response.status == 200, await response.text()

        yield set_knobs
        await set_knobs(pending_requeries=2, pending_seconds=None, timeout_delay=SANDBOX_DELAY, force=None)


@pytest.fixture(autouse=True)
async def ledger_stays_balanced(db: Database) -> AsyncIterator[None]:
    """After every test: each currency sums to zero and no wallet is overdrawn."""
    yield
    await assert_ledger_balanced(db)


async def recorded(sandbox: str, reference: str) -> list[dict[str, Any]]:
    """The sandbox's transactions under ``reference``."""
    async with aiohttp.ClientSession() as http, http.get(f"{sandbox}/sandbox/transactions") as response:
        body = await response.json()
    return [t for t in body["transactions"] if t["request_id"] == reference]


async def settle(db: Database, provider: VTpassProvider, order_id: int, limit: int = 10) -> Settled:
    """Run fulfil steps (without waiting out the delays) until the order settles."""
    for _ in range(limit):
        step = await fulfil(db, provider, order_id, FAST)
        if isinstance(step, Settled):
            return step
    raise AssertionError(f"order {order_id} did not settle in {limit} steps")


async def test_success_posts_the_transfer(db: Database, provider: VTpassProvider, sandbox: str) -> None:
    placed = await place(db, ng("4567"))

    step = await fulfil(db, provider, placed.order_id, FAST)

    assert step == Settled(OrderState.DELIVERED)
    order, transfer_state, balance, kinds = await snapshot(db, placed)
    assert order.state == OrderState.DELIVERED and order.provider_reference
    assert transfer_state == ledger.TransferState.POSTED
    assert (balance.posted, balance.debits_pending) == (placed.funded - AMOUNT.minor, 0)
    assert "order_delivered" in kinds
    assert len(await recorded(sandbox, placed.reference)) == 1
    assert await fulfil(db, provider, placed.order_id, FAST) == Settled(OrderState.DELIVERED)


async def test_definite_failure_voids_the_transfer(db: Database, provider: VTpassProvider) -> None:
    placed = await place(db, ng("0000"))

    step = await fulfil(db, provider, placed.order_id, FAST)

    assert step == Settled(OrderState.REFUNDED)
    order, transfer_state, balance, kinds = await snapshot(db, placed)
    assert order.state == OrderState.REFUNDED
    assert transfer_state == ledger.TransferState.VOIDED
    assert (balance.posted, balance.available, balance.debits_pending) == (placed.funded, placed.funded, 0)
    assert "order_refunded" in kinds and "order_delivered" not in kinds


async def test_pending_then_delivered_over_several_steps(db: Database, provider: VTpassProvider) -> None:
    placed = await place(db, ng("2222"))

    steps = [await fulfil(db, provider, placed.order_id, FAST) for _ in range(3)]
    held = await snapshot(db, placed)
    final = await fulfil(db, provider, placed.order_id, FAST)

    assert all(isinstance(s, CheckAgain) for s in steps)
    assert held[0].state == OrderState.SUBMITTED and held[1] == ledger.TransferState.PENDING
    assert "order_pending" in held[3]
    assert final == Settled(OrderState.DELIVERED)
    _order, transfer_state, balance, _kinds = await snapshot(db, placed)
    assert transfer_state == ledger.TransferState.POSTED
    assert balance.posted == placed.funded - AMOUNT.minor


async def test_pending_then_reversed_refunds(db: Database, provider: VTpassProvider) -> None:
    placed = await place(db, ng("4444"))

    assert await settle(db, provider, placed.order_id) == Settled(OrderState.REFUNDED)
    _order, transfer_state, balance, _kinds = await snapshot(db, placed)
    assert transfer_state == ledger.TransferState.VOIDED and balance.available == placed.funded


async def test_timeout_checks_again_and_never_refunds(
    db: Database, provider: VTpassProvider, sandbox: str
) -> None:
    placed = await place(db, ng("3333"))

    first = await fulfil(db, provider, placed.order_id, (5.0, 10.0))

    assert first == CheckAgain(5.0)
    order, transfer_state, balance, kinds = await snapshot(db, placed)
    assert order.state == OrderState.SUBMITTED and order.next_check_at is not None
    assert transfer_state == ledger.TransferState.PENDING
    assert balance.debits_pending == AMOUNT.minor and "order_refunded" not in kinds
    assert await fulfil(db, provider, placed.order_id, (5.0, 10.0)) == Settled(OrderState.DELIVERED)
    assert (await snapshot(db, placed))[1] == ledger.TransferState.POSTED
    assert len(await recorded(sandbox, placed.reference)) == 1


async def test_http_500_is_unknown_then_delivered(db: Database, provider: VTpassProvider) -> None:
    placed = await place(db, ng("5555"))

    assert isinstance(await fulfil(db, provider, placed.order_id, FAST), CheckAgain)
    assert await fulfil(db, provider, placed.order_id, FAST) == Settled(OrderState.DELIVERED)


async def test_lost_request_is_sent_again_under_the_same_reference(
    db: Database, provider: VTpassProvider, sandbox: str, knobs: Any
) -> None:
    placed = await place(db, ng("7777"))

    first = await fulfil(db, provider, placed.order_id, FAST)
    assert isinstance(first, CheckAgain)
    assert await recorded(sandbox, placed.reference) == []
    await knobs(force="delivered")  # the provider is reachable again

    assert await fulfil(db, provider, placed.order_id, FAST) == Settled(OrderState.DELIVERED)
    assert await fulfil(db, provider, placed.order_id, FAST) == Settled(OrderState.DELIVERED)
    stored = await recorded(sandbox, placed.reference)
    assert [t["status"] for t in stored] == ["delivered"]
    _order, transfer_state, balance, _kinds = await snapshot(db, placed)
    assert transfer_state == ledger.TransferState.POSTED
    assert balance.posted == placed.funded - AMOUNT.minor


@pytest.mark.parametrize("last4", ["4567", "0000", "2222"])
async def test_concurrent_steps_move_money_once(
    db: Database, provider: VTpassProvider, sandbox: str, last4: str
) -> None:
    placed = await place(db, ng(last4))

    async def run() -> Settled:
        return await settle(db, provider, placed.order_id)

    results = await asyncio.gather(*(run() for _ in range(5)))

    assert len({r.state for r in results}) == 1
    order, transfer_state, balance, _kinds = await snapshot(db, placed)
    expected = placed.funded if order.state == OrderState.REFUNDED else placed.funded - AMOUNT.minor
    assert transfer_state in (ledger.TransferState.POSTED, ledger.TransferState.VOIDED)
    assert (balance.posted, balance.debits_pending) == (expected, 0)
    assert len(await recorded(sandbox, placed.reference)) == 1


async def test_exhausted_requeries_need_review_with_money_held(
    db: Database, provider: VTpassProvider, knobs: Any
) -> None:
    await knobs(pending_requeries=100)
    placed = await place(db, ng("2222"))

    steps = [await fulfil(db, provider, placed.order_id, (0.0, 0.0)) for _ in range(3)]

    assert steps == [CheckAgain(0.0), CheckAgain(0.0), Settled(OrderState.NEEDS_REVIEW)]
    order, transfer_state, balance, kinds = await snapshot(db, placed)
    assert order.state == OrderState.NEEDS_REVIEW and order.next_check_at is None
    assert transfer_state == ledger.TransferState.PENDING
    assert balance.debits_pending == AMOUNT.minor
    assert balance.available == placed.funded - AMOUNT.minor
    assert "order_needs_review" in kinds and "order_refunded" not in kinds
    assert await fulfil(db, provider, placed.order_id, (0.0, 0.0)) == Settled(OrderState.NEEDS_REVIEW)
    async with db.transaction() as session:  # leave the ledger as a person reviewing it would
        assert await ledger.void_pending(session, placed.transfer_id)


async def test_in_process_queue_drain_settles_every_order(db: Database, provider: VTpassProvider) -> None:
    queue = InProcessQueue(db, provider, (0.05, 0.05, 0.05, 0.05, 0.05))
    placed = [await place(db, ng(last4)) for last4 in ("4567", "0000", "2222", "4444", "3333")]
    try:
        for p in placed:
            await queue.enqueue(p.order_id)
        assert queue.in_flight == len(placed)

        await queue.drain(timeout=10.0)
    finally:
        await queue.close()

    assert queue.in_flight == 0
    states = [(await snapshot(db, p))[0].state for p in placed]
    assert states == ["delivered", "refunded", "delivered", "refunded", "delivered"]


async def test_in_process_queue_close_cancels_what_is_in_flight(
    db: Database, provider: VTpassProvider
) -> None:
    queue = InProcessQueue(db, provider, (60.0,))
    placed = await place(db, ng("2222"))
    await queue.enqueue(placed.order_id)
    await queue.drain(timeout=0.5)
    assert queue.in_flight == 1

    await queue.close()

    assert queue.in_flight == 0
    order, transfer_state, _balance, _kinds = await snapshot(db, placed)
    assert order.state == OrderState.SUBMITTED and transfer_state == ledger.TransferState.PENDING
    assert await settle(db, provider, placed.order_id) == Settled(OrderState.DELIVERED)


async def test_in_process_queue_resumes_orders_a_previous_run_left_in_flight(db, provider) -> None:
    placed = await place(db, ng("4567"))
    queue = InProcessQueue(db, provider, FAST)

    assert await queue.resume_in_flight() >= 1
    await queue.drain(10)

    order, state, _balance, _kinds = await snapshot(db, placed)
    assert order.state == OrderState.DELIVERED and state == "posted"
