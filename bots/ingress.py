"""Durable ingress for any channel: store each update once (group commit), then claim, process, retry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database
from domain.models import InboundUpdate, utcnow

#: How long a claim on an update lasts before someone else may retry it.
LEASE = timedelta(seconds=60)
#: Concurrent group commits of inbound updates, and the most requests one of them takes.
MAX_GROUP_COMMITS = 4
MAX_GROUP = 200
#: Updates not claimed within this time of arrival (their process died) are picked up by the sweep.
STALE_AFTER = timedelta(seconds=10)


@dataclass(frozen=True, slots=True)
class Item:
    """One storable piece of a webhook body, under its dedup key (and, when ordered, its chat and place)."""

    key: str
    body: dict[str, Any]
    chat_key: str | None = None
    sequence: int | None = None


class BackgroundTasks:
    """Fire-and-forget coroutines that are kept referenced, awaited on idle and cancelled on close."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Run ``coroutine`` in the background."""
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until the tasks started so far (and those they start) have finished."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._tasks and loop.time() < deadline:
            await asyncio.wait(set(self._tasks), timeout=deadline - loop.time())

    async def close(self, grace: float = 5.0) -> None:
        """Let running work finish briefly, then cancel the rest."""
        await self.idle(grace)
        for task in set(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Inbox:
    """One channel's ``inbound_updates`` rows: stored once under a UNIQUE key, processed under a lease."""

    def __init__(self, db: Database, channel: str, tasks: BackgroundTasks) -> None:
        self.db = db
        self.channel = channel
        self.tasks = tasks
        self._pending: list[tuple[list[Item], asyncio.Future[list[int]]]] = []
        self._flushing = 0
        self._insert_cache: Any = None

    async def store(self, items: list[Item]) -> list[int]:
        """Store items once; return the row ids of the new ones, only after they are committed.

        Concurrent requests share one INSERT and one commit (group commit).
        """
        done: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append((items, done))
        if self._flushing < MAX_GROUP_COMMITS:
            self._flushing += 1
            self.tasks.spawn(self._group_commit())
        return await done

    async def _group_commit(self) -> None:
        """Insert everything pending in one statement and transaction, then wake each waiting request."""
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
                try:
                    new = await self._insert([item for items, _ in batch for item in items])
                except Exception as error:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(error)
                    continue
                for items, done in batch:
                    ids = [new.pop(item.key) for item in items if item.key in new]
                    if not done.done():
                        done.set_result(ids)
        finally:
            self._flushing -= 1

    async def _insert(self, items: list[Item]) -> dict[str, int]:
        """INSERT … ON CONFLICT DO NOTHING RETURNING: the ids of the keys that were new."""
        now = utcnow()
        rows = [
            {
                "channel": self.channel,
                "update_key": item.key,
                "payload": json.dumps(item.body),
                "attempts": 0,
                "received_at": now,
                "chat_key": item.chat_key,
                "sequence": item.sequence,
            }
            for item in items
        ]
        async with self.db.engine.begin() as connection:
            result = await connection.execute(self._insert_statement(), rows)
            return {key: row_id for key, row_id in result.all()}

    def _insert_statement(self) -> Any:
        """One compiled INSERT … ON CONFLICT DO NOTHING RETURNING, run for many rows in one round trip."""
        if self._insert_cache is None:
            insert = sqlite.insert if self.db.is_sqlite else postgresql.insert
            self._insert_cache = (
                insert(InboundUpdate)
                .on_conflict_do_nothing(index_elements=["channel", "update_key"])
                .returning(InboundUpdate.update_key, InboundUpdate.id)
            )
        return self._insert_cache

    async def claim(self, update_id: int, seen_attempts: int) -> InboundUpdate | None:
        """Take a lease on an unprocessed update; None when someone else has it or it is done."""
        now = utcnow()
        async with self.db.transaction() as session:
            claimed = await session.execute(
                update(InboundUpdate)
                .where(
                    InboundUpdate.id == update_id,
                    InboundUpdate.attempts == seen_attempts,
                    InboundUpdate.processed_at.is_(None),
                    or_(InboundUpdate.next_attempt_at.is_(None), InboundUpdate.next_attempt_at <= now),
                )
                .values(attempts=seen_attempts + 1, next_attempt_at=now + _lease(seen_attempts))
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            return await session.get(InboundUpdate, update_id)

    async def claim_next_in_chat(self, chat_key: str) -> InboundUpdate | None:
        """Lease the chat's oldest unprocessed update (by sequence); None when it is leased or none is left.

        Only the head of a chat's queue is ever claimed, so one chat's updates run one at a time, in
        order, across every process; a failed head keeps its place and is retried when its lease ends.
        """
        async with self.db.transaction() as session:
            head = (
                await session.execute(
                    select(InboundUpdate.id, InboundUpdate.attempts)
                    .where(
                        InboundUpdate.channel == self.channel,
                        InboundUpdate.chat_key == chat_key,
                        InboundUpdate.processed_at.is_(None),
                    )
                    .order_by(InboundUpdate.sequence, InboundUpdate.id)
                    .limit(1)
                )
            ).first()
        if head is None:
            return None
        return await self.claim(head[0], head[1])

    async def done(self, update_id: int, session: AsyncSession | None = None) -> None:
        """Mark an update processed (in ``session`` when given, so it commits with the turn's effects)."""
        statement = update(InboundUpdate).where(InboundUpdate.id == update_id).values(processed_at=utcnow())
        if session is not None:
            await session.execute(statement)
            return
        async with self.db.transaction() as own:
            await own.execute(statement)

    async def due(self, limit: int = 100) -> list[tuple[int, int, str | None]]:
        """Unprocessed updates whose lease ended or that nobody claimed: (id, attempts, chat key)."""
        now = utcnow()
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(InboundUpdate.id, InboundUpdate.attempts, InboundUpdate.chat_key)
                    .where(InboundUpdate.channel == self.channel, InboundUpdate.processed_at.is_(None))
                    .where(
                        or_(
                            InboundUpdate.next_attempt_at <= now,
                            and_(
                                InboundUpdate.next_attempt_at.is_(None),
                                InboundUpdate.received_at <= now - STALE_AFTER,
                            ),
                        )
                    )
                    .order_by(InboundUpdate.id)
                    .limit(limit)
                )
            ).all()
        return [(row_id, attempts, chat_key) for row_id, attempts, chat_key in rows]


def _lease(seen_attempts: int) -> timedelta:
    lease: timedelta = LEASE * 2**seen_attempts
    return min(lease, timedelta(hours=1))
