"""The support inbox over HTTP: handoff, take over, replies on the channel, notes, hand back, resolve."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import unquote_plus

from sqlalchemy import select, update

from domain import audit, kyc
from domain.models import AuditEntry, Conversation, Message, OutboundMessage, utcnow
from tests.integration.dialogue import plain
from tests.integration.inbox_harness import asking_for_a_person, conversation_of, signed_in
from tests.integration.telegram_harness import person, telegram_app
from tests.integration.test_telegram import _set_up_in_nigeria
from tests.integration.whatsapp_harness import nigerian_number, text_update, whatsapp_app


async def _say(h, wa_id: str, text: str) -> list[str]:
    """The user writes; return the texts the bot sent back for it."""
    before = len(h.texts_to(wa_id))
    assert await h.post(text_update(wa_id, text)) == 200
    await h.settle()
    return [plain(t) for t in h.texts_to(wa_id)[before:]]


async def test_whatsapp_handoff_take_over_reply_note_hand_back_resolve(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        wa_id = nigerian_number()
        answer = await _say(h, wa_id, "I need a human")
        assert any("a person from our support team" in t for t in answer), answer
        conversation = await conversation_of(db, "whatsapp", wa_id)
        assert conversation.mode == "waiting" and conversation.handoff_reason == "asked"

        agent = await signed_in(h.client, db)
        listing = await agent.page("/inbox/?view=waiting")
        assert f'href="/inbox/c/{conversation.id}"' in listing
        assert "Waiting for agent" in listing
        assert wa_id not in listing and wa_id[-4:] in listing  # the phone is masked but its last 4

        page = f"/inbox/c/{conversation.id}"
        location = await agent.post(f"{page}/take", page=page)
        assert "error" not in location
        assert (await conversation_of(db, "whatsapp", wa_id)).mode == "with_agent"

        assert await _say(h, wa_id, "hello? my airtime never came") == [], "the bot stays silent"
        assert "my airtime never came" in await agent.page(page)

        await agent.post(f"{page}/reply", {"text": "Hi Chiamaka, I'm checking your order now."}, page=page)
        await h.settle()
        assert h.texts_to(wa_id)[-1] == "Hi Chiamaka, I'm checking your order now."

        sent_before = len(h.texts_to(wa_id))
        await agent.post(f"{page}/note", {"text": "Customer seems upset: SECRET-NOTE"}, page=page)
        await h.settle()
        assert len(h.texts_to(wa_id)) == sent_before
        assert not any("SECRET-NOTE" in t for t in h.texts_to(wa_id))
        view = await agent.page(page)
        assert "SECRET-NOTE" in view and "private" in view

        listing = await agent.page("/inbox/?view=mine")
        assert f'href="/inbox/c/{conversation.id}"' in listing

        await agent.post(f"{page}/handback", page=page)
        await h.settle()
        assert "assistant again" in h.texts_to(wa_id)[-1]
        answer = await _say(h, wa_id, "balance")
        assert any(t.startswith("Your balance") for t in answer), answer

        await agent.post(f"{page}/resolve", page=page)
        resolved = await conversation_of(db, "whatsapp", wa_id)
        assert resolved.mode == "resolved" and resolved.assignee_id is None
        assert resolved.first_human_reply_at is not None  # the SLA clock stopped at the first reply
        answer = await _say(h, wa_id, "history")
        assert answer, "a resolved conversation goes back to the bot"
        assert (await conversation_of(db, "whatsapp", wa_id)).mode == "bot"

        async with db.transaction() as session:
            events = (
                await session.scalars(
                    select(Message.body)
                    .where(Message.conversation_id == conversation.id, Message.sender == "system")
                    .order_by(Message.id)
                )
            ).all()
            assert len(events) >= 4  # waiting, taken over, handed back, resolved
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.subject == f"conversation:{conversation.id}")
                )
            ).all()
            assert {"conversation.take_over", "conversation.reply", "conversation.note"} <= set(actions)
            assert {"conversation.hand_back", "conversation.resolve"} <= set(actions)
            assert (await audit.verify(session)).ok


async def test_two_misunderstood_turns_in_a_row_hand_off(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        await _say(h, wa_id, "balance")
        first = await _say(h, wa_id, "zxqv blorp")
        assert not any("support team" in t for t in first)
        assert (await conversation_of(h.app.db, "whatsapp", wa_id)).mode == "bot"
        second = await _say(h, wa_id, "flibber wonk")
        assert any("support team" in t for t in second), second
        conversation = await conversation_of(h.app.db, "whatsapp", wa_id)
        assert conversation.mode == "waiting" and conversation.handoff_reason == "misunderstood"


async def test_an_understood_turn_between_two_misunderstood_ones_keeps_the_bot(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        await _say(h, wa_id, "balance")
        await _say(h, wa_id, "zxqv blorp")
        await _say(h, wa_id, "balance")
        await _say(h, wa_id, "flibber wonk")
        assert (await conversation_of(h.app.db, "whatsapp", wa_id)).mode == "bot"


async def test_handoff_message_is_localized(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = "221771234" + nigerian_number()[-3:]
        answer = await _say(h, wa_id, "je veux parler à un conseiller")
        assert any("équipe" in t for t in answer), answer


async def test_whatsapp_outside_the_window_offers_the_template(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        wa_id = nigerian_number()
        await _say(h, wa_id, "agent")
        conversation = await conversation_of(db, "whatsapp", wa_id)
        async with db.transaction() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.id == conversation.id)
                .values(last_inbound_at=utcnow() - timedelta(hours=30))
            )
        agent = await signed_in(h.client, db)
        page = f"/inbox/c/{conversation.id}"
        await agent.post(f"{page}/take", page=page)
        view = await agent.page(page)
        assert "24-hour window is closed" in view and "nexustop_order_update" in view
        refused = await agent.post(f"{page}/reply", {"text": "Sorry for the wait"}, page=page)
        assert "error" in refused and "template" in unquote_plus(refused)
        await agent.post(f"{page}/reply", {"text": "Sorry for the wait", "as_template": "1"}, page=page)
        await h.settle()
        assert h.texts_to(wa_id)[-1] == "[template nexustop_order_update] Sorry for the wait"


async def test_telegram_agent_reply_reaches_the_bot_api(pg_url: str) -> None:
    async with telegram_app(pg_url) as h:
        user = person()
        await _set_up_in_nigeria(h, user)
        await h.say(user, "talk to a real person")
        await h.settle()
        chat_id = user["id"]
        assert any("support team" in t for t in h.texts_to(chat_id))
        conversation = await conversation_of(h.app.db, "telegram", str(user["id"]))
        agent = await signed_in(h.client, h.app.db)
        page = f"/inbox/c/{conversation.id}"
        await agent.post(f"{page}/take", page=page)
        count = len(h.texts_to(chat_id))
        await h.say(user, "are you there?")
        await h.settle()
        assert len(h.texts_to(chat_id)) == count
        await agent.post(f"{page}/reply", {"text": "Yes, I'm here. Checking now."}, page=page)
        await h.settle()
        assert h.texts_to(chat_id)[-1] == "Yes, I'm here. Checking now."
        async with h.app.db.transaction() as session:
            kinds = (
                await session.scalars(
                    select(OutboundMessage.kind).where(OutboundMessage.conversation_id == conversation.id)
                )
            ).all()
        assert "agent" in kinds


async def test_a_second_agent_cannot_take_a_taken_conversation(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        await _say(h, wa_id, "customer care please")
        conversation = await conversation_of(h.app.db, "whatsapp", wa_id)
        page = f"/inbox/c/{conversation.id}"
        first = await signed_in(h.client, h.app.db)
        await first.post(f"{page}/take", page=page)
        h.client.session.cookie_jar.clear()
        second = await signed_in(h.client, h.app.db)
        refused = await second.post(f"{page}/take", page=page)
        assert "already+has" in refused
        refused = await second.post(f"{page}/reply", {"text": "me too"}, page=page)
        assert "error" in refused
        assert "me too" not in h.texts_to(wa_id)


async def test_the_whole_flow_on_the_embedded_sqlite_database(sqlite_url: str) -> None:
    await test_whatsapp_handoff_take_over_reply_note_hand_back_resolve(sqlite_url)


async def test_the_conversation_page_shows_the_users_kyc_tier(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        _wa_id, conversation = await asking_for_a_person(h)
        agent = await signed_in(h.client, h.app.db)
        assert "0 — unverified" in await agent.page(f"/inbox/c/{conversation.id}")
        async with h.app.db.transaction() as session:
            await kyc.set_tier(session, conversation.user_id, 2, staff_id=0, reason="documents seen")
        assert "2 — standard" in await agent.page(f"/inbox/c/{conversation.id}")
