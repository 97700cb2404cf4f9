"""FulfilmentQueue implementations: Celery workers in production, the event loop in the demo."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from domain.database import Database
from domain.fulfilment import Settled, due_for_check, fulfil
from domain.ports import FulfilmentQueue, TopupProvider
from nexustop.settings import Settings

log = logging.getLogger(__name__)


class CeleryQueue:
    """Hands orders to Celery workers (``nexustop.fulfil_order``)."""

    def __init__(self, queue: str | None = None) -> None:
        self._queue = queue

    async def enqueue(self, order_id: int) -> None:
        """Publish the fulfilment task without blocking the event loop."""
        await asyncio.to_thread(self._publish, order_id)

    def _publish(self, order_id: int) -> None:
        # Imported here so the in-process demo never loads Celery or connects to Redis.
        from nexustop.tasks import fulfil_order

        options = {"queue": self._queue} if self._queue else {}
        fulfil_order.apply_async(args=[order_id], **options)


class InProcessQueue:
    """Fulfils orders as tasks on the running event loop (the demo and eager mode)."""

    def __init__(self, db: Database, provider: TopupProvider, requery_delays: Sequence[float]) -> None:
        self._db = db
        self._provider = provider
        self._requery_delays = tuple(requery_delays)
        # The loop keeps only weak references to tasks; without these they could vanish mid-run.
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def in_flight(self) -> int:
        """How many orders are still being fulfilled."""
        return len(self._tasks)

    async def enqueue(self, order_id: int) -> None:
        """Start fulfilling ``order_id`` in the background."""
        task = asyncio.create_task(self._fulfil(order_id), name=f"fulfil-order-{order_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fulfil(self, order_id: int) -> None:
        while True:
            try:
                step = await fulfil(self._db, self._provider, order_id, self._requery_delays)
            except Exception:
                # The order stays in flight, where due_for_check (the reconciler) finds it again.
                log.exception("fulfilment of order %s failed", order_id)
                return
            if isinstance(step, Settled):
                return
            await asyncio.sleep(step.delay)

    async def resume_in_flight(self) -> int:
        """Fulfil every order still in flight (e.g. left by a previous run); return how many."""
        order_ids = await due_for_check(self._db, stale_after_seconds=0)
        for order_id in order_ids:
            await self.enqueue(order_id)
        return len(order_ids)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every order in flight to settle."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks:
            remaining = deadline - loop.time()
            if remaining <= 0:
                log.warning("%d orders still in flight after %.1f s", len(self._tasks), timeout)
                return
            await asyncio.wait(set(self._tasks), timeout=remaining)

    async def close(self) -> None:
        """Cancel whatever is still in flight (its orders stay recoverable) and wait for it to stop."""
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()


def build_queue(settings: Settings, db: Database, provider: TopupProvider) -> FulfilmentQueue:
    """The queue ``settings`` ask for: in-process when eager, else Celery."""
    if settings.celery_task_always_eager:
        return InProcessQueue(db, provider, settings.requery_delays_seconds)
    return CeleryQueue()
