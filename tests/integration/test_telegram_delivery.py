"""Telegram ordering and delivery: per-chat order across processes, Redis pacing, flood control, set-up."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid

import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bots.pacing import Limit, Pacer
from bots.telegram.api import build_bot
from bots.telegram.channel import TelegramChannel
from domain.models import Conversation, Message, OutboundMessage
from nexustop.cli import set_telegram_webhook
from tests.integration.telegram_harness import SECRET, TOKEN, person, telegram_app, telegram_settings

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_each_chat_is_processed_in_update_id_order_across_processes(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        first = h.channel
        # A second web process: its own channel object on the same database and Redis.
        second = TelegramChannel(first.config, first.db, first.engine, first.pacer, bot=first.bot)
        for channel in (first, second):
            channel.process_later = lambda chat_key: None  # type: ignore[method-assign]
        users = [person() for _ in range(3)]
        updates = [h.text_update(u, f"line {n}") for n in range(8) for u in users]
        random.shuffle(updates)  # delivered concurrently, in any order
        statuses = await asyncio.gather(*(h.post(u) for u in updates))
        assert set(statuses) == {200}

        chats = [str(u["id"]) for u in users]
        await asyncio.gather(*(c.drain(chat) for chat in chats for c in (first, second, first, second)))
        await h.settle()
        await second.tasks.close()

        async with h.app.db.transaction() as session:
            for user in users:
                lines = (
                    await session.scalars(
                        select(Message.body)
                        .join(Conversation, Conversation.id == Message.conversation_id)
                        .where(Conversation.channel == "telegram", Conversation.chat_id == str(user["id"]))
                        .where(Message.direction == "in")
                        .order_by(Message.id)
                    )
                ).all()
                assert list(lines) == [f"line {n}" for n in range(8)]


async def test_redis_pacer_is_shared_between_processes() -> None:
    prefix = f"test-pace-{uuid.uuid4().hex[:8]}"
    one, two = Redis.from_url(REDIS_URL), Redis.from_url(REDIS_URL)
    try:
        a, b = Pacer(one, prefix), Pacer(two, prefix)
        chat = [Limit("overall", 0.01), Limit("chat:1", 0.3)]
        assert await a.try_take(chat) == 0.0
        wait = await b.try_take(chat)
        assert 0.2 < wait <= 0.3, "the other process sees the same chat limit"
        await asyncio.sleep(0.02)
        assert await b.try_take([Limit("overall", 0.01), Limit("chat:2", 0.3)]) == 0.0, "other chats go on"
        # A refused take takes nothing: the chat's slot is not pushed further out.
        started = time.monotonic()
        assert await a.take(chat, max_wait=1.0) == 0.0
        assert 0.2 < time.monotonic() - started < 0.5
        # The group limit holds even when the chat limit would allow.
        group = [Limit("overall", 0.01), Limit("chat:-5", 0.01), Limit("group:-5", 0.5)]
        await asyncio.sleep(0.02)
        assert await a.try_take(group) == 0.0
        await asyncio.sleep(0.05)
        assert await b.try_take(group) > 0.3
        # A Retry-After from Telegram holds the chat.
        await a.hold(Limit("chat:3", 0), 0.4)
        assert await b.try_take([Limit("chat:3", 0.01)]) > 0.3
        assert await a.take([Limit("chat:3", 0.01)], max_wait=0.05) > 0, (
            "too long a wait goes back to the queue"
        )
    finally:
        await one.aclose()
        await two.aclose()


async def test_messages_to_one_chat_are_paced_and_a_retry_after_is_honoured(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        h.state.flood_next = [1]  # Telegram answers the first send with 429, retry_after 1
        await h.say(user, "/start")
        await h.say(user, "/help")
        await h.say(user, "/privacy")
        sends = h.state.calls_of("sendMessage")
        assert next(c.status for c in sends) == 429
        accepted = h.state.sent(user["id"])
        assert len(accepted) == 3, "the refused message was sent later, not lost"
        gaps = [b.at - a.at for a, b in itertools.pairwise(accepted)]
        assert all(gap >= 0.9 for gap in gaps), gaps
        assert accepted[0].at - sends[0].at >= 0.9, "retry_after was honoured"
        async with h.app.db.transaction() as session:
            rows = (
                await session.scalars(
                    select(OutboundMessage)
                    .where(OutboundMessage.chat_id == str(user["id"]))
                    .order_by(OutboundMessage.id)
                )
            ).all()
        assert [r.state for r in rows] == ["sent"] * 3 and rows[0].attempts == 2
        assert [r.payload["text"] for r in rows] == [c.params["text"] for c in accepted], "order kept"


async def test_the_sandbox_refuses_callback_data_over_64_bytes(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        bot = build_bot(h.channel.config)
        try:
            too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 65)]])
            with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
                await bot.send_message(123456, "hi", reply_markup=too_long)
            fits = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="y" * 64)]])
            assert (await bot.send_message(123456, "hi", reply_markup=fits)).message_id > 0
        finally:
            await bot.request.shutdown()


async def test_set_webhook_registers_url_secret_and_commands(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        h.state.webhook_url = None
        settings = telegram_settings(pg_url, h.bot_api.api_base)
        url = "https://bot.example.com/webhook/telegram"
        assert await set_telegram_webhook(settings, url) == 0
        assert h.state.webhook_url == url and h.state.webhook_secret == SECRET
        assert {c["command"] for c in h.state.commands} >= {"start", "help", "balance", "privacy"}
        wrong = settings.model_copy(update={"telegram_token": settings.telegram_token.__class__(TOKEN + "x")})
        assert await set_telegram_webhook(wrong, url) == 1


async def test_the_token_never_reaches_the_logs(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with telegram_app(pg_url) as h:
        await h.say(person(), "/help")
    assert h.state.sent(), "something was sent"
    assert TOKEN not in caplog.text
