"""Waiting for a channel to finish its work in tests: updates processed, orders settled, messages sent.

Only the channel's own rows created since the test's harness started count (a ``Baseline`` of row
ids), so whatever an earlier test left behind in the shared database (another channel's queued
messages, a chat held by pacing, an update a killed ``nexustop serve`` process had leased) cannot
stall this one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import func, select

from domain.database import Database
from domain.models import Conversation, InboundUpdate, Notification, Order, OutboundMessage
from domain.orders import IN_FLIGHT


class Ticking(Protocol):
    """A channel with background duties (both channels fit)."""

    async def idle(self, timeout: float = 10.0) -> None: ...
    async def tick(self) -> None: ...


class Draining(Protocol):
    """The app, which can let in-process fulfilment finish."""

    async def drain(self, timeout: float) -> None: ...


@dataclass(frozen=True)
class Baseline:
    """The newest row ids when a test's harness started: rows after them are the test's own."""

    inbound: int = 0
    outbound: int = 0
    order: int = 0
    notification: int = 0


async def baseline(db: Database) -> Baseline:
    """The newest ids now, to wait only for what happens after."""
    async with db.transaction() as session:
        newest = [
            await session.scalar(select(func.coalesce(func.max(table.id), 0)))
            for table in (InboundUpdate, OutboundMessage, Order, Notification)
        ]
    return Baseline(*(int(value or 0) for value in newest))


async def busy(db: Database, channel: str, after: Baseline = Baseline()) -> bool:
    """True while the channel has unprocessed updates, queued messages, orders in flight or
    notifications not yet turned into messages (counting only rows newer than ``after``).

    One statement, so one snapshot: counted one by one (each statement seeing the latest commits),
    a notification turned into a queued message between two counts would be seen in neither.
    """
    own = select(Conversation.id).where(Conversation.channel == channel)
    pending = [
        select(InboundUpdate.id).where(
            InboundUpdate.channel == channel,
            InboundUpdate.processed_at.is_(None),
            InboundUpdate.id > after.inbound,
        ),
        select(OutboundMessage.id).where(
            OutboundMessage.channel == channel,
            OutboundMessage.state == "queued",
            OutboundMessage.id > after.outbound,
        ),
        select(Order.id).where(
            Order.state.in_(list(IN_FLIGHT)), Order.conversation_id.in_(own), Order.id > after.order
        ),
        select(Notification.id).where(
            Notification.delivered_at.is_(None),
            Notification.conversation_id.in_(own),
            Notification.id > after.notification,
        ),
    ]
    async with db.transaction() as session:
        found = (await session.execute(select(*(query.exists() for query in pending)))).one()
    return any(found)


async def settle(
    channel: Ticking, app: Draining, db: Database, name: str, timeout: float, after: Baseline = Baseline()
) -> None:
    """Run the channel's duties until it has nothing left to do; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await channel.idle()
        await app.drain(5)
        await channel.tick()
        await channel.idle()
        if not await busy(db, name, after):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {name} channel did not settle")
