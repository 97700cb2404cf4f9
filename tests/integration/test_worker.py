"""Real Celery workers (subprocesses) fulfilling orders on real PostgreSQL and Redis.

Each test run consumes queues of its own (``-Q``), so parallel runs and developers' workers on
the same Redis never see each other's tasks; the queues' Redis keys are removed afterwards.
The VTpass sandbox runs on a thread with its own event loop, reachable over loopback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from sqlalchemy import func, select

from domain import ledger
from domain.database import Database
from domain.fulfilment import due_for_check
from domain.models import Notification, Order, OrderEvent, Transfer
from domain.orders import OrderState
from nexustop.celery_app import app
from nexustop.queues import CeleryQueue
from nexustop.settings import Settings
from nexustop.tasks import reconcile
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration.ledger_check import assert_ledger_balanced
from tests.integration.placed_orders import AMOUNT, PlacedOrder, place

REPO = Path(__file__).resolve().parents[2]
CELERY = REPO / ".venv" / "bin" / "celery"
FUNDED = 100_000
WAIT = 60.0
#: The sandbox holds a 3333 reply this long; the worker's provider timeout is longer still.
HANG_SECONDS = 30.0
STALE_AFTER = 1.0


class ThreadedSandbox:
    """The VTpass sandbox served from a thread with its own event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="vtpass-sandbox", daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    def start(self, **knobs: Any) -> str:
        """Serve the sandbox with ``knobs``; return its base URL."""
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_vtpass_sandbox(**knobs), self.loop)
        self.runner, self.url = future.result(timeout=10)
        return self.url

    def stop(self) -> None:
        """Shut the sandbox down (cutting held replies short) and end the thread."""
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    """A sandbox the worker processes reach over loopback; a 3333 reply hangs for HANG_SECONDS."""
    server = ThreadedSandbox()
    try:
        yield server.start(timeout_delay=HANG_SECONDS)
    finally:
        server.stop()


class Worker:
    """A ``celery worker --pool=solo`` subprocess consuming one queue."""

    def __init__(self, queue: str, env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(CELERY),
                    "-A",
                    "nexustop.celery_app",
                    "worker",
                    "--pool=solo",
                    "-c",
                    "1",
                    "-Q",
                    queue,
                    "-n",
                    f"{queue}-{uuid.uuid4().hex[:6]}@%h",
                    "--loglevel=INFO",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                ],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        """With the solo pool this one process receives and runs the tasks."""
        return self.process.pid

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


WorkerFactory = Callable[[str], Worker]


@pytest.fixture(scope="module")
def worker_env(pg_url: str, sandbox: str) -> dict[str, str]:
    """Settings for worker processes: this run's database, the sandbox, fast retries."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VTPASS_", "CELERY_"))}
    env.update(
        DATABASE_URL=pg_url,
        REDIS_URL=Settings().redis_url,
        VTPASS_BASE_URL=sandbox,
        PROVIDER_TIMEOUT_SECONDS=str(HANG_SECONDS * 2),
        REQUERY_DELAYS_SECONDS="[0.2, 0.5, 1.0, 2.0]",
        RECONCILE_AFTER_SECONDS=str(STALE_AFTER),
        CELERY_TASK_ALWAYS_EAGER="false",
        PYTHONPATH=str(REPO),
    )
    return env


@pytest.fixture(scope="module")
def queue_name() -> str:
    """A queue of this run's own."""
    return f"nexustop-test-{uuid.uuid4().hex[:12]}"


async def forget_queue(queue: str) -> None:
    """Remove every Redis trace of ``queue``: its list, its bindings, unacked messages sent to it."""
    client = aioredis.Redis.from_url(Settings().redis_url)
    try:
        async for key in client.scan_iter(match=f"*{queue}*"):
            await client.delete(key)
        async for key in client.scan_iter(match="_kombu.binding*"):
            if await client.type(key) == b"set":
                members = [m for m in await client.smembers(key) if queue.encode() in m]
                if members:
                    await client.srem(key, *members)
        for tag in await unacked_tags(client, queue):
            await client.zrem("unacked_index", tag)
            await client.hdel("unacked", tag)
    finally:
        await client.aclose()


async def unacked_tags(client: aioredis.Redis, queue: str) -> dict[bytes, dict[str, Any]]:
    """Messages delivered from ``queue`` but never acked, by delivery tag."""
    found: dict[bytes, dict[str, Any]] = {}
    async for tag, raw in client.hscan_iter("unacked"):
        message, _exchange, routing_key = json.loads(raw)
        if routing_key == queue:
            found[tag] = message
    return found


@pytest.fixture
def start_worker(worker_env: dict[str, str], queue_name: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    """Start workers on demand; every one is stopped when the test ends, pass or fail."""
    started: list[Worker] = []

    def start(queue: str) -> Worker:
        worker = Worker(queue, worker_env, tmp_path / "worker.log")
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()
        if started:
            print(started[0].log.read_text(errors="replace")[-4000:])  # shown only when a test fails


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cleanup_queues(queue_name: str) -> AsyncIterator[list[str]]:
    """Queues this module used; their Redis keys are removed at the end."""
    queues = [queue_name]
    yield queues
    for queue in queues:
        await forget_queue(queue)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = WAIT) -> None:
    """Poll ``check`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def state_of(db: Database, order_id: int) -> str:
    """The order's current state."""
    async with db.transaction() as session:
        state = await session.scalar(select(Order.state).where(Order.id == order_id))
    assert state is not None
    return state


