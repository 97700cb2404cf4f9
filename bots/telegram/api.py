"""Outbound Bot API calls through python-telegram-bot's ``Bot``, at a configurable base URL."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.request import HTTPXRequest

from bots.telegram.render import Payload, keyboard
from conversations import notices
from conversations.i18n import REPLY_LANGUAGES, localizer

#: The commands users see in Telegram's menu (``setMyCommands``), all answered in private chats.
COMMANDS = notices.COMMANDS
#: The updates the webhook asks Telegram for.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """What the Telegram channel needs to know; the composition root fills it from settings."""

    token: str
    webhook_secret: str
    api_base: str = "https://api.telegram.org/bot"
    bot_username: str = ""
    poll_seconds: float = 1.0
    request_timeout: float = 10.0
    chat_interval: float = 1.0
    """Seconds between two messages to one chat (Telegram: about one per second)."""
    group_interval: float = 3.0
    """Seconds between two messages to one group (Telegram: 20 per minute)."""
    global_interval: float = 1 / 30
    """Seconds between any two messages of the bot (Telegram: about 30 per second)."""
    max_pacing_wait: float = 2.0
    """Longer waits for a send slot go back to the queue instead of holding the sender."""


#: Loggers that print request URLs, which carry the bot token.
URL_LOGGERS = (
    "httpx",
    "httpcore.http11",
    "httpcore.connection",
    "telegram",
    "telegram.Bot",
    "telegram.ext.ExtBot",
    "telegram.BaseRequest",
    "telegram.HTTPXRequest",
    "aiohttp.access",
)


class RedactToken(logging.Filter):
    """Replaces the bot token in log records (request URLs carry it) with ``<token>``."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message when it contains the token; never drop the record."""
        message = record.getMessage()
        if self.token and self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = ()
        return True


def redact_token_in_logs(token: str) -> None:
    """Keep the token out of every log line of the HTTP and ptb loggers (once per token)."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactToken) and f.token == token for f in logger.filters):
            logger.addFilter(RedactToken(token))


def build_bot(config: TelegramConfig) -> Bot:
    """A ptb ``Bot`` whose calls all go to ``config.api_base`` (Telegram, or a sandbox)."""
    redact_token_in_logs(config.token)
    request = HTTPXRequest(
        connection_pool_size=64,
        read_timeout=config.request_timeout,
        write_timeout=config.request_timeout,
        connect_timeout=config.request_timeout,
    )
    return Bot(config.token, base_url=config.api_base, request=request)


def markup(payload: Payload, offset: int = 0) -> InlineKeyboardMarkup | None:
    """The inline keyboard of a stored message, or None when it has no buttons."""
    rows = keyboard(payload, offset)
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b["text"], url=b["url"])
                if "url" in b
                else InlineKeyboardButton(b["text"], callback_data=b["data"])
                for b in row
            ]
            for row in rows
        ]
    )


def reply_keyboard(payload: Payload) -> ReplyKeyboardMarkup | ReplyKeyboardRemove | None:
    """The reply keyboard a stored message sets or removes (inline keyboards take precedence)."""
    if payload.get("contact"):
        button = KeyboardButton(str(payload["contact"]), request_contact=True)
        return ReplyKeyboardMarkup([[button]], resize_keyboard=True, one_time_keyboard=True)
    if payload.get("remove_keyboard"):
        return ReplyKeyboardRemove()
    return None


async def send(bot: Bot, chat_id: str, payload: Payload) -> str | None:
    """Send, edit or delete one stored message; ``chat:message_id`` of a new one. Raises ``TelegramError``."""
    if payload["type"] == "delete":
        await bot.delete_message(chat_id, int(payload["message_id"]))
        return None
    inline = markup(payload, int(payload.get("offset", 0)))
    if payload["type"] == "edit":
        await bot.edit_message_text(
            payload["text"], chat_id=chat_id, message_id=int(payload["message_id"]), reply_markup=inline
        )
        return None
    message = await bot.send_message(chat_id, payload["text"], reply_markup=inline or reply_keyboard(payload))
    return f"{chat_id}:{message.message_id}"


async def set_webhook(bot: Bot, url: str, secret: str, *, drop_pending: bool = False) -> None:
    """Register the webhook (with its secret header) and the command menu in every reply language
    (English for the others); run once per deploy."""
    await bot.set_webhook(
        url,
        secret_token=secret,
        allowed_updates=list(ALLOWED_UPDATES),
        drop_pending_updates=drop_pending,
    )
    await bot.set_my_commands(_commands("en"))
    for language in REPLY_LANGUAGES:
        await bot.set_my_commands(_commands(language), language_code=language)


def _commands(language: str) -> list[BotCommand]:
    """The command menu in ``language``."""
    t = localizer(language, None)
    return [BotCommand(name, t._(description)) for name, description in COMMANDS]
