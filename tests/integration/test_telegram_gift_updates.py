"""Group gifts over the real webhook: @username recipients, shared contacts, the announcement edited
in place (claim, giveaway, expiry, decline) and the gift lifetime setting."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from domain import gifts, users
from domain.models import Gift, Identity, Order, utcnow
from tests.integration.dialogue import plain
from tests.integration.telegram_harness import Harness, group_chat, person, telegram_app
from tests.integration.test_telegram import _set_up_in_nigeria
from tests.integration.test_telegram_gifts import _announce, balanced, settle


def mention_command(h: Harness, sender: dict, group: dict, text: str) -> dict[str, Any]:
    """``/gift@Bot @handle …`` with its ``bot_command`` and ``mention`` entities, as Telegram sends it."""
    update = h.text_update(sender, text, group)
    entities = update["message"]["entities"]
    for word in text.split():
        if word.startswith("@"):
            entities.append({"offset": text.index(word), "length": len(word), "type": "mention"})
    return update


def contact_update(h: Harness, sender: dict, phone_number: str, owner_id: int | None) -> dict[str, Any]:
    """``sender`` shares a contact (their own when ``owner_id`` is their id), with no text."""
    update = h.text_update(sender, "")
    message = update["message"]
    del message["text"]
    message["contact"] = {"phone_number": phone_number, "first_name": "Contact"}
    if owner_id is not None:
        message["contact"]["user_id"] = owner_id
    return update


def announcement(h: Harness, group: dict) -> dict[str, Any]:
    """The gift announcement in ``group`` as the chat shows it now (after any edits)."""
    shown = [
        m
        for (chat, _), m in h.state.messages.items()
        if chat == str(group["id"]) and m["text"].startswith("🎁 Alice ")
    ]
    assert len(shown) == 1, shown
    return shown[0]


def claim_token(h: Harness, group: dict) -> str:
    """The claim token behind the Claim link of the group's announcement."""
    rows = announcement(h, group)["reply_markup"]["inline_keyboard"]
    url = next(b["url"] for row in rows for b in row if b["text"].startswith("Claim"))
    return str(url.rsplit("start=", 1)[1])


def has_claim_button(message: dict[str, Any]) -> bool:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return any(b["text"].startswith("Claim") for row in rows for b in row)


def edits_in(h: Harness, group: dict) -> list[str]:
    return [
        str(c.params["text"])
        for c in h.state.calls_of("editMessageText")
        if str(c.params.get("chat_id")) == str(group["id"]) and c.status == 200
    ]


async def gift_of(h: Harness, token: str) -> Gift:
    async with h.app.db.transaction() as session:
        gift = await session.scalar(select(Gift).where(Gift.claim_token == token))
        assert gift is not None
        return gift


async def order_phones(h: Harness, who: dict) -> list[str]:
    user_id = await h.user_id(who)
    async with h.app.db.transaction() as session:
        return list((await session.scalars(select(Order.phone).where(Order.user_id == user_id))).all())


# ---- @username ------------------------------------------------------------------------------


