"""Any channel's outbound queue: ``outbound_messages`` rows sent in order per chat, retried, never lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import receipts
from conversations.messages import Reply
from domain.database import Database
from domain.models import Conversation, Message, Notification, OutboundMessage, utcnow

log = logging.getLogger(__name__)

#: How long a claim on an outbound message lasts before someone else may send it.
LEASE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Sent:
    """The channel accepted the message (under its own id, when it gives one)."""

    channel_message_id: str | None


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Not now (rate limit, network): keep the chat's order and try again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True, slots=True)
class Failed:
    """The channel refused the message for good."""

    code: int | None


@dataclass(frozen=True, slots=True)
class SendAgain:
    """The sender rewrote the row (e.g. as a template): send it again at once."""


Outcome = Sent | RetryLater | Failed | SendAgain
#: Sends one claimed row through the channel's API.
Sender = Callable[[OutboundMessage], Awaitable[Outcome]]
#: Turns a conversation's receipts into outbound rows (not yet added), inside the transaction taking them.
ReceiptRenderer = Callable[[AsyncSession, Conversation, list[Reply]], Awaitable[list[OutboundMessage]]]


class Outbox:
    """One channel's outbound messages: queued in the turn's transaction, sent oldest first per chat."""

    def __init__(self, db: Database, channel: str, send: Sender, *, sent_state: str = "sent") -> None:
        self.db = db
        self.channel = channel
        self.send = send
        self.sent_state = sent_state
        self._chat_locks: dict[str, asyncio.Lock] = {}

    def new(
        self,
        chat_id: str,
        conversation_id: int | None,
        kind: str,
        payload: dict[str, Any],
        *,
        as_template: bool = False,
    ) -> OutboundMessage:
        """A queued row for the caller to add to its transaction."""
        return OutboundMessage(
            channel=self.channel,
            chat_id=chat_id,
            conversation_id=conversation_id,
            kind=kind,
            payload=payload,
            state="queued",
            as_template=as_template,
            attempts=0,
        )

    async def flush(self, chat_id: str | None = None) -> int:
        """Send queued messages that are due, in order per chat; return how many went out."""
        now = utcnow()
        async with self.db.transaction() as session:
            statement = (
                select(OutboundMessage.id, OutboundMessage.chat_id, OutboundMessage.next_attempt_at)
                .where(OutboundMessage.channel == self.channel, OutboundMessage.state == "queued")
                .order_by(OutboundMessage.id)
                .limit(500)
            )
            if chat_id is not None:
                statement = statement.where(OutboundMessage.chat_id == chat_id)
            queued = (await session.execute(statement)).all()
        by_chat: dict[str, list[tuple[int, datetime | None]]] = {}
        for row_id, chat, due in queued:
            by_chat.setdefault(chat, []).append((row_id, due))
        sent = await asyncio.gather(*(self._flush_chat(chat, rows, now) for chat, rows in by_chat.items()))
        return sum(sent)

    async def _flush_chat(self, chat_id: str, rows: list[tuple[int, datetime | None]], now: datetime) -> int:
        lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
        sent = 0
        async with lock:
            for row_id, due in rows:
                if due is not None and due > now:
                    break  # an earlier message of this chat waits: keep the order
                outcome = await self._send_one(row_id)
                if outcome is None:
                    break
                sent += outcome
        if not lock.locked():
            self._chat_locks.pop(chat_id, None)
        return sent

    async def _send_one(self, row_id: int) -> int | None:
        """Send one queued row; 1 when sent, 0 when failed for good, None to stop the chat for now."""
        now = utcnow()
        async with self.db.transaction() as session:
            claimed = await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == row_id,
                    OutboundMessage.state == "queued",
                    or_(OutboundMessage.next_attempt_at.is_(None), OutboundMessage.next_attempt_at <= now),
                )
                .values(attempts=OutboundMessage.attempts + 1, next_attempt_at=now + LEASE)
                .execution_options(synchronize_session=False)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return None
            row = await session.get(OutboundMessage, row_id)
            assert row is not None
        outcome = await self.send(row)
        if isinstance(outcome, SendAgain):
            await self._set(row.id, next_attempt_at=None)
            return await self._send_one(row.id)
        if isinstance(outcome, RetryLater):
            await self.retry_at(row.id, outcome.delay)
            return None
        if isinstance(outcome, Failed):
            log.warning("%s refused a %s (row %d): code %s", self.channel, row.kind, row.id, outcome.code)
            await self._set(row.id, state="failed", error_code=outcome.code, next_attempt_at=None)
            return 0
        await self._set(
            row.id,
            state=self.sent_state,
            channel_message_id=outcome.channel_message_id,
            next_attempt_at=None,
            error_code=None,
        )
        return 1

    async def _set(self, row_id: int, **values: Any) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboundMessage).where(OutboundMessage.id == row_id).values(**values)
            )

    async def retry_at(self, row_id: int, delay: float) -> None:
        """Leave a row queued, due again in ``delay`` seconds."""
        await self._set(row_id, next_attempt_at=utcnow() + timedelta(seconds=delay))

    # ---- receipts --------------------------------------------------------------------------

    async def deliver_receipts(self, render: ReceiptRenderer) -> int:
        """Queue and send every undelivered receipt of this channel's conversations; return how many."""
        async with self.db.transaction() as session:
            conversation_ids = (
                await session.scalars(
                    select(Conversation.id)
                    .join(Notification, Notification.conversation_id == Conversation.id)
                    .where(Conversation.channel == self.channel, Notification.delivered_at.is_(None))
                    .distinct()
                )
            ).all()
        count = 0
        for conversation_id in conversation_ids:
            queued, chats = await self._queue_receipts(conversation_id, render)
            count += queued
            for chat_id in chats:
                await self.flush(chat_id)
        return count

    async def _queue_receipts(self, conversation_id: int, render: ReceiptRenderer) -> tuple[int, set[str]]:
        """Render, record and queue one conversation's receipts in the transaction that marks them taken."""
        async with self.db.transaction() as session:
            conversation = await session.get(Conversation, conversation_id)
            assert conversation is not None
            replies = await receipts.take_undelivered(session, conversation_id)
            if not replies:
                return 0, set()
            for reply in replies:
                session.add(
                    Message(conversation_id=conversation_id, direction="out", sender="bot", body=reply.text)
                )
            rows = await render(session, conversation, replies)
            session.add_all(rows)
            return len(replies), {row.chat_id for row in rows}


def backoff(attempts: int, *, base: float, cap: float, factor: float = 2.0) -> float:
    """Seconds to wait before attempt ``attempts + 1``: ``base`` growing by ``factor`` up to ``cap``."""
    return float(min(cap, base * factor ** max(attempts - 1, 0)))
