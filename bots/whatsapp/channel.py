"""The WhatsApp channel: durable ingress, turns, receipts, outbound queue and delivery states."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import httpx
from pywa_async.client import WhatsApp
from pywa_async.errors import WhatsAppError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.duties import run_forever
from bots.ingress import BackgroundTasks, Inbox, Item
from bots.outbox import Failed, Outbox, Outcome, RetryLater, SendAgain, Sent, backoff
from bots.whatsapp import graph
from bots.whatsapp.graph import WhatsAppConfig
from bots.whatsapp.render import DEFAULT_LABELS, MORE_PREFIX, Labels, Payload, render, template
from conversations.engine import Engine
from conversations.messages import InboundMessage, Reply
from domain.database import Database
from domain.models import Conversation, Identity, OutboundMessage, User, utcnow
from domain.phones import mask_phone

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
#: Delivery states; a status webhook only ever moves a message up this order (out-of-order arrivals are fine).
STATE_RANK = {"queued": 0, "accepted": 1, "sent": 2, "failed": 3, "delivered": 4, "read": 5}
#: Meta error codes we act on.
OUTSIDE_WINDOW = 131047
THROUGHPUT = 130429
PAIR_RATE = 131056
#: A status for a message we never sent is given up after this many attempts.
UNKNOWN_STATUS_ATTEMPTS = 5


def split_envelope(envelope: dict[str, Any], raw: bytes) -> list[Item]:
    """Every message and status in a Meta webhook envelope, each under its own UNIQUE key.

    Messages are keyed by wamid, statuses by (wamid, status); anything else by the body's hash.
    """
    items: list[Item] = []
    for entry in envelope.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            contacts = value.get("contacts") or []
            for message in value.get("messages") or []:
                sender = str(message.get("from", ""))
                contact = next(
                    (c for c in contacts if c.get("wa_id") == sender), contacts[0] if contacts else {}
                )
                body = {"kind": "message", "message": message, "contact": contact}
                items.append(Item(str(message.get("id") or _digest(message)), body))
            for status in value.get("statuses") or []:
                key = f"status:{status.get('id')}:{status.get('status')}"
                items.append(Item(key[:128], {"kind": "status", "status": status}))
    if not items:
        items.append(Item(f"other:{hashlib.sha256(raw).hexdigest()}", {"kind": "other"}))
    return items


def _digest(obj: object) -> str:
    return "sha:" + hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def inbound_message(body: dict[str, Any]) -> InboundMessage:
    """The engine's view of one stored WhatsApp message (text, button reply or list reply)."""
    message: dict[str, Any] = body["message"]
    contact: dict[str, Any] = body.get("contact") or {}
    wa_id = str(contact.get("wa_id") or message.get("from") or "")
    user_key = wa_id or str(contact.get("user_id") or message.get("from_user_id") or "")
    text: str | None = None
    payload: str | None = None
    kind = message.get("type")
    if kind == "text":
        text = str((message.get("text") or {}).get("body", ""))
    elif kind == "interactive":
        interactive = message.get("interactive") or {}
        reply = interactive.get("button_reply") or interactive.get("list_reply") or {}
        payload = str(reply.get("id", "")) or None
    elif kind == "button":
        button = message.get("button") or {}
        payload = button.get("payload") or None
        text = None if payload else str(button.get("text", ""))
    else:
        text = ""
    name = (contact.get("profile") or {}).get("name")
    return InboundMessage(
        channel=CHANNEL,
        channel_user_id=user_key,
        chat_id=user_key,
        text=text,
        payload=payload,
        channel_message_id=str(message.get("id")) if message.get("id") else None,
        phone=f"+{wa_id}" if wa_id.isdigit() else None,
        display_name=str(name)[:128] if name else None,
    )


def scoped_ids(body: dict[str, Any]) -> tuple[str | None, str | None]:
    """The sender's business-scoped user id (BSUID) and parent BSUID, when Meta sent them."""
    contact: dict[str, Any] = body.get("contact") or {}
    message: dict[str, Any] = body.get("message") or {}
    bsuid = contact.get("user_id") or message.get("from_user_id")
    parent = contact.get("parent_user_id")
    return (str(bsuid)[:64] if bsuid else None, str(parent)[:64] if parent else None)


