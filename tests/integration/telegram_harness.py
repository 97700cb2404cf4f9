"""The web app with the Telegram channel against the Bot API and VTpass sandboxes, driven over HTTP.

Updates are built here in the Bot API's shape (``is_bot``, chat types, ``bot_command`` entities,
``callback_query`` carrying the message it was pressed on), our own data, not copied fixtures.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from bots.telegram.channel import TelegramChannel
from bots.telegram.webhook import SECRET_HEADER, TELEGRAM_KEY
from domain import ledger
from domain.models import Identity, Order, utcnow
from nexustop.bootstrap import App, demo_settings
from nexustop.settings import Settings
from nexustop.web import APP_KEY, create_app
from sandbox.telegram import BotState, TelegramSandbox, start_telegram_sandbox
from tests.integration import settling

TOKEN = "7000000001:AAH-test-token-for-the-sandbox"
SECRET = "tg-webhook-secret_42"
BOT_USERNAME = "NexusTopBot"


def person(user_id: int | None = None, first_name: str = "Chiamaka", language: str = "en") -> dict[str, Any]:
    """A Telegram user (not a bot) with a random id unless given."""
    return {
        "id": user_id or random.randrange(10**8, 10**10),
        "is_bot": False,
        "first_name": first_name,
        "language_code": language,
    }


def private_chat(user: dict[str, Any]) -> dict[str, Any]:
    """The private chat with ``user`` (its id is the user's)."""
    return {"id": user["id"], "first_name": user["first_name"], "type": "private"}


def group_chat() -> dict[str, Any]:
    """A supergroup (negative id)."""
    return {"id": -(10**12) - random.randrange(10**9), "title": "Lagos friends", "type": "supergroup"}


@dataclass
class Harness:
    """The running web app, its Telegram channel and the Bot API sandbox."""

    client: TestClient
    bot_api: TelegramSandbox
    channel: TelegramChannel
    app: App
    after: settling.Baseline
    """The newest rows when the harness started: settling waits only for what came after."""
    _update_ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(random.randrange(10**8))
    )
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    @property
    def state(self) -> BotState:
        """The sandbox's memory and knobs."""
        return self.bot_api.state

    def text_update(
        self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """An update: ``user`` wrote ``text`` (a leading /command gets its entity)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": chat or private_chat(user),
            "date": int(time.time()),
            "text": text,
        }
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return {"update_id": next(self._update_ids), "message": message}

    def press_update(self, user: dict[str, Any], chat_id: int, label: str) -> dict[str, Any]:
        """An update: ``user`` pressed the button labelled ``label`` on the latest bot message showing it."""
        shown, data = self.button(chat_id, label)
        return {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": str(random.randrange(10**17, 10**18)),
                "from": user,
                "message": shown,
                "chat_instance": str(random.randrange(10**17)),
                "data": data,
            },
        }

    def button(self, chat_id: int, label: str) -> tuple[dict[str, Any], str]:
        """The latest message to ``chat_id`` with a button whose text starts with ``label``, and its data."""
        messages = [m for (chat, _), m in self.state.messages.items() if chat == str(chat_id)]
        for shown in sorted(messages, key=lambda m: m["message_id"], reverse=True):
            for row in (shown.get("reply_markup") or {}).get("inline_keyboard", []):
                for button in row:
                    if button["text"].startswith(label):
                        return shown, button["callback_data"]
        raise AssertionError(f"no {label!r} button in chat {chat_id}")

    async def post(self, update: dict[str, Any] | bytes, secret: str | None = SECRET) -> int:
        """POST an update to the webhook with the secret header (or ``secret``); return the HTTP status."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        response = await self.client.post("/webhook/telegram", data=body, headers=headers)
        return response.status

    async def say(self, user: dict[str, Any], text: str, chat: dict[str, Any] | None = None) -> None:
        """Post a text update and wait until everything it caused has been sent."""
        assert await self.post(self.text_update(user, text, chat)) == 200
        await self.settle()

    async def press(self, user: dict[str, Any], chat_id: int, label: str) -> None:
        """Press a button and wait until everything it caused has been sent."""
        assert await self.post(self.press_update(user, chat_id, label)) == 200
        await self.settle()

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until updates are processed, orders settled and receipts handed to the sandbox."""
        await settling.settle(self.channel, self.app, self.app.db, "telegram", timeout, self.after)

    def texts_to(self, chat_id: int) -> list[str]:
        """The text of every message the sandbox accepted for ``chat_id``, in order."""
        return [str(c.params["text"]) for c in self.state.sent(chat_id)]

    def answers(self) -> list[dict[str, Any]]:
        """The parameters of every ``answerCallbackQuery``."""
        return [c.params for c in self.state.calls_of("answerCallbackQuery")]

    async def user_id(self, telegram_user: dict[str, Any]) -> int | None:
        """Our user id behind a Telegram user."""
        async with self.app.db.transaction() as session:
            return await session.scalar(
                select(Identity.user_id).where(
                    Identity.channel == "telegram", Identity.channel_user_id == str(telegram_user["id"])
                )
            )

    async def wallet(self, telegram_user: dict[str, Any], currency: str = "NGN") -> int:
        """Posted balance of the user behind ``telegram_user``, minor units."""
        user_id = await self.user_id(telegram_user)
        assert user_id is not None
        async with self.app.db.transaction() as session:
            wallet = await ledger.open_wallet(session, user_id, currency)
            return (await ledger.balance(session, wallet)).posted

    async def orders(self, telegram_user: dict[str, Any]) -> int:
        """How many orders the user behind ``telegram_user`` placed."""
        user_id = await self.user_id(telegram_user)
        async with self.app.db.transaction() as session:
            count = await session.scalar(select(func.count(Order.id)).where(Order.user_id == user_id))
            return int(count or 0)


def telegram_settings(pg_url: str, api_base: str) -> Settings:
    """Demo settings (opening balances, in-process fulfilment) with the Telegram channel on ``api_base``."""
    return demo_settings(
        Settings(
            database_url=pg_url,
            telegram_token=SecretStr(TOKEN),
            telegram_webhook_secret=SecretStr(SECRET),
            telegram_api_base=api_base,
            telegram_bot_username=BOT_USERNAME,
            telegram_poll_seconds=0.05,
        )
    ).model_copy(update={"requery_delays_seconds": (0.05, 0.1, 0.2)})


@asynccontextmanager
async def telegram_app(pg_url: str, **settings: Any) -> AsyncIterator[Harness]:
    """The demo web app on PostgreSQL with the Bot API sandbox, its webhook pointing at the app
    (``settings`` override the demo's, e.g. ``gift_ttl_hours=1``)."""
    bot_api = await start_telegram_sandbox(token=TOKEN, username=BOT_USERNAME, webhook_secret=SECRET)
    web_app = create_app(telegram_settings(pg_url, bot_api.api_base).model_copy(update=settings))
    try:
        async with TestClient(TestServer(web_app)) as client:
            bot_api.state.webhook_url = str(client.make_url("/webhook/telegram"))
            yield Harness(
                client,
                bot_api,
                web_app[TELEGRAM_KEY],
                web_app[APP_KEY],
                await settling.baseline(web_app[APP_KEY].db),
            )
    finally:
        await bot_api.close()


__all__ = ["Harness", "group_chat", "person", "private_chat", "telegram_app", "utcnow"]
