"""The support inbox's view of each chat channel: agent text → the channel's own outbound rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from admin.channels import Window
from bots.telegram.channel import TelegramChannel
from bots.telegram.render import drafts, message_payload
from bots.telegram.updates import telegram_chat_id
from bots.whatsapp.channel import WhatsAppChannel
from bots.whatsapp.render import render, template
from conversations.messages import Reply
from domain.models import Conversation, OutboundMessage, User, utcnow

#: Outbound rows written by the inbox carry this kind.
AGENT_KIND = "agent"


class WhatsAppAgent:
    """Agent replies on WhatsApp: free-form inside the 24-hour window, the configured template outside."""

    name = "whatsapp"

    def __init__(self, channel: WhatsAppChannel) -> None:
        self.channel = channel

    def window(self, conversation: Conversation) -> Window:
        last = conversation.last_inbound_at
        if last is not None and last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        is_open = _within(last, self.channel.config.window_seconds)
        return Window(is_open, self.channel.config.receipt_template)

    async def rows(
        self, session: AsyncSession, conversation: Conversation, text: str, *, as_template: bool
    ) -> list[OutboundMessage]:
        user = await session.get(User, conversation.user_id)
        config = self.channel.config
        language = config.template_languages.get((user.language if user else None) or "en", "en")
        fallback = template(config.receipt_template, language, text)
        outbox = self.channel.outbox
        if as_template:
            return [outbox.new(conversation.chat_id, conversation.id, AGENT_KIND, fallback, as_template=True)]
        return [
            outbox.new(conversation.chat_id, conversation.id, AGENT_KIND, {**payload, "fallback": fallback})
            for payload in render(Reply(text))
        ]

    async def flush(self, chat_id: str | None = None) -> int:
        return await self.channel.flush(chat_id)


class TelegramAgent:
    """Agent replies on Telegram (a bot may write to a private chat at any time)."""

    name = "telegram"

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel

    def window(self, conversation: Conversation) -> Window:
        return Window(True)

    async def rows(
        self, session: AsyncSession, conversation: Conversation, text: str, *, as_template: bool
    ) -> list[OutboundMessage]:
        chat_id = telegram_chat_id(conversation.chat_id)
        return [
            self.channel.outbox.new(
                chat_id, conversation.id, AGENT_KIND, message_payload(draft.text, [], False, {})
            )
            for draft in drafts(Reply(text))
        ]

    async def flush(self, chat_id: str | None = None) -> int:
        return await self.channel.flush(chat_id)


def _within(moment: datetime | None, seconds: float) -> bool:
    return moment is not None and utcnow() - moment < timedelta(seconds=seconds)
