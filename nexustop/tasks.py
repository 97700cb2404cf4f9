"""Celery tasks: one fulfilment step per run (retried while the outcome is unknown) and the reconciler."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

from celery import Task
from celery.signals import worker_process_shutdown, worker_shutdown

from domain import gifts
from domain.database import Database
from domain.fulfilment import CheckAgain, due_for_check, fulfil
from domain.funding import FundingService
from nexustop import event_loop
from nexustop.celery_app import app
from nexustop.funding import build_gateways
from nexustop.payouts import open_payout_gateways
from nexustop.providers import build_topup_provider
from nexustop.settings import Settings, get_settings
from nexustop.transfers import build_transfer_service
from payments.vtpass import VTpassProvider

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(slots=True)
class WorkerRuntime:
    """What one worker process needs to run async domain code: its own loop, pool and HTTP client."""

    pid: int
    settings: Settings
    loop: asyncio.AbstractEventLoop
    db: Database
    provider: VTpassProvider

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` to completion on this process's loop."""
        return self.loop.run_until_complete(coroutine)

    def close(self) -> None:
        """Close the HTTP session, the pool and the loop."""
        try:
            self.run(self.provider.close())
            self.run(self.db.dispose())
        finally:
            self.loop.close()


_runtime: WorkerRuntime | None = None


def runtime() -> WorkerRuntime:
    """This process's runtime, created on first use and again in a forked child."""
    global _runtime
    # A forked child inherits the parent's loop and sockets; using them would corrupt the
    # parent's connections, so the child opens its own and simply drops the inherited ones.
    if _runtime is None or _runtime.pid != os.getpid():
        settings = get_settings()
        _runtime = WorkerRuntime(
            pid=os.getpid(),
            settings=settings,
            loop=event_loop.new_event_loop(),
            db=Database(settings.database_url, pool_size=2),
            provider=build_topup_provider(settings),
        )
    return _runtime


def close_runtime(**_: Any) -> None:
    """Close this process's runtime, if it opened one."""
    global _runtime
    if _runtime is not None and _runtime.pid == os.getpid():
        _runtime.close()
    _runtime = None


worker_process_shutdown.connect(close_runtime, weak=False)
worker_shutdown.connect(close_runtime, weak=False)


def _fulfil_order(self: Task, order_id: int) -> str:
    """Take one fulfilment step; retry after the step's delay while the outcome is unknown."""
    rt = runtime()
    step = rt.run(fulfil(rt.db, rt.provider, order_id, rt.settings.requery_delays_seconds))
    if isinstance(step, CheckAgain):
        raise self.retry(countdown=step.delay, max_retries=None)
    return step.state.value


def _reconcile(queue: str | None = None) -> int:
    """Re-enqueue every stalled order (to ``queue``, else the default); return how many."""
    rt = runtime()
    order_ids = rt.run(due_for_check(rt.db, rt.settings.reconcile_after_seconds))
    options: dict[str, Any] = {"queue": queue} if queue else {}
    for order_id in order_ids:
        fulfil_order.apply_async(args=[order_id], **options)
    if order_ids:
        log.info("reconciler re-enqueued %d stalled orders", len(order_ids))
    return len(order_ids)


async def _poll_payments_once(rt: WorkerRuntime) -> dict[str, int]:
    gateways = build_gateways(rt.settings)
    try:
        service = FundingService(rt.db, gateways, check_delays=rt.settings.funding_check_delays_seconds)
        return await service.poll()
    finally:
        for gateway in gateways.values():
            await gateway.close()


def _poll_payments() -> dict[str, int]:
    """Ask the gateways about payments whose webhook has not come; act on forgotten webhooks."""
    rt = runtime()
    counts = rt.run(_poll_payments_once(rt))
    if counts:
        log.info("funding poller: %s", counts)
    return counts


def _expire_gifts() -> int:
    """Refund the unclaimed part of every gift past its expiry; return how many were refunded."""
    rt = runtime()
    count = rt.run(gifts.expire_due(rt.db))
    if count:
        log.info("expired %d unclaimed gifts", count)
    return count


async def _money_out_once(rt: WorkerRuntime) -> dict[str, int]:
    async with AsyncExitStack() as stack:
        funding = build_gateways(rt.settings)
        for gateway in funding.values():
            stack.push_async_callback(gateway.close)
        service = build_transfer_service(rt.settings, open_payout_gateways(stack, rt.settings, funding))
        if service is None:
            return {}
        return {"payouts": await service.poll(rt.db), "expired": await service.expire_due(rt.db)}


def _poll_payouts() -> dict[str, int]:
    """Send queued payouts, ask about pending ones, refund unclaimed transfers past their expiry."""
    rt = runtime()
    counts = rt.run(_money_out_once(rt))
    if any(counts.values()):
        log.info("money-out poller: %s", counts)
    return counts


# Registered by call rather than decorator: Celery is untyped, and a decorator would erase the types.
fulfil_order: Task = app.task(bind=True, acks_late=True, name="nexustop.fulfil_order")(_fulfil_order)
reconcile: Task = app.task(name="nexustop.reconcile")(_reconcile)
poll_payments: Task = app.task(name="nexustop.poll_payments")(_poll_payments)
expire_gifts: Task = app.task(name="nexustop.expire_gifts")(_expire_gifts)
poll_payouts: Task = app.task(name="nexustop.poll_payouts")(_poll_payouts)
