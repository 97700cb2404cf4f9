"""Group commit for sends: transfers asked for at the same time share one transaction.

A chat turn sends inside its own transaction (``TransferService.send``). Callers that make many
transfers at once — a bulk payout file, an API client, a busy process — hand them to a
``TransferBatcher`` instead: whatever is waiting when a transaction starts goes into it (up to
``max_batch``), ``TransferService.send_many`` decides and writes them together, and each caller gets
its own ``Sent``. Every check is the same as for a single send; only the round trips and the commit
are shared. A batch that fails as a whole (say, a reference another process just used) is retried
one transfer per transaction, so one bad request never sinks the others.
"""

from __future__ import annotations

import asyncio
import logging

from domain.database import Database
from domain.transfers import SendRequest, Sent, TransferService

log = logging.getLogger(__name__)


class TransferBatcher:
    """Sends transfers through ``service`` in shared transactions, ``lanes`` of them at a time."""

    def __init__(
        self, db: Database, service: TransferService, *, max_batch: int = 64, lanes: int = 2
    ) -> None:
        self.db = db
        self.service = service
        self.max_batch = max_batch
        self.lanes = lanes
        self._waiting: list[tuple[SendRequest, asyncio.Future[Sent]]] = []
        self._running: set[asyncio.Task[None]] = set()

    async def send(self, request: SendRequest) -> Sent:
        """Send one transfer with whatever else is waiting; returns its own outcome."""
        future: asyncio.Future[Sent] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._busy_lanes() < self.lanes:
            task = asyncio.create_task(self._drain())
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await future

    def _busy_lanes(self) -> int:
        """How many lanes are still draining."""
        # A finished lane leaves ``_running`` only in a later callback, and the callers it just
        # answered may send again before that runs: counting it would strand their sends.
        return sum(1 for task in self._running if not task.done())

    async def _drain(self) -> None:
        """Commit batches until nothing is waiting; every caller hears back, whatever happened."""
        while self._waiting:
            batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            results = await self._commit([request for request, _ in batch])
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, Sent):
                    future.set_result(result)
                else:
                    future.set_exception(result)

    async def _commit(self, requests: list[SendRequest]) -> list[Sent | Exception]:
        try:
            return list(await self._transaction(requests))
        except Exception as error:
            if len(requests) == 1:
                return [error]
            log.warning("a batch of %d transfers failed (%s); retrying them one by one", len(requests), error)
        results: list[Sent | Exception] = []
        for request in requests:
            try:
                results.extend(await self._transaction([request]))
            except Exception as error:
                results.append(error)
        return results

    async def _transaction(self, requests: list[SendRequest]) -> list[Sent]:
        async with self.db.transaction() as session:
            return await self.service.send_many(session, requests)
