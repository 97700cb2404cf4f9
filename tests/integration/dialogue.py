"""A scripted chat against the real engine, PostgreSQL and the in-process provider sandbox."""

from __future__ import annotations

import asyncio
import unicodedata
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy import select

from conversations.engine import Engine
from conversations.messages import InboundMessage, Reply
from domain import ledger
from domain.database import Database
from domain.models import Identity
from nexustop.queues import InProcessQueue
from payments.vtpass import VTpassProvider
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration.ledger_check import assert_ledger_balanced as assert_ledger_balanced

FAST_REQUERIES = (0.05, 0.05, 0.1, 0.1, 0.2)


def plain(text: str) -> str:
    """Fold Babel's narrow and non-breaking spaces so tests can compare text."""
    return unicodedata.normalize("NFKC", text).replace("\u202f", " ").replace("\u00a0", " ")


@dataclass
class Chat:
    """One user's conversation: say lines, press buttons, read every reply."""

    engine: Engine
    queue: InProcessQueue
    user: str = field(default_factory=lambda: uuid.uuid4().hex)
    country: str | None = None
    language: str | None = None
    phone: str | None = None
    transcript: list[Reply] = field(default_factory=list)

    async def _send(self, text: str | None, payload: str | None) -> list[Reply]:
        message = InboundMessage(
            channel="test",
            channel_user_id=self.user,
            chat_id=self.user,
            text=text,
            payload=payload,
            country_hint=self.country,
            language_hint=self.language,
            phone=self.phone,
        )
        replies = await self.engine.handle(message)
        self.transcript.extend(replies)
        return replies

    async def say(self, text: str) -> str:
        """Send text; return all reply texts joined (spaces folded)."""
        return plain("\n".join(r.text for r in await self._send(text, None)))

    async def press(self, payload: str) -> str:
        """Press a button or list row by id."""
        return plain("\n".join(r.text for r in await self._send(None, payload)))

    def last_choice(self, prefix: str) -> str:
        """The id of the latest offered choice starting with ``prefix`` (e.g. ``confirm:``)."""
        for reply in reversed(self.transcript):
            for choice in reply.choices():
                if choice.id.startswith(prefix):
                    return choice.id
        raise AssertionError(f"no {prefix!r} choice offered")

    async def wallet(self, db: Database, currency: str) -> ledger.Balance:
        """This user's wallet balance in ``currency``, read from the ledger."""
        async with db.transaction() as session:
            user_id = await session.scalar(
                select(Identity.user_id).where(Identity.channel_user_id == self.user)
            )
            assert user_id is not None
            return await ledger.balance(session, await ledger.open_wallet(session, user_id, currency))

    async def receipts(self) -> str:
        """Wait for in-flight orders, then return the receipts they produced."""
        await self.queue.drain(10)
        replies = await self.engine.notifications("test", self.user)
        self.transcript.extend(replies)
        return plain("\n".join(r.text for r in replies))


@asynccontextmanager
async def chat_engine(db: Database) -> AsyncIterator[tuple[Engine, InProcessQueue]]:
    """An engine in demo mode whose orders are fulfilled in-process by the sandbox provider."""
    runner, base_url = await start_vtpass_sandbox(pending_requeries=1)
    provider = VTpassProvider(base_url, "sandbox-api-key", "PK_sandbox", "SK_sandbox", timeout=2.0)
    queue = InProcessQueue(db, provider, FAST_REQUERIES)
    try:
        yield Engine(db, queue, demo=True), queue
    finally:
        await queue.drain(10)
        await queue.close()
        await provider.close()
        await runner.cleanup()
        await asyncio.sleep(0)
