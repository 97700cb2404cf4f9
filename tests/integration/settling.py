"""Waiting for a channel to finish its work in tests: updates processed, orders settled, messages sent.

Only the channel's own rows count, so whatever an earlier test left behind in the shared
database (another channel's queued messages, a chat held by pacing) cannot stall this one.
"""

from __future__ import annotations

import asyncio
import time
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


async def busy(db: Database, channel: str) -> bool:
    """True while the channel has unprocessed updates, queued messages, orders in flight or
    notifications not yet turned into messages."""
    own = select(Conversation.id).where(Conversation.channel == channel)
    async with db.transaction() as session:
        counts = [
            await session.scalar(
                select(func.count(InboundUpdate.id)).where(
                    InboundUpdate.channel == channel, InboundUpdate.processed_at.is_(None)
                )
            ),
            await session.scalar(
                select(func.count(OutboundMessage.id)).where(
                    OutboundMessage.channel == channel, OutboundMessage.state == "queued"
                )
            ),
            await session.scalar(
                select(func.count(Order.id)).where(
                    Order.state.in_(list(IN_FLIGHT)), Order.conversation_id.in_(own)
                )
            ),
            await session.scalar(
                select(func.count(Notification.id)).where(
                    Notification.delivered_at.is_(None), Notification.conversation_id.in_(own)
                )
            ),
        ]
    return any(counts)


async def settle(channel: Ticking, app: Draining, db: Database, name: str, timeout: float) -> None:
    """Run the channel's duties until it has nothing left to do; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        await channel.idle()
        await app.drain(5)
        await channel.tick()
        await channel.idle()
        if not await busy(db, name):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {name} channel did not settle")
