"""The unit of work every use case runs in: one transaction, and what to do once it has committed.

A use case opens ``uow.transaction()``. Called from a door that has no transaction of its own
(an API handler, a staff action), that begins one and commits it; called inside a transaction
already open on the same unit of work (a chat turn, which holds its conversation's row lock for
the whole turn, and so never calls a provider inside it), it joins it. Work that must wait for
the commit (queue an order for fulfilment, publish a live event) is handed to ``after_commit``;
it runs once the outermost transaction has committed, and never if it rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import Database

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]


class UnitOfWork:
    """One database transaction at a time, with its after-commit work."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._session: AsyncSession | None = None
        self._after_commit: list[AfterCommit] = []

    @property
    def session(self) -> AsyncSession:
        """The open transaction's session (only inside ``transaction()``)."""
        if self._session is None:
            raise RuntimeError("no transaction is open on this unit of work")
        return self._session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Begin a transaction, or join the one already open; commit only the outermost."""
        if self._session is not None:
            yield self._session
            return
        self._after_commit = []
        try:
            async with self.db.transaction() as session:
                self._session = session
                yield session
        except BaseException:
            self._after_commit = []
            raise
        finally:
            self._session = None
        await self._run_after_commit()

    def after_commit(self, work: AfterCommit) -> None:
        """Run ``work`` once the outermost transaction has committed (dropped on rollback)."""
        if self._session is None:
            raise RuntimeError("after_commit needs an open transaction")
        self._after_commit.append(work)

    async def _run_after_commit(self) -> None:
        pending, self._after_commit = self._after_commit, []
        for work in pending:
            try:
                await work()
            except Exception:
                # Committed work is safe in the database; what follows it has its own sweeper
                # (the reconciler re-enqueues stalled orders), so one failure must not hide the rest.
                log.exception("after-commit work failed")