async def _remember_scoped_ids(session: AsyncSession, channel_user_id: str, body: dict[str, Any]) -> None:
    """Keep the BSUID and parent BSUID on the identity beside its wa_id (they may arrive later)."""
    bsuid, parent = scoped_ids(body)
    if bsuid is None and parent is None:
        return
    values = {k: v for k, v in (("scoped_user_id", bsuid), ("parent_scoped_user_id", parent)) if v}
    await session.execute(
        update(Identity)
        .where(Identity.channel == CHANNEL, Identity.channel_user_id == channel_user_id)
        .values(**values)
    )


class Retry(Exception):
    """The update cannot be processed yet (e.g. a status for a message whose send is still in flight)."""


class WhatsAppChannel:
    """Ingress, processing and sending for one WhatsApp Business number."""

    def __init__(
        self,
        config: WhatsAppConfig,
        db: Database,
        engine: Engine,
        client: WhatsApp | None = None,
        labels: Labels = DEFAULT_LABELS,
    ) -> None:
        self.config = config
        self.db = db
        self.engine = engine
        self.client = client or graph.build_client(config)
        self.labels = labels
        self.tasks = BackgroundTasks()
        self.inbox = Inbox(db, CHANNEL, self.tasks)
        self.outbox = Outbox(db, CHANNEL, self._send, sent_state="accepted")

    # ---- ingress ---------------------------------------------------------------------------

    async def verify_signature(self, raw: bytes, signature: str | None) -> tuple[str, int] | None:
        """None when ``X-Hub-Signature-256`` matches the body, else (reason, 401 or 403)."""
        return await self.client.webhook_update_validator(update=raw, hmac_header=signature)

    async def challenge(self, verify_token: str | None, challenge: str | None) -> tuple[str, int]:
        """Meta's subscription check: echo the challenge when the verify token is ours."""
        body, status = await self.client.webhook_challenge_handler(vt=verify_token, ch=challenge)
        return body or "", status

    async def store(self, raw: bytes) -> list[int]:
        """Store each message and status of a verified body once; return the ids of the new ones.

        Returns only after the rows are committed. Concurrent requests share one INSERT and one
        commit (group commit), which is what lets one process ack over a thousand updates a second.
        """
        envelope = json.loads(raw)
        if not isinstance(envelope, dict):
            raise ValueError("a webhook body is a JSON object")
        return await self.inbox.store(split_envelope(envelope, raw))

    def process_later(self, update_ids: Iterable[int]) -> None:
        """Process stored updates off the request path, as background tasks."""
        for update_id in update_ids:
            self.tasks.spawn(self.process(update_id, seen_attempts=0))

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until background processing started so far has finished (tests, shutdown)."""
        await self.tasks.idle(timeout)

    # ---- processing ------------------------------------------------------------------------

    async def process(self, update_id: int, seen_attempts: int) -> None:
        """Process one stored update; on failure it stays stored and the sweep retries it."""
        row = await self.inbox.claim(update_id, seen_attempts)
        if row is None:
            return
        body = json.loads(row.payload)
        try:
            if body["kind"] == "message":
                chat_id = await self._on_message(row.id, body)
                await self.flush(chat_id)
            elif body["kind"] == "status":
                await self._on_status(row.id, body["status"], row.attempts)
            else:
                await self.inbox.done(row.id)
        except Retry:
            log.info("whatsapp update %s not ready yet (attempt %d)", row.id, row.attempts)
        except Exception:
            log.exception("whatsapp update %s failed (attempt %d); kept for retry", row.id, row.attempts)

    async def _on_message(self, update_id: int, body: dict[str, Any]) -> str:
        message = await self._known_by_scoped_id(inbound_message(body), body)
        if message.channel_message_id:
            self.tasks.spawn(self._typing(message.channel_message_id))
        if message.payload and message.payload.startswith(MORE_PREFIX):
            await self._next_page(update_id, message)
            return message.chat_id

        async def queue_replies(
            session: AsyncSession, conversation_id: int | None, replies: list[Reply]
        ) -> None:
            await _remember_scoped_ids(session, message.channel_user_id, body)
            for reply in replies:
                for payload in render(reply, self.labels):
                    session.add(self._outbound(message.chat_id, conversation_id, "reply", payload))
            await self.inbox.done(update_id, session)

        await self.engine.handle(message, within=queue_replies)
        return message.chat_id

    async def _known_by_scoped_id(self, message: InboundMessage, body: dict[str, Any]) -> InboundMessage:
        """A message that carries only a BSUID belongs to the identity that already has that BSUID."""
        bsuid, _parent = scoped_ids(body)
        if message.phone is not None or bsuid is None:
            return message
        async with self.db.transaction() as session:
            known = await session.scalar(
                select(Identity.channel_user_id).where(
                    Identity.channel == CHANNEL, Identity.scoped_user_id == bsuid
                )
            )
        if known is None or known == message.channel_user_id:
            return message
        return dataclasses.replace(message, channel_user_id=known, chat_id=known)

    async def _next_page(self, update_id: int, message: InboundMessage) -> None:
        """Answer a "More" row with the next page of the last list sent to this chat."""
        raw = (message.payload or "").removeprefix(MORE_PREFIX)
        offset = int(raw) if raw.isdigit() else 0
        async with self.db.transaction() as session:
            last = await session.scalar(
                select(OutboundMessage)
                .where(OutboundMessage.channel == CHANNEL, OutboundMessage.chat_id == message.chat_id)
                .where(OutboundMessage.kind == "reply")
                .where(OutboundMessage.payload["type"].as_string() == "list")
                .order_by(OutboundMessage.id.desc())
                .limit(1)
            )
            if last is not None:
                payload = {**last.payload, "offset": offset}
                session.add(self._outbound(message.chat_id, last.conversation_id, "reply", payload))
            await self.inbox.done(update_id, session)

    async def _typing(self, message_id: str) -> None:
        try:
            await graph.typing(self.client, message_id)
        except (WhatsAppError, httpx.HTTPError) as error:
            log.info("typing indicator failed: %s", type(error).__name__)

    async def _on_status(self, update_id: int, status: dict[str, Any], attempts: int) -> None:
        """Move an outbound message forward (highest state wins); record failures; 131047 → template."""
        wamid = str(status.get("id", ""))
        new = str(status.get("status", ""))
        async with self.db.transaction() as session:
            outbound = await session.scalar(
                select(OutboundMessage)
                .where(OutboundMessage.channel == CHANNEL, OutboundMessage.channel_message_id == wamid)
                .with_for_update()
            )
            if outbound is None:
                if attempts < UNKNOWN_STATUS_ATTEMPTS:
                    raise Retry(wamid)
                await self.inbox.done(update_id, session)
                return
            if new == "failed":
                errors = status.get("errors") or [{}]
                code = int(errors[0].get("code") or 0) or None
                below_delivered = STATE_RANK.get(outbound.state, 0) < STATE_RANK["delivered"]
                if code == OUTSIDE_WINDOW and outbound.payload.get("fallback") and below_delivered:
                    _requeue_as_template(outbound)
                elif STATE_RANK[new] > STATE_RANK.get(outbound.state, 0):
                    outbound.state = new
                    outbound.error_code = code
            elif new in STATE_RANK and STATE_RANK[new] > STATE_RANK.get(outbound.state, 0):
                outbound.state = new
            await self.inbox.done(update_id, session)
        if outbound.state == "queued":
            await self.flush(outbound.chat_id)

    # ---- receipts --------------------------------------------------------------------------

    async def deliver_receipts(self) -> int:
        """Queue and send every undelivered receipt of a WhatsApp chat; templates outside the window."""
        return await self.outbox.deliver_receipts(self._render_receipts)

    async def _render_receipts(
        self, session: AsyncSession, conversation: Conversation, replies: list[Reply]
    ) -> list[OutboundMessage]:
        """Receipts as free-form messages (with a template fallback) inside the window, templates outside."""
        user = await session.get(User, conversation.user_id)
        language = self.config.template_languages.get((user.language if user else None) or "en", "en")
        window_open = self._window_open(conversation.last_inbound_at)
        rows = []
        for reply in replies:
            fallback = template(self.config.receipt_template, language, reply.text)
            if window_open:
                for payload in render(reply, self.labels):
                    with_fallback = {**payload, "fallback": fallback}
                    rows.append(
                        self._outbound(conversation.chat_id, conversation.id, "receipt", with_fallback)
                    )
            else:
                rows.append(self._outbound(conversation.chat_id, conversation.id, "receipt", fallback))
        return rows

    def _window_open(self, last_inbound_at: datetime | None) -> bool:
        if last_inbound_at is None:
            return False
        if last_inbound_at.tzinfo is None:  # SQLite returns naive UTC
            last_inbound_at = last_inbound_at.replace(tzinfo=utcnow().tzinfo)
        return utcnow() - last_inbound_at < timedelta(seconds=self.config.window_seconds)

    # ---- outbound queue --------------------------------------------------------------------

    def _outbound(
        self, chat_id: str, conversation_id: int | None, kind: str, payload: Payload
    ) -> OutboundMessage:
        return self.outbox.new(
            chat_id, conversation_id, kind, payload, as_template=payload.get("type") == "template"
        )

    async def flush(self, chat_id: str | None = None) -> int:
        """Send queued messages that are due, in order per chat; return how many went out."""
        return await self.outbox.flush(chat_id)

    async def _send(self, row: OutboundMessage) -> Outcome:
        """Send one claimed row through the Graph API; map Meta's refusals to what the queue does next."""
        try:
            wamid = await graph.send(self.client, row.chat_id, row.payload, self.labels)
        except WhatsAppError as error:
            return await self._send_failed(row, int(error.code))
        except httpx.HTTPError as error:
            log.warning("whatsapp send to %s: %s; will retry", mask_phone(row.chat_id), type(error).__name__)
            return RetryLater(backoff(row.attempts, base=2.0, cap=300.0))
        return Sent(wamid)

    async def _send_failed(self, row: OutboundMessage, code: int) -> Outcome:
        fallback = row.payload.get("fallback")
        if code == OUTSIDE_WINDOW and fallback and not row.as_template:
            async with self.db.transaction() as session:
                fresh = await session.get(OutboundMessage, row.id)
                assert fresh is not None
                _requeue_as_template(fresh)
            return SendAgain()
        if code == THROUGHPUT:
            return RetryLater(backoff(row.attempts, base=1.0, cap=60.0))
        if code == PAIR_RATE:
            return RetryLater(backoff(row.attempts, base=4.0, cap=600.0, factor=4.0))
        return Failed(code)

    # ---- background ------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Retry stored updates whose processing failed or whose process died; return how many."""
        due = await self.inbox.due()
        for update_id, attempts, _ in due:
            await self.process(update_id, attempts)
        return len(due)

    async def tick(self) -> None:
        """One pass of every background duty."""
        await self.sweep()
        await self.deliver_receipts()
        await self.flush()

    async def run(self) -> None:
        """Background duties forever: retries, receipts, paced sends."""
        await run_forever("whatsapp", self.tick, self.config.poll_seconds)

    async def close(self) -> None:
        """Let running work finish briefly, then close HTTP connections."""
        await self.tasks.close(5.0)
        await graph.close_client(self.client)


def _requeue_as_template(row: OutboundMessage) -> None:
    """Send a receipt again as its template (Meta said the 24-hour window had closed)."""
    row.payload = row.payload["fallback"]
    row.as_template = True
    row.state = "queued"
    row.channel_message_id = None
    row.next_attempt_at = None
    row.error_code = OUTSIDE_WINDOW


async def _conversation_id(session: AsyncSession, chat_id: str) -> int | None:
    return await session.scalar(
        select(Conversation.id).where(Conversation.channel == CHANNEL, Conversation.chat_id == chat_id)
    )
