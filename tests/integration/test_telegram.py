"""The Telegram channel over its real HTTP endpoint: Bot API-shaped updates in, Bot API sandbox out."""

from __future__ import annotations

import asyncio
import json
import random

from sqlalchemy import func, select

from domain.models import ButtonToken, InboundUpdate, OutboundMessage
from tests.integration.dialogue import plain
from tests.integration.telegram_harness import Harness, group_chat, person, telegram_app

RECIPIENT = "08031234567"


async def _set_up_in_nigeria(h: Harness, user: dict) -> None:
    """/start, then pick Nigeria on the country keyboard (turning its page when needed)."""
    await h.say(user, "/start")
    try:
        h.button(user["id"], "Nigeria")
    except AssertionError:
        await h.press(user, user["id"], "More")
    await h.press(user, user["id"], "Nigeria")


async def _quote(h: Harness, user: dict, amount: int = 500) -> None:
    await _set_up_in_nigeria(h, user)
    await h.say(user, f"buy {amount} airtime for {RECIPIENT}")
    h.button(user["id"], "Confirm")


async def test_private_purchase_from_start_to_receipt(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await h.say(user, "/start")
        first = h.state.sent(user["id"])[0]
        assert "Which country" in first.params["text"]
        keyboard = first.params["reply_markup"]["inline_keyboard"]
        data = [b["callback_data"] for row in keyboard for b in row]
        assert all(d.startswith("b:") and len(d.encode()) <= 64 for d in data)
        assert not any("country:" in d for d in data), "callback data is opaque"
        assert len(keyboard) <= 9, "a long list is paged"

        await _quote(h, user)
        texts = [plain(t) for t in h.texts_to(user["id"])]
        assert any("Welcome to NexusTop! You're set up for Nigeria" in t for t in texts)
        assert any("Buy ₦500.00 MTN airtime for +234 803 123 4567?" in t for t in texts)

        await h.press(user, user["id"], "Confirm")
        texts = [plain(t) for t in h.texts_to(user["id"])]
        assert any("Order placed" in t for t in texts)
        receipts = [
            t for t in texts if t.startswith("✅ Delivered: ₦500.00 MTN airtime to +234 803 123 4567")
        ]
        assert len(receipts) == 1 and "Your balance: ₦9,500.00" in receipts[0]
        assert await h.wallet(user) == 950_000
        assert await h.orders(user) == 1
        presses = [c for c in h.state.calls_of("answerCallbackQuery") if c.status == 200]
        assert len(presses) >= 2 and all(not p.params.get("text") for p in presses)
        async with h.app.db.transaction() as session:
            states = set(
                (
                    await session.scalars(
                        select(OutboundMessage.state).where(OutboundMessage.chat_id == str(user["id"]))
                    )
                ).all()
            )
        assert states == {"sent"}
        # Every message arrived (a 429 under load is retried, never lost); the exact pacing is
        # tested in test_telegram_delivery.py.


async def test_wrong_or_missing_secret_is_refused_and_nothing_is_stored(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        update = h.text_update(user, "/start")
        assert await h.post(update, secret=None) == 403
        assert await h.post(update, secret="not-the-secret") == 403
        assert await h.post(update, secret="") == 403
        await h.settle()
        async with h.app.db.transaction() as session:
            stored = await session.scalar(
                select(func.count(InboundUpdate.id)).where(
                    InboundUpdate.channel == "telegram", InboundUpdate.update_key == str(update["update_id"])
                )
            )
        assert stored == 0
        assert h.state.sent(user["id"]) == []
        assert await h.post(b"not json") == 400


async def test_a_duplicate_update_id_is_processed_once(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        update = h.text_update(user, "/help")
        statuses = await asyncio.gather(*(h.post(update) for _ in range(3)))
        assert statuses == [200, 200, 200]
        assert await h.post(update) == 200  # and once more, later (Telegram retrying)
        await h.settle()
        async with h.app.db.transaction() as session:
            stored = await session.scalar(
                select(func.count(InboundUpdate.id)).where(
                    InboundUpdate.channel == "telegram", InboundUpdate.update_key == str(update["update_id"])
                )
            )
        assert stored == 1
        assert len(h.texts_to(user["id"])) == 1


async def test_confirm_pressed_twice_buys_once(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await _quote(h, user)
        first = h.press_update(user, user["id"], "Confirm")
        second = h.press_update(user, user["id"], "Confirm")  # a second tap: a new update, same button
        assert await h.post(first) == 200
        assert await h.post(second) == 200
        await h.settle()
        texts = [plain(t) for t in h.texts_to(user["id"])]
        assert sum("Order placed" in t for t in texts) == 1
        assert sum(t.startswith("✅ Delivered") for t in texts) == 1
        assert await h.orders(user) == 1
        assert await h.wallet(user) == 950_000
        answered = {
            c.params["callback_query_id"]: c.params.get("text")
            for c in h.state.calls_of("answerCallbackQuery")
        }
        assert answered[first["callback_query"]["id"]] in (None, "")
        assert answered[second["callback_query"]["id"]] == "You already chose."


async def test_a_button_pressed_by_someone_else_in_a_group_does_nothing(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        await h.say(alice, "/language@NexusTopBot", group)
        shown = h.texts_to(group["id"])
        assert shown, "the bot answered Alice in the group"
        label = h.state.sent(group["id"])[-1].params["reply_markup"]["inline_keyboard"][0][0]["text"]

        before = len(h.texts_to(group["id"]))
        intruder = h.press_update(bobby, group["id"], label)
        assert await h.post(intruder) == 200
        await h.settle()
        assert len(h.texts_to(group["id"])) == before, "Bobby's press sent nothing"
        answers = {
            c.params["callback_query_id"]: c.params.get("text")
            for c in h.state.calls_of("answerCallbackQuery")
        }
        assert answers[intruder["callback_query"]["id"]] == "This button isn't for you."
        assert await h.user_id(bobby) is None, "nothing was created for Bobby"

        await h.press(alice, group["id"], label)
        assert len(h.texts_to(group["id"])) > before, "Alice's own press goes through"

        # Money stays private; commands for other bots and plain chatter are ignored.
        await h.say(alice, "/balance@NexusTopBot", group)
        assert "private chat" in h.texts_to(group["id"])[-1]
        count = len(h.texts_to(group["id"]))
        await h.say(bobby, "/help@SomeOtherBot", group)
        await h.say(bobby, "nice weather", group)
        assert len(h.texts_to(group["id"])) == count


async def test_an_unknown_token_is_answered_and_ignored(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await h.say(user, "/help")
        shown = h.state.sent(user["id"])[-1]
        forged = {
            "update_id": random.randrange(10**9, 10**10),
            "callback_query": {
                "id": "4382000000000001",
                "from": user,
                "message": {
                    "message_id": 1,
                    "from": {"id": 7000000001, "is_bot": True, "first_name": "NexusTop"},
                    "chat": {"id": user["id"], "type": "private", "first_name": user["first_name"]},
                    "date": 0,
                    "text": shown.params["text"],
                },
                "chat_instance": "1",
                "data": "confirm:0123456789abcdef",
            },
        }
        before = len(h.texts_to(user["id"]))
        assert await h.post(forged) == 200
        await h.settle()
        assert len(h.texts_to(user["id"])) == before
        answer = h.state.calls_of("answerCallbackQuery")[-1].params
        assert (
            answer["callback_query_id"] == "4382000000000001" and answer["text"] == "This button has expired."
        )


async def test_privacy_command_answers_without_the_engine(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await h.say(user, "/privacy")
        assert "Privacy" in h.texts_to(user["id"])[-1]
        assert await h.user_id(user) is None


async def test_tokens_are_bound_to_chat_and_user(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await h.say(user, "/start")
        async with h.app.db.transaction() as session:
            tokens = (
                await session.scalars(select(ButtonToken).where(ButtonToken.chat_id == str(user["id"])))
            ).all()
        assert tokens and all(t.allowed_user_id == str(user["id"]) for t in tokens)
        assert all(len(t.token) <= 24 for t in tokens)
        assert json.dumps([t.payload for t in tokens]).count("country:NG") == 1
