"""The WhatsApp channel over its real HTTP endpoint: signed Meta-shaped webhooks in, Graph sandbox out."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from sqlalchemy import func, select, update

from domain.models import Conversation, Identity, InboundUpdate, OutboundMessage, utcnow
from tests.integration.dialogue import plain
from tests.integration.whatsapp_harness import (
    VERIFY_TOKEN,
    Harness,
    button_update,
    new_wamid,
    nigerian_number,
    sign,
    status_update,
    text_update,
    whatsapp_app,
)

RECIPIENT = "08031234567"


async def _quote(h: Harness, wa_id: str, amount: int = 500) -> str:
    """Ask for airtime and return the Confirm button's id."""
    assert await h.post(text_update(wa_id, f"buy {amount} airtime for {RECIPIENT}")) == 200
    await h.settle()
    return h.button_id(wa_id, "confirm:")


async def test_verify_challenge(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        ok = await h.client.get(
            "/webhook/whatsapp",
            params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8237461"},
        )
        assert ok.status == 200 and await ok.text() == "8237461"
        wrong = await h.client.get(
            "/webhook/whatsapp", params={"hub.verify_token": "nope", "hub.challenge": "8237461"}
        )
        assert wrong.status == 403


async def test_purchase_from_first_message_to_receipt(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        confirm = await _quote(h, wa_id)
        texts = [plain(t) for t in h.texts_to(wa_id)]
        assert any("Welcome to NexusTop" in t for t in texts)
        assert any("Buy ₦500.00 MTN airtime for +234 803 123 4567?" in t for t in texts)
        quote = next(m for m in h.sent_to(wa_id) if m.type == "interactive")
        titles = [b["reply"]["title"] for b in quote.body["interactive"]["action"]["buttons"]]
        assert titles == ["Confirm", "Cancel", "Change network"]
        assert h.graph.state.reads, "the inbound message was marked read (typing indicator)"

        assert await h.post(button_update(wa_id, confirm, "Confirm")) == 200
        await h.settle()
        texts = [plain(t) for t in h.texts_to(wa_id)]
        assert any("Order placed" in t for t in texts)
        receipt = [t for t in texts if t.startswith("✅ Delivered: ₦500.00 MTN airtime to +234 803 123 4567")]
        assert len(receipt) == 1 and "Your balance: ₦9,500.00" in receipt[0]
        assert await h.wallet(wa_id) == 950_000
        async with h.app.db.transaction() as session:
            kinds = (
                await session.execute(
                    select(OutboundMessage.kind, OutboundMessage.state).where(
                        OutboundMessage.chat_id == wa_id
                    )
                )
            ).all()
        assert ("receipt", "accepted") in kinds
        assert all(state == "accepted" for _, state in kinds)


async def test_wrong_or_missing_signature_is_refused_and_nothing_is_stored(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        update_ = text_update(wa_id, "buy 500 airtime")
        body = json.dumps(update_).encode()
        assert await h.post(body, signature=None) == 401
        assert await h.post(body, signature=sign(body, "not-the-secret")) == 403
        assert await h.post(body, signature="sha256=" + "0" * 64) == 403
        tampered = body.replace(b"500", b"900")
        assert await h.post(tampered, signature=sign(body)) == 403
        await h.settle()
        wamid = update_["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
        async with h.app.db.transaction() as session:
            stored = await session.scalar(
                select(func.count(InboundUpdate.id)).where(InboundUpdate.update_key == wamid)
            )
        assert stored == 0
        assert h.sent_to(wa_id) == []


async def test_the_same_update_three_times_moves_money_once_and_sends_one_receipt(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        confirm = await _quote(h, wa_id)
        press = button_update(wa_id, confirm, "Confirm")
        statuses = await asyncio.gather(*(h.post(press) for _ in range(3)))
        assert statuses == [200, 200, 200]
        assert await h.post(press) == 200  # and once more, later
        await h.settle()
        texts = [plain(t) for t in h.texts_to(wa_id)]
        assert sum("Order placed" in t for t in texts) == 1
        assert sum(t.startswith("✅ Delivered") for t in texts) == 1
        assert await h.orders(wa_id) == 1
        assert await h.wallet(wa_id) == 950_000


async def test_confirm_pressed_twice_buys_once(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        confirm = await _quote(h, wa_id)
        assert await h.post(button_update(wa_id, confirm, "Confirm")) == 200
        assert await h.post(button_update(wa_id, confirm, "Confirm")) == 200  # a second tap: new wamid
        await h.settle()
        texts = [plain(t) for t in h.texts_to(wa_id)]
        assert sum("Order placed" in t for t in texts) == 1
        assert any("already placed" in t for t in texts)
        assert sum(t.startswith("✅ Delivered") for t in texts) == 1
        assert await h.orders(wa_id) == 1
        assert await h.wallet(wa_id) == 950_000


async def test_a_receipt_outside_the_24_hour_window_goes_as_a_template(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        confirm = await _quote(h, wa_id)
        # Hold fulfilment until the window has closed: the order is placed, then a day passes.
        assert await h.post(button_update(wa_id, confirm, "Confirm")) == 200
        await h.channel.idle()
        await h.app.drain(5)
        a_day_ago = utcnow() - timedelta(hours=25)
        async with h.app.db.transaction() as session:
            await session.execute(
                update(Conversation)
                .where(Conversation.channel == "whatsapp", Conversation.chat_id == wa_id)
                .values(last_inbound_at=a_day_ago)
            )
        h.graph.state.note_inbound(wa_id, a_day_ago.timestamp())
        await h.settle()
        last = h.sent_to(wa_id)[-1]
        assert last.type == "template"
        template = last.body["template"]
        assert template["name"] == "nexustop_order_update"
        parameter = template["components"][0]["parameters"][0]["text"]
        assert "✅ Delivered" in plain(parameter) and "\n" not in parameter


async def test_free_form_refused_with_131047_falls_back_to_the_template(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        confirm = await _quote(h, wa_id)
        # Our clock says the window is open, but Meta says it closed (131047): the receipt must still arrive.
        h.graph.state.note_inbound(wa_id, 0)
        assert await h.post(button_update(wa_id, confirm, "Confirm")) == 200
        h.graph.state.note_inbound(wa_id, 0)  # the post above re-opened it in the sandbox; close it again
        await h.settle()
        templates = [m for m in h.sent_to(wa_id) if m.type == "template"]
        assert len(templates) == 1
        async with h.app.db.transaction() as session:
            receipt = await session.scalar(
                select(OutboundMessage).where(
                    OutboundMessage.chat_id == wa_id, OutboundMessage.kind == "receipt"
                )
            )
        assert receipt is not None and receipt.as_template and receipt.state == "accepted"


async def test_throughput_and_pair_rate_errors_are_retried_later_not_lost(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        h.graph.state.fail_next = [130429, 131056]
        assert await h.post(text_update(wa_id, "hello")) == 200
        for _ in range(2):
            await h.channel.idle()
            async with h.app.db.transaction() as session:
                waiting = (
                    await session.scalars(
                        select(OutboundMessage)
                        .where(OutboundMessage.chat_id == wa_id)
                        .order_by(OutboundMessage.id)
                    )
                ).all()
                assert waiting[0].state == "queued" and waiting[0].next_attempt_at is not None
                assert waiting[0].next_attempt_at > utcnow()
                await session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.chat_id == wa_id)
                    .values(next_attempt_at=utcnow())
                )
            await h.channel.flush(wa_id)
        await h.settle()
        assert h.graph.state.fail_next == []
        assert len(h.sent_to(wa_id)) == len(waiting) >= 1


async def test_status_webhooks_out_of_order_keep_the_highest_state(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        assert await h.post(text_update(wa_id, "hello")) == 200
        await h.settle()
        wamid = h.sent_to(wa_id)[0].wamid
        for status in ("read", "sent", "delivered", "read", "failed"):
            assert (
                await h.post(status_update(wamid, status, wa_id, 131026 if status == "failed" else None))
                == 200
            )
        await h.settle()
        async with h.app.db.transaction() as session:
            state = await session.scalar(
                select(OutboundMessage.state).where(OutboundMessage.channel_message_id == wamid)
            )
        assert state == "read"


async def test_sandbox_status_webhooks_reach_the_app(pg_url: str) -> None:
    async with whatsapp_app(pg_url, status_order=["delivered", "sent"]) as h:
        wa_id = nigerian_number()
        assert await h.post(text_update(wa_id, "hello")) == 200
        await h.settle()
        for _ in range(50):
            await asyncio.sleep(0.05)
            await h.settle()
            async with h.app.db.transaction() as session:
                states = set(
                    (
                        await session.scalars(
                            select(OutboundMessage.state).where(OutboundMessage.chat_id == wa_id)
                        )
                    ).all()
                )
            if states == {"delivered"}:
                break
        assert states == {"delivered"}
        assert all(status == 200 for status, _ in h.graph.state.webhooks)


async def test_an_update_that_fails_is_kept_and_retried(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        wamid = new_wamid()
        original = h.channel.engine.handle
        calls = 0

        async def flaky(message, **options):  # type: ignore[no-untyped-def]
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("database hiccup")
            return await original(message, **options)

        h.channel.engine.handle = flaky  # type: ignore[method-assign]
        try:
            assert await h.post(text_update(wa_id, "hello", wamid=wamid)) == 200
            await h.channel.idle()
            async with h.app.db.transaction() as session:
                row = await session.scalar(select(InboundUpdate).where(InboundUpdate.update_key == wamid))
                assert row is not None and row.processed_at is None and row.attempts == 1
                await session.execute(
                    update(InboundUpdate).where(InboundUpdate.id == row.id).values(next_attempt_at=utcnow())
                )
            await h.settle()
        finally:
            h.channel.engine.handle = original  # type: ignore[method-assign]
        assert calls == 2
        assert h.texts_to(wa_id)


async def test_the_identity_keeps_wa_id_and_bsuid_and_a_bsuid_only_message_finds_it(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id = nigerian_number()
        assert await h.post(text_update(wa_id, "balance")) == 200
        await h.settle()
        first = text_update(wa_id, "x")["entry"][0]["changes"][0]["value"]
        bsuid = first["contacts"][0]["user_id"]
        async with h.app.db.transaction() as session:
            identity = await session.scalar(select(Identity).where(Identity.channel_user_id == wa_id))
            assert identity is not None and identity.scoped_user_id == bsuid

        # A later message identified only by the BSUID (no wa_id, no "from").
        bsuid_only = text_update(wa_id, "balance")
        value = bsuid_only["entry"][0]["changes"][0]["value"]
        value["contacts"][0].pop("wa_id")
        value["messages"][0].pop("from")
        value["messages"][0]["from_user_id"] = bsuid
        assert await h.post(bsuid_only) == 200
        await h.settle()
        async with h.app.db.transaction() as session:
            identities = (
                await session.scalars(select(Identity).where(Identity.scoped_user_id == bsuid))
            ).all()
        assert len(identities) == 1
        assert sum("balance" in plain(t).lower() for t in h.texts_to(wa_id)) == 2
