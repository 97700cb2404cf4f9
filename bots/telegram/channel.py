"""The Telegram channel: stored updates processed in order per chat, button tokens, paced sending."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import secrets
import warnings
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError

from bots.duties import run_forever
from bots.ingress import BackgroundTasks, Inbox
from bots.outbox import Failed, Outbox, Outcome, RetryLater, Sent, backoff
from bots.pacing import Limit, LocalPacer, Pacer
from bots.telegram import api, updates
from bots.telegram.api import TelegramConfig
from bots.telegram.render import (
    DATA_PREFIX,
    DEFAULT_LABELS,
    PAGE_PREFIX,
    PAGE_SIZE,
    Labels,
    Payload,
    drafts,
    localized,
    message_payload,
    needs_labels,
    page_offsets,
)
from bots.telegram.updates import CHANNEL, COMMAND_TEXT, GROUP_COMMANDS, PRIVACY, telegram_chat_id
from conversations import notices
from conversations.engine import Engine, WithinTurn
from conversations.i18n import Localizer, localizer
from conversations.messages import ChatKind, Reply
from domain.countries import get_country
from domain.database import Database
from domain.models import (
    ButtonToken,
    Conversation,
    Identity,
    InboundUpdate,
    OutboundMessage,
    User,
    utcnow,
)
from domain.phones import mask_phone

log = logging.getLogger(__name__)

#: An update that failed this many times is set aside (logged) so its chat is not blocked for ever.
MAX_ATTEMPTS = 5


class TelegramChannel:
    """Ingress, ordered processing and paced sending for one Telegram bot."""

    def __init__(
        self,
        config: TelegramConfig,
        db: Database,
        engine: Engine,
        pacer: Pacer | LocalPacer,
        bot: Bot | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.engine = engine
        self.pacer = pacer
        self.bot = bot or api.build_bot(config)
        self.tasks = BackgroundTasks()
        self.inbox = Inbox(db, CHANNEL, self.tasks)
        self.outbox = Outbox(db, CHANNEL, self._send, sent_state="sent")

    async def learn_username(self) -> None:
        """Ask the Bot API who we are (getMe) when no username is configured.

        Without it, group commands addressed ``/gift@<bot>`` are not recognised as ours and gift
        announcements carry no Claim link, so a failure here is logged loudly.
        """
        if self.config.bot_username:
            return
        try:
            me = await self.bot.get_me()
        except TelegramError as error:
            log.warning(
                "Telegram: TELEGRAM_BOT_USERNAME is empty and getMe failed (%s): group gifts will have"
                " no Claim button until it is set",
                type(error).__name__,
            )
            return
        self.config = dataclasses.replace(self.config, bot_username=me.username or "")
        log.info("Telegram: bot username @%s (from getMe)", self.config.bot_username)

    # ---- ingress ---------------------------------------------------------------------------

    def secret_ok(self, header: str | None) -> bool:
        """True when ``X-Telegram-Bot-Api-Secret-Token`` is our webhook secret (constant-time)."""
        expected = self.config.webhook_secret.encode()
        return bool(expected) and hmac.compare_digest((header or "").encode(), expected)

    async def store(self, update: dict[str, Any]) -> str | None:
        """Store an update once (committed before returning); its chat when it was new, else None."""
        item = updates.item(update)
        new = await self.inbox.store([item])
        return item.chat_key if new else None

    def process_later(self, chat_key: str) -> None:
        """Process a chat's stored updates off the request path."""
        self.tasks.spawn(self.drain(chat_key))

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until background work started so far has finished (tests, shutdown)."""
        await self.tasks.idle(timeout)

    # ---- processing ------------------------------------------------------------------------

    async def drain(self, chat_key: str) -> int:
        """Process a chat's updates oldest first, while this process holds the head; return how many."""
        count = 0
        while (row := await self.inbox.claim_next_in_chat(chat_key)) is not None:
            if row.attempts > MAX_ATTEMPTS:
                log.error("telegram update %s failed %d times; set aside", row.update_key, row.attempts - 1)
                await self.inbox.done(row.id)
                continue
            try:
                await self._process(row)
            except Exception:
                log.exception("telegram update %s failed (attempt %d); kept for retry", row.id, row.attempts)
                return count
            count += 1
            self.tasks.spawn(self.flush(chat_key))
        return count

    async def _process(self, row: InboundUpdate) -> None:
        body: dict[str, Any] = json.loads(row.payload)
        if isinstance(body.get("callback_query"), dict):
            await self._on_press(row.id, body["callback_query"])
        elif isinstance(body.get("message"), dict):
            await self._on_message(row.id, body["message"])
        else:
            await self.inbox.done(row.id)

    async def _on_message(self, update_id: int, message: dict[str, Any]) -> None:
        sender: dict[str, Any] = message.get("from") or {}
        chat: dict[str, Any] = message.get("chat") or {}
        command = updates.command(message, self.config.bot_username)
        if not sender or sender.get("is_bot") or "id" not in chat or (command and command.for_other_bot):
            await self.inbox.done(update_id)
            return
        chat_id = str(chat["id"])
        in_group = updates.chat_kind(chat) is ChatKind.GROUP
        if in_group and (command is None or command.name not in GROUP_COMMANDS):
            await self._notify(update_id, chat_id, sender, notices.PRIVATE_ONLY if command else None)
            return
        if command is not None and command.name == PRIVACY:
            await self._notify(update_id, chat_id, sender, notices.PRIVACY)
            return
        if command is not None:
            # /start's deep-link argument stays in the stored update, for gifting.
            text = COMMAND_TEXT.get(command.name) or f"{command.name} {command.argument}".strip()
        else:
            text = str(message.get("text") or message.get("caption") or "")
        inbound = updates.inbound(message, sender, text=text)
        if command is not None and command.name == "start" and command.argument:
            inbound = dataclasses.replace(inbound, start_payload=command.argument[:64])
        if in_group and command is not None and command.name == "gift" and (to := updates.addressee(message)):
            inbound = dataclasses.replace(inbound, target_user_id=to[0], target_name=to[1])
        if contact := updates.shared_contact(message, sender):
            # Someone else's number is only ever what the user might have typed.
            inbound = dataclasses.replace(inbound, text=contact.number, phone=contact.own)
        within = self._queuer(
            update_id, chat_id, inbound.channel_user_id, inbound_message_id=message.get("message_id")
        )
        await self.engine.handle(inbound, within=within)

    async def _on_press(self, update_id: int, query: dict[str, Any]) -> None:
        """A button press: check its token (chat, presser, used), answer at once, then act on it."""
        sender: dict[str, Any] = query.get("from") or {}
        message: dict[str, Any] = query.get("message") or {}
        user_id = str(sender.get("id", ""))
        chat_id = str((message.get("chat") or {}).get("id", user_id))
        token = updates.token_of(query.get("data"))
        async with self.db.transaction() as session:
            row = None
            if token is not None:
                row = await session.scalar(select(ButtonToken).where(ButtonToken.token == token))
            notice = self._refusal(row, chat_id, user_id)
            if notice is not None:
                notice = (await self._speaker(session, sender))._(notice)
        if row is None or notice is not None:
            await self._answer(query, notice)
            await self.inbox.done(update_id)
            return
        await self._answer(query, None)
        if row.payload.startswith(PAGE_PREFIX):
            await self._turn_page(
                update_id, chat_id, message, int(row.payload.removeprefix(PAGE_PREFIX) or 0)
            )
            return
        inbound = updates.inbound(message, sender, payload=row.payload)
        await self.engine.handle(
            inbound, within=self._queuer(update_id, chat_id, user_id, used_keyboard=row.keyboard)
        )

    @staticmethod
    def _refusal(row: ButtonToken | None, chat_id: str, user_id: str) -> str | None:
        """Why a press must do nothing (a notice, untranslated), or None when it may go ahead."""
        if row is None or row.channel != CHANNEL or row.chat_id != chat_id:
            return notices.BUTTON_EXPIRED
        if row.allowed_user_id is not None and row.allowed_user_id != user_id:
            return notices.BUTTON_NOT_YOURS
        if row.used_at is not None and not row.reusable:
            return notices.BUTTON_USED
        return None

    @staticmethod
    async def _speaker(session: AsyncSession, sender: dict[str, Any]) -> Localizer:
        """How to talk to a Telegram user outside a turn: their chosen language, else their app's."""
        found = (
            await session.execute(
                select(User.language, User.country)
                .join(Identity, Identity.user_id == User.id)
                .where(Identity.channel == CHANNEL, Identity.channel_user_id == str(sender.get("id", "")))
            )
        ).first()
        language = (found[0] if found else None) or str(sender.get("language_code") or "")[:2].lower()
        return localizer(language, get_country(found[1]) if found and found[1] else None)

    @staticmethod
    async def _labels(session: AsyncSession, conversation_id: int | None) -> Labels:
        """The renderer's words in the language of a conversation's user."""
        if conversation_id is None:
            return DEFAULT_LABELS
        found = (
            await session.execute(
                select(User.language, User.country)
                .join(Conversation, Conversation.user_id == User.id)
                .where(Conversation.id == conversation_id)
            )
        ).first()
        if found is None:
            return DEFAULT_LABELS
        return localized(localizer(found[0], get_country(found[1]) if found[1] else None))

    async def _answer(self, query: dict[str, Any], text: str | None) -> None:
        """Answer a callback query (clients show a spinner until we do); failures only get logged."""
        try:
            await self.bot.answer_callback_query(str(query.get("id", "")), text=text)
        except TelegramError as error:
            log.info("telegram: answering a callback query failed: %s", type(error).__name__)

    async def _turn_page(self, update_id: int, chat_id: str, message: dict[str, Any], offset: int) -> None:
        """Show another page of a list by editing the message that carries it."""
        message_id = message.get("message_id")
        async with self.db.transaction() as session:
            shown = await session.scalar(
                select(OutboundMessage).where(
                    OutboundMessage.channel == CHANNEL,
                    OutboundMessage.channel_message_id == f"{chat_id}:{message_id}",
                )
            )
            if shown is not None:
                payload = {**shown.payload, "type": "edit", "message_id": message_id, "offset": offset}
                session.add(self.outbox.new(chat_id, shown.conversation_id, "edit", payload))
            await self.inbox.done(update_id, session)

    async def _notify(self, update_id: int, chat_id: str, sender: dict[str, Any], notice: str | None) -> None:
        """Answer a notice (untranslated; None: stay silent) without an engine turn; mark the update done."""
        async with self.db.transaction() as session:
            replies = [Reply((await self._speaker(session, sender))._(notice))] if notice else []
            await self._queuer(update_id, chat_id, str(sender["id"]))(session, None, replies)

    def _queuer(
        self,
        update_id: int,
        chat_id: str,
        allowed_user: str,
        *,
        used_keyboard: str | None = None,
        inbound_message_id: int | None = None,
    ) -> WithinTurn:
        """What to write in the turn's own transaction: the user's message deleted when a reply
        says it held a secret, the replies (with their button tokens), the pressed keyboard used
        up, the update marked done."""

        async def write(session: AsyncSession, conversation_id: int | None, replies: list[Reply]) -> None:
            if used_keyboard is not None:
                await session.execute(
                    update(ButtonToken)
                    .where(ButtonToken.keyboard == used_keyboard, ButtonToken.used_at.is_(None))
                    .where(ButtonToken.reusable.is_(False))
                    .values(used_at=utcnow())
                )
            if inbound_message_id is not None and any(reply.forget_inbound for reply in replies):
                # Queued first, so the secret leaves the chat before the answer is sent.
                deletion = {"type": "delete", "message_id": inbound_message_id}
                session.add(self.outbox.new(chat_id, conversation_id, "delete", deletion))
            rows = await self._rows(
                session, chat_id, conversation_id, allowed_user, "reply", replies, answers_user=True
            )
            session.add_all(rows)
            await self.inbox.done(update_id, session)

        return write

    async def _rows(
        self,
        session: AsyncSession,
        chat_id: str,
        conversation_id: int | None,
        allowed_user: str | None,
        kind: str,
        replies: list[Reply],
        *,
        answers_user: bool = False,
    ) -> list[OutboundMessage]:
        """Outbound rows for replies; each button gets a token row bound to the chat and the user.

        ``answers_user``: the replies answer the user's own message, so a share-my-number keyboard
        shown before has served its purpose and goes away unless a reply asks again.
        """
        labels = DEFAULT_LABELS
        if any(needs_labels(reply) for reply in replies):
            labels = await self._labels(session, conversation_id)
        payloads = [
            payload
            for reply in replies
            for payload in self._payloads(session, chat_id, allowed_user, reply, labels)
        ]
        private = not chat_id.startswith("-")
        if answers_user and private and not any(reply.request_contact for reply in replies):
            # Stateless: removing a reply keyboard that is not shown does nothing, so the first
            # message that may carry it (one without inline buttons) always does.
            plain = next((p for p in payloads if not p["buttons"]), None)
            if plain is not None:
                plain["remove_keyboard"] = True
        return [self.outbox.new(chat_id, conversation_id, kind, payload) for payload in payloads]

    def _payloads(
        self, session: AsyncSession, chat_id: str, allowed_user: str | None, reply: Reply, labels: Labels
    ) -> list[Payload]:
        """One reply as stored messages: its drafts with button tokens, and a share-my-number keyboard."""
        payloads = []
        parts = drafts(reply)
        for draft in parts:
            keyboard = secrets.token_urlsafe(9)
            buttons = []
            for choice_id, label in draft.choices:
                token = self._token(session, chat_id, allowed_user, choice_id, keyboard, reusable=False)
                buttons.append({"text": label, "data": DATA_PREFIX + token})
            pages = {}
            if draft.is_list and len(buttons) > PAGE_SIZE:
                for offset in page_offsets(len(buttons)):
                    token = self._token(
                        session, chat_id, allowed_user, f"{PAGE_PREFIX}{offset}", keyboard, reusable=True
                    )
                    pages[str(offset)] = DATA_PREFIX + token
            if reply.link and draft is parts[-1] and (url := self._url(reply.link)):
                buttons.append({"text": reply.link_title or labels.open_link, "url": url})
            payloads.append(message_payload(draft.text, buttons, draft.is_list, pages, labels))
        last = payloads[-1]
        if reply.key or reply.replaces:
            last["key"] = reply.key or reply.replaces
        if reply.replaces:
            last["replaces"] = reply.replaces
        # Contacts can be requested in private chats only, and only by a reply keyboard, which
        # cannot share a message with inline buttons: those get a line of their own.
        if reply.request_contact and not chat_id.startswith("-"):
            if last["buttons"]:
                last = message_payload(labels.share_phone_hint, [], False, {})
                payloads.append(last)
            last["contact"] = labels.share_phone
        return payloads

    def _url(self, link: str) -> str | None:
        """A reply's link as a URL: ``start:<token>`` becomes the bot's deep link."""
        if link.startswith("start:"):
            if not self.config.bot_username:
                return None
            return f"https://t.me/{self.config.bot_username}?start={link.removeprefix('start:')}"
        return link if link.startswith("https://") else None

    @staticmethod
    def _token(
        session: AsyncSession,
        chat_id: str,
        allowed_user: str | None,
        payload: str,
        keyboard: str,
        *,
        reusable: bool,
    ) -> str:
        token = secrets.token_urlsafe(12)
        session.add(
            ButtonToken(
                token=token,
                channel=CHANNEL,
                chat_id=chat_id,
                allowed_user_id=allowed_user,
                payload=payload[:160],
                keyboard=keyboard,
                reusable=reusable,
            )
        )
        return token

    # ---- receipts --------------------------------------------------------------------------

    async def deliver_receipts(self) -> int:
        """Queue and send every undelivered receipt of a Telegram conversation."""
        return await self.outbox.deliver_receipts(self._render_receipts)

    async def _render_receipts(
        self, session: AsyncSession, conversation: Conversation, replies: list[Reply]
    ) -> list[OutboundMessage]:
        user_id = await session.scalar(
            select(Identity.channel_user_id).where(
                Identity.channel == CHANNEL, Identity.user_id == conversation.user_id
            )
        )
        chat_id = telegram_chat_id(conversation.chat_id)
        return await self._rows(session, chat_id, conversation.id, user_id, "receipt", replies)

    # ---- sending ---------------------------------------------------------------------------

    async def flush(self, chat_id: str | None = None) -> int:
        """Send queued messages that are due, in order per chat and within the pacing limits."""
        return await self.outbox.flush(chat_id)

    def limits(self, chat_id: str) -> list[Limit]:
        """The pacing limits a message to ``chat_id`` counts against (groups have negative ids)."""
        limits = [
            Limit("tg:all", self.config.global_interval),
            Limit(f"tg:chat:{chat_id}", self.config.chat_interval),
        ]
        if chat_id.startswith("-"):
            limits.append(Limit(f"tg:group:{chat_id}", self.config.group_interval))
        return limits

    async def _send(self, row: OutboundMessage) -> Outcome:
        """Take a pacing slot, then send; Telegram's refusals map to retry later or failed for good."""
        payload: Payload = row.payload
        if row.payload.get("replaces"):
            updated = await self._update_of(row)
            if updated is None:
                return Sent(None)
            payload = updated
        wait = await self.pacer.take(self.limits(row.chat_id), self.config.max_pacing_wait)
        if wait > 0:
            return RetryLater(wait)
        try:
            message_id = await api.send(self.bot, row.chat_id, payload)
        except RetryAfter as error:
            seconds = _retry_after(error)
            log.info("telegram: flood control for %s, retry after %.0fs", mask_phone(row.chat_id), seconds)
            await self.pacer.hold(Limit(f"tg:chat:{row.chat_id}", 0), seconds)
            return RetryLater(seconds)
        except Forbidden:
            return Failed(403)
        except BadRequest as error:
            refusal = error.message.lower()
            if "not modified" in refusal or (payload["type"] == "delete" and "not found" in refusal):
                return Sent(None)
            log.warning("telegram refused a %s to %s: %s", row.kind, mask_phone(row.chat_id), error.message)
            return Failed(400)
        except InvalidToken:
            log.error("telegram: the bot token was refused; messages stay queued")
            return RetryLater(60.0)
        except NetworkError as error:
            log.warning("telegram send to %s: %s; will retry", mask_phone(row.chat_id), type(error).__name__)
            return RetryLater(backoff(row.attempts, base=2.0, cap=300.0))
        return Sent(message_id)

    async def _update_of(self, row: OutboundMessage) -> Payload | None:
        """How to send an update of an earlier message (``replaces``): as an edit of it once it
        was sent, as a new message when it never was, not at all when a later update is queued.

        Rows of a chat go out in order, so the message it updates was sent (or failed) before.
        """
        key = str(row.payload["replaces"])
        same_chat = (OutboundMessage.channel == CHANNEL, OutboundMessage.chat_id == row.chat_id)
        async with self.db.transaction() as session:
            later = await session.scalar(
                select(OutboundMessage.id)
                .where(*same_chat, OutboundMessage.id > row.id, OutboundMessage.state == "queued")
                .where(OutboundMessage.payload["replaces"].as_string() == key)
                .limit(1)
            )
            if later is not None:
                return None  # each update shows the whole state: the latest one is enough
            shown = await session.scalar(
                select(OutboundMessage.channel_message_id)
                .where(
                    *same_chat, OutboundMessage.id < row.id, OutboundMessage.channel_message_id.is_not(None)
                )
                .where(OutboundMessage.payload["key"].as_string() == key)
                .order_by(OutboundMessage.id.desc())
                .limit(1)
            )
        if shown is None:
            return dict(row.payload)
        return {**row.payload, "type": "edit", "message_id": int(shown.rsplit(":", 1)[1])}

    # ---- background ------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Drain chats whose updates failed or whose process died; return how many updates ran."""
        chats = {chat_key for _, _, chat_key in await self.inbox.due() if chat_key is not None}
        counts = await asyncio.gather(*(self.drain(chat) for chat in chats))
        return sum(counts)

    async def tick(self) -> None:
        """One pass of every background duty."""
        await self.sweep()
        await self.deliver_receipts()
        await self.flush()

    async def run(self) -> None:
        """Background duties forever: retries, receipts, paced sends."""
        await run_forever("telegram", self.tick, self.config.poll_seconds)

    async def close(self) -> None:
        """Let running work finish briefly, then close HTTP connections."""
        await self.tasks.close(5.0)
        await self.bot.request.shutdown()


def _retry_after(error: RetryAfter) -> float:
    """Seconds Telegram asked us to wait (ptb 22 warns that the attribute turns into a timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: int | float | timedelta = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
