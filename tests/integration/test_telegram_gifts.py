"""Gifting in Telegram groups over the real webhook: /gift reply → private confirm → Claim → receipt."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

from sqlalchemy import func, select

from domain import gifts
from domain.models import Conversation, Gift, Notification, utcnow
from tests.integration.dialogue import assert_ledger_balanced, plain
from tests.integration.telegram_harness import Harness, group_chat, person, telegram_app
from tests.integration.test_telegram import _set_up_in_nigeria


def gift_command(h: Harness, sender: dict, group: dict, text: str, to: dict | None = None) -> dict[str, Any]:
    update = h.text_update(sender, text, group)
    if to is not None:
        update["message"]["reply_to_message"] = {
            "message_id": 7, "from": to, "chat": group, "date": 0, "text": "my birthday today!",
        }  # fmt: skip
    return update


def start_token(h: Harness, chat_id: int, label: str) -> str:
    """The deep-link payload of the latest URL button labelled ``label`` in a chat."""
    for call in reversed(h.state.sent(chat_id)):
        for row in (call.params.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(label) and "url" in button:
                    url = urlparse(button["url"])
                    assert url.netloc == "t.me" and url.path == "/NexusTopBot"
                    return parse_qs(url.query)["start"][0]
    raise AssertionError(f"no {label!r} link in chat {chat_id}")


async def settle(h: Harness) -> None:
    """Settle until no notification (receipts, gift announcements) is left undelivered."""
    for _ in range(50):
        await h.settle()
        async with h.app.db.transaction() as session:
            waiting = await session.scalar(
                select(func.count(Notification.id))
                .join(Conversation, Conversation.id == Notification.conversation_id)
                .where(Conversation.channel == "telegram", Notification.delivered_at.is_(None))
            )
        if not waiting:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("notifications were not delivered")


async def balanced(h: Harness) -> None:
    """The ledger is balanced after a Telegram test."""
    await assert_ledger_balanced(h.app.db)


async def _announce(h: Harness, alice: dict, group: dict, text: str, to: dict | None) -> str:
    await _set_up_in_nigeria(h, alice)
    assert await h.post(gift_command(h, alice, group, text, to)) == 200
    await h.settle()
    await settle(h)
    assert "private message to confirm" in h.texts_to(group["id"])[-1]
    assert "Total" in plain(h.texts_to(alice["id"])[-1]) or "for ₦" in plain(h.texts_to(alice["id"])[-1])
    await h.press(alice, alice["id"], "Confirm")
    await settle(h)
    return start_token(h, group["id"], "Claim")


async def test_full_group_gift_from_reply_to_recipients_receipt(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        assert "🎁 Alice sent Bobby ₦500.00 airtime" in plain(h.texts_to(group["id"])[-1])
        assert await h.wallet(alice) == 1_000_000  # escrowed: pending, not yet posted

        await h.say(bobby, f"/start {token}")
        offer, hint = h.texts_to(bobby["id"])[-2:]
        assert "Alice sent you ₦500.00 airtime" in plain(offer) and "Share my number" in hint
        await h.say(bobby, "08031234567")
        await settle(h)
        texts = [plain(t) for t in h.texts_to(bobby["id"])]
        assert any("Claimed!" in t for t in texts)
        assert any(t.startswith("✅ Delivered: ₦500.00 MTN airtime to +234 803 123 4567") for t in texts)
        assert any("Bobby received your gift" in plain(t) for t in h.texts_to(alice["id"]))
        assert any("Bobby claimed Alice's gift" in plain(t) for t in h.texts_to(group["id"]))
        assert await h.wallet(alice) == 950_000
        assert await h.wallet(bobby) == 1_000_000, "Bobby's own demo wallet is untouched"
        await balanced(h)


async def test_a_gift_claimed_by_the_wrong_person_does_nothing(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby, carol = (
            person(first_name="Alice"),
            person(first_name="Bobby"),
            person(first_name="Carol"),
        )
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        await h.say(carol, f"/start {token}")
        assert "for someone else" in h.texts_to(carol["id"])[-1]
        await h.say(carol, "08031234567")
        assert await h.orders(carol) == 0
        await h.say(alice, f"/start {token}")
        assert "your own gift" in h.texts_to(alice["id"])[-1]
        await balanced(h)


async def test_an_unclaimed_gift_expires_and_the_sender_is_refunded(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 700", bobby)
        # Expire this gift only: expiring every due gift in the shared database would also
        # refund other tests' gifts and flood this test's chats with their messages.
        async with h.app.db.transaction() as session:
            tokens = [token, token.removeprefix("g_")]
            gift_id = await session.scalar(select(Gift.id).where(Gift.claim_token.in_(tokens)))
            assert gift_id is not None
            assert await gifts.expire(session, gift_id, utcnow() + timedelta(hours=49)) > 0
        await settle(h)
        assert any("not claimed in time" in plain(t) for t in h.texts_to(alice["id"]))
        assert any("₦10,000.00" in plain(t) for t in h.texts_to(alice["id"])[-1:])
        await h.say(bobby, f"/start {token}")
        assert "expired" in h.texts_to(bobby["id"])[-1]
        assert await h.wallet(alice) == 1_000_000
        await balanced(h)


async def test_a_5x_giveaway_with_7_claimers(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice = person(first_name="Alice")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 5x200", None)
        assert "giving away 5 × ₦200.00 airtime" in plain(h.texts_to(group["id"])[-1])
        claimers = [person(first_name=f"Friend{i}") for i in range(7)]
        for i, friend in enumerate(claimers):
            await h.say(friend, f"/start {token}")
            if i < 5:
                await h.say(friend, f"0803123{4560 + i}")
        await settle(h)
        for friend in claimers[:5]:
            assert await h.orders(friend) == 1
        for friend in claimers[5:]:
            assert "already been claimed" in h.texts_to(friend["id"])[-1]
            assert await h.orders(friend) == 0
        assert await h.wallet(alice) == 1_000_000 - 100_000
        await balanced(h)