async def ends_in(db: Database, order_id: int, *states: str) -> str:
    """Wait (bounded) until the order is in one of ``states``; return the state."""

    async def settled() -> bool:
        return await state_of(db, order_id) in states

    await eventually(settled, f"order {order_id} to reach {states}")
    return await state_of(db, order_id)


async def recorded(sandbox: str, reference: str) -> list[dict[str, Any]]:
    """The sandbox's transactions under ``reference``."""
    async with aiohttp.ClientSession() as http, http.get(f"{sandbox}/sandbox/transactions") as response:
        body = await response.json()
    return [t for t in body["transactions"] if t["request_id"] == reference]


async def assert_settled_once(db: Database, placed: PlacedOrder, sandbox: str) -> None:
    """One final event, one notification, one provider transaction, the transfer resolved once."""
    async with db.transaction() as session:
        order = await session.get(Order, placed.order_id, populate_existing=True)
        transfer = await session.get(Transfer, placed.transfer_id, populate_existing=True)
        assert order is not None and transfer is not None
        final_events = await session.scalar(
            select(func.count())
            .select_from(OrderEvent)
            .where(OrderEvent.order_id == order.id, OrderEvent.state == order.state)
        )
        kinds = list(
            (await session.scalars(select(Notification.kind).where(Notification.order_id == order.id))).all()
        )
        balance = await ledger.balance(session, placed.wallet_id)
    delivered = order.state == OrderState.DELIVERED
    assert transfer.state == (ledger.TransferState.POSTED if delivered else ledger.TransferState.VOIDED)
    assert final_events == 1
    assert kinds.count("order_delivered" if delivered else "order_refunded") == 1
    assert (balance.posted, balance.debits_pending) == (FUNDED - AMOUNT.minor if delivered else FUNDED, 0)
    await assert_ledger_balanced(db)
    assert len(await recorded(sandbox, placed.reference)) == 1


async def test_enqueued_order_is_delivered_by_a_worker(
    db: Database, sandbox: str, start_worker: WorkerFactory, queue_name: str, cleanup_queues: list[str]
) -> None:
    start_worker(queue_name)
    placed = await place(db, "+2348031234567")

    await CeleryQueue(queue_name).enqueue(placed.order_id)

    assert await ends_in(db, placed.order_id, OrderState.DELIVERED) == OrderState.DELIVERED
    await assert_settled_once(db, placed, sandbox)


async def test_failures_are_refunded_and_pending_orders_retried(
    db: Database, sandbox: str, start_worker: WorkerFactory, queue_name: str, cleanup_queues: list[str]
) -> None:
    start_worker(queue_name)
    failed, pending = await place(db, "+2348031230000"), await place(db, "+2348031232222")

    await CeleryQueue(queue_name).enqueue(failed.order_id)
    await CeleryQueue(queue_name).enqueue(pending.order_id)

    assert await ends_in(db, failed.order_id, OrderState.REFUNDED) == OrderState.REFUNDED
    assert await ends_in(db, pending.order_id, OrderState.DELIVERED) == OrderState.DELIVERED
    await assert_settled_once(db, failed, sandbox)
    await assert_settled_once(db, pending, sandbox)


async def test_a_worker_killed_mid_call_loses_nothing_and_pays_once(
    db: Database, sandbox: str, start_worker: WorkerFactory, cleanup_queues: list[str]
) -> None:
    queue = f"nexustop-test-kill-{uuid.uuid4().hex[:12]}"
    cleanup_queues.append(queue)
    doomed = start_worker(queue)
    placed = await place(db, "+2348031233333")  # the sandbox delivers, then holds the reply
    await CeleryQueue(queue).enqueue(placed.order_id)

    async def provider_has_it() -> bool:
        return bool(await recorded(sandbox, placed.reference))

    await eventually(provider_has_it, "the worker to reach the provider")
    assert doomed.process.poll() is None, "the worker must still be waiting on the provider"
    os.kill(doomed.pid, signal.SIGKILL)
    assert doomed.process.wait(timeout=10) == -signal.SIGKILL

    # The worker died after the provider delivered but before it heard back: nothing settled.
    assert await state_of(db, placed.order_id) == OrderState.SUBMITTED
    redis = aioredis.Redis.from_url(Settings().redis_url)
    try:
        unacked = await unacked_tags(redis, queue)
    finally:
        await redis.aclose()
    assert len(unacked) == 1, "acks_late: the broker still holds the task the dead worker took"

    start_worker(queue)

    async def stalled() -> bool:
        return placed.order_id in await due_for_check(db, STALE_AFTER)

    await eventually(stalled, "the order to count as stalled")
    requeued = reconcile.apply_async(kwargs={"queue": queue}, queue=queue)
    assert await asyncio.to_thread(requeued.get, timeout=WAIT) >= 1

    assert await ends_in(db, placed.order_id, OrderState.DELIVERED, OrderState.REFUNDED) == "delivered"
    await assert_settled_once(db, placed, sandbox)

    # Then the other recovery path: the broker redelivers the dead worker's message, as its
    # visibility-timeout sweep would. It must settle nothing a second time.
    await redeliver(queue, unacked)
    (message,) = unacked.values()
    again = app.AsyncResult(message["headers"]["id"])
    assert await asyncio.to_thread(again.get, timeout=WAIT) == OrderState.DELIVERED
    await assert_settled_once(db, placed, sandbox)


async def redeliver(queue: str, unacked: dict[bytes, dict[str, Any]]) -> None:
    """Put unacked messages back on their queue with kombu's own restore, as its sweep does."""

    def restore() -> None:
        with app.connection_for_write() as connection:
            qos = connection.default_channel.qos
            for tag in unacked:
                qos.restore_by_tag(tag)

    await asyncio.to_thread(restore)