async def test_a_gift_to_a_known_username_goes_to_that_person(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby, dave = person(first_name="Alice"), person(first_name="Bobby"), person(first_name="Dave")
        bobby["username"] = "Bobby_B"
        group = group_chat()
        await h.say(bobby, "/start")  # the bot meets Bobby (and learns his handle)
        await _set_up_in_nigeria(h, alice)
        assert await h.post(mention_command(h, alice, group, "/gift@NexusTopBot @bobby_b 500")) == 200
        await settle(h)
        assert "private message to confirm" in h.texts_to(group["id"])[-1]
        await h.press(alice, alice["id"], "Confirm")
        await settle(h)
        assert plain(announcement(h, group)["text"]) == "🎁 Alice sent Bobby ₦500.00 airtime"
        token = claim_token(h, group)
        gift = await gift_of(h, token)
        assert gift.recipient_channel_user_id == str(bobby["id"])
        await h.say(bobby, f"/start {token}")
        assert any("Alice sent you ₦500.00 airtime" in plain(t) for t in h.texts_to(bobby["id"])[-2:])

        # Handles move: Bobby takes another, Dave takes his old one; each resolves to its owner now.
        bobby["username"] = "bobby_two"
        await h.say(bobby, "/help")
        dave["username"] = "BOBBY_B"
        await h.say(dave, "/start")
        async with h.app.db.transaction() as session:
            owner = await users.identity_by_username(session, "telegram", "@Bobby_B")
            handles = dict(
                (
                    await session.execute(
                        select(Identity.channel_user_id, Identity.username).where(
                            Identity.channel_user_id.in_([str(bobby["id"]), str(dave["id"])])
                        )
                    )
                ).all()
            )
        assert owner is not None and owner.channel_user_id == str(dave["id"])
        assert handles == {str(bobby["id"]): "bobby_two", str(dave["id"]): "bobby_b"}
        del dave["username"]  # and a handle given up is forgotten
        await h.say(dave, "/help")
        async with h.app.db.transaction() as session:
            assert await users.identity_by_username(session, "telegram", "bobby_b") is None
        await balanced(h)


async def test_a_gift_to_an_unknown_username_is_explained_and_drafts_nothing(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice = person(first_name="Alice")
        group = group_chat()
        await _set_up_in_nigeria(h, alice)
        assert await h.post(mention_command(h, alice, group, "/gift@NexusTopBot @nobody_here 500")) == 200
        await settle(h)
        answer = h.texts_to(group["id"])[-1]
        assert "I don't know @nobody_here yet" in answer and "/gift 500" in answer
        user_id = await h.user_id(alice)
        async with h.app.db.transaction() as session:
            drafted = await session.scalar(select(Gift.id).where(Gift.sender_user_id == user_id))
        assert drafted is None


# ---- request_contact ------------------------------------------------------------------------


async def test_a_claim_answered_with_the_recipients_own_contact(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        await h.say(bobby, f"/start {token}")
        question, keyboard = h.state.sent(bobby["id"])[-2:]
        assert "Which phone number should I top up?" in question.params["text"]
        assert "Decline" in str(question.params["reply_markup"]), "the inline choices stay inline"
        markup = keyboard.params["reply_markup"]
        assert markup["keyboard"] == [[{"text": "📱 Share my number", "request_contact": True}]]
        assert markup["one_time_keyboard"] is True

        assert await h.post(contact_update(h, bobby, "2348031234567", bobby["id"])) == 200
        await settle(h)
        claimed = next(c for c in h.state.sent(bobby["id"]) if "Claimed!" in c.params["text"])
        assert "+234 803 123 4567" in plain(claimed.params["text"])
        assert claimed.params["reply_markup"] == {"remove_keyboard": True}, "the keyboard goes away"
        assert await order_phones(h, bobby) == ["+2348031234567"]
        assert await h.wallet(alice) == 950_000
        await balanced(h)


async def test_someone_elses_contact_is_only_a_typed_number(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby, carol = (
            person(first_name="Alice"),
            person(first_name="Bobby"),
            person(first_name="Carol"),
        )
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        await h.say(bobby, f"/start {token}")
        assert await h.post(contact_update(h, bobby, "+234 805 123 4567", carol["id"])) == 200
        await settle(h)
        assert await order_phones(h, bobby) == ["+2348051234567"], "tops up the number, as if typed"
        await balanced(h)

        # It never vouches for an identity: a first message sharing another person's contact
        # does not reach the wallet of the user who owns that number; one's own contact does.
        async with h.app.db.transaction() as session:
            owner = await users.find_or_create_user(
                session, "whatsapp", "2348071234567", phone="+2348071234567"
            )
        eve, frank = person(first_name="Eve"), person(first_name="Frank")
        assert await h.post(contact_update(h, eve, "2348071234567", frank["id"])) == 200
        await settle(h)
        assert await h.user_id(eve) not in (None, owner.user.id)
        assert await h.post(contact_update(h, frank, "2348071234567", frank["id"])) == 200
        await settle(h)
        assert await h.user_id(frank) == owner.user.id


# ---- the announcement, edited in place ----------------------------------------------------------


async def test_the_group_message_shows_the_claim(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        assert has_claim_button(announcement(h, group))
        await h.say(bobby, f"/start {token}")
        await h.say(bobby, "08031234567")
        await settle(h)
        shown = announcement(h, group)
        assert plain(shown["text"]) == "🎁 Alice sent Bobby ₦500.00 airtime\n✅ Claimed by Bobby."
        assert "edit_date" in shown and not has_claim_button(shown)
        assert await h.wallet(alice) == 950_000
        await balanced(h)


async def test_the_group_message_shows_the_expiry_and_the_sender_is_refunded(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 700", bobby)
        gift = await gift_of(h, token)
        async with h.app.db.transaction() as session:
            assert await gifts.expire(session, gift.id, utcnow() + timedelta(hours=49)) == 70_000
        await settle(h)
        shown = announcement(h, group)
        assert plain(shown["text"]).endswith("\n⌛ Expired; the money went back to Alice.")
        assert not has_claim_button(shown)
        assert any("not claimed in time" in plain(t) for t in h.texts_to(alice["id"]))
        assert await h.wallet(alice) == 1_000_000
        await balanced(h)


async def test_the_group_message_counts_a_giveaways_claims(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice = person(first_name="Alice")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 2x200", None)
        first, second = person(first_name="Femi"), person(first_name="Sade")
        await h.say(first, f"/start {token}")
        await h.say(first, "08031234560")
        await settle(h)
        shown = announcement(h, group)
        assert plain(shown["text"]).endswith("\n🎁 1/2 claimed") and has_claim_button(shown)
        await h.say(second, f"/start {token}")
        await h.say(second, "08031234561")
        await settle(h)
        shown = announcement(h, group)
        assert plain(shown["text"]).endswith("\n✅ All 2 claimed.") and not has_claim_button(shown)
        assert [plain(t).rsplit("\n", 1)[-1] for t in edits_in(h, group)] == [
            "🎁 1/2 claimed",
            "✅ All 2 claimed.",
        ]
        assert await h.wallet(alice) == 1_000_000 - 40_000
        await balanced(h)


async def test_a_gift_declined_by_the_recipient(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 300", bobby)
        await h.say(bobby, f"/start {token}")
        await h.press(bobby, bobby["id"], "Decline")
        await settle(h)
        declined = h.state.sent(bobby["id"])[-1]
        assert "Gift declined" in declined.params["text"]
        assert declined.params["reply_markup"] == {"remove_keyboard": True}
        told = [plain(t) for t in h.texts_to(alice["id"])]
        assert any("was declined; the money is back in your wallet" in t for t in told)
        shown = announcement(h, group)
        assert plain(shown["text"]).endswith("\n❌ Declined; the money went back to Alice.")
        assert not has_claim_button(shown)
        assert await h.wallet(alice) == 1_000_000
        assert await h.orders(bobby) == 0
        await balanced(h)


# ---- GIFT_TTL_HOURS -------------------------------------------------------------------------------


async def test_the_gift_lifetime_setting_is_told_and_applied(pg_url: str) -> None:
    async with telegram_app(pg_url, gift_ttl_hours=1) as h:
        alice, bobby = person(first_name="Alice"), person(first_name="Bobby")
        group = group_chat()
        token = await _announce(h, alice, group, "/gift@NexusTopBot 500", bobby)
        confirmation = next(t for t in h.texts_to(alice["id"]) if "Gift ₦500.00 to Bobby" in plain(t))
        assert "Unclaimed gifts expire after 1 hour and" in confirmation
        gift = await gift_of(h, token)
        assert gift.ttl_hours == 1 and gift.expires_at is not None
        assert timedelta(minutes=59) < gift.expires_at - utcnow() <= timedelta(hours=1)
        async with h.app.db.transaction() as session:
            assert await gifts.expire(session, gift.id, utcnow() + timedelta(minutes=30)) == 0
            assert await gifts.expire(session, gift.id, utcnow() + timedelta(minutes=61)) == 50_000

        await h.say(alice, "gift 200 to 08031234567")
        await h.press(alice, alice["id"], "Confirm")
        assert "comes back to you in 1 hour." in plain(h.texts_to(alice["id"])[-1])
        await settle(h)
        await balanced(h)
