"""The funding conversation end to end: "fund 5000" → payment link → paid → credited → user told."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from aiohttp import web

from conversations.engine import Engine
from domain.database import Database
from domain.funding import FundingService
from nexustop.funding import add_webhook_routes
from nexustop.queues import InProcessQueue
from payments.flutterwave import FlutterwaveGateway
from payments.momo import MomoGateway
from payments.paystack import PaystackGateway
from payments.vtpass import VTpassProvider
from sandbox.flutterwave import start_flutterwave_sandbox
from sandbox.gateway import GatewaySandbox, sandbox_of
from sandbox.momo import start_momo_sandbox
from sandbox.paystack import start_paystack_sandbox
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration.dialogue import FAST_REQUERIES, Chat, assert_ledger_balanced


@dataclass
class Rig:
    engine: Engine
    queue: InProcessQueue
    service: FundingService
    sandboxes: dict[str, GatewaySandbox]


@pytest_asyncio.fixture(scope="module")
async def rig(db: Database) -> AsyncIterator[Rig]:
    vtpass, vtpass_url = await start_vtpass_sandbox()
    provider = VTpassProvider(vtpass_url, "sandbox-api-key", "PK_sandbox", "SK_sandbox", timeout=2.0)
    queue = InProcessQueue(db, provider, FAST_REQUERIES)
    paystack, paystack_url = await start_paystack_sandbox()
    flutterwave, flutterwave_url = await start_flutterwave_sandbox()
    momo, momo_url = await start_momo_sandbox()
    gateways = {
        "paystack": PaystackGateway(paystack_url, "sk_test_sandbox", timeout=5.0),
        "flutterwave": FlutterwaveGateway(flutterwave_url, "FLWSECK_TEST-sandbox", "sandbox-secret-hash"),
        "momo": MomoGateway(
            momo_url, "sandbox-subscription-key", "0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b", "sandbox-api-key"
        ),
    }
    service = FundingService(db, gateways, check_delays=(0.0,))  # type: ignore[arg-type]
    app = web.Application()
    add_webhook_routes(app, lambda _request: service)
    receiver = web.AppRunner(app)
    await receiver.setup()
    site = web.TCPSite(receiver, "127.0.0.1", 0)
    await site.start()
    host, port = receiver.addresses[0][:2]
    sandboxes = {
        "paystack": sandbox_of(paystack),
        "flutterwave": sandbox_of(flutterwave),
        "momo": sandbox_of(momo),
    }
    for name, sandbox in sandboxes.items():
        path = "mtn" if name == "momo" else name
        sandbox.set_knobs({"webhook_url": f"http://{host}:{port}/webhook/{path}"})
    yield Rig(Engine(db, queue, funding=service), queue, service, sandboxes)
    await queue.drain(5)
    await queue.close()
    for gateway in gateways.values():
        await gateway.close()
    for runner in (receiver, paystack, flutterwave, momo, vtpass):
        await runner.cleanup()
    await provider.close()


def _chat(rig: Rig, country: str, phone: str | None) -> Chat:
    return Chat(rig.engine, rig.queue, country=country, phone=phone)


def _reference(sandbox: GatewaySandbox) -> str:
    return list(sandbox.payments)[-1]


async def test_fund_5000_gives_a_link_then_credits_and_tells_the_user(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "NG", "+2348031234567")
    await chat.say("hello")
    reply = await chat.say("fund 5000")
    assert "pay here" in reply
    url = re.search(r"https?://\S+/checkout/\S+", reply)
    assert url is not None
    sandbox = rig.sandboxes["paystack"]
    sandbox.pay(sandbox.payments[_reference(sandbox)])
    await sandbox.idle()
    receipt = await chat.receipts()
    assert "₦5,000.00 was added to your wallet" in receipt
    assert "Your balance: ₦5,000.00" in receipt
    assert (await chat.wallet(db, "NGN")).posted == 500000
    assert await chat.receipts() == ""  # told once


async def test_a_quote_the_wallet_cannot_pay_offers_to_add_the_difference(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "NG", "+2348031230042")
    await chat.say("hello")
    quote = await chat.say("buy 500 airtime for my number")
    assert "That is ₦500.00 more than you have" in quote
    assert [b.title for b in chat.transcript[-1].buttons][:2] == ["Add money", "Cancel"]  # no doomed Confirm
    # A detour names the buttons the quote really has, not a Confirm it does not show.
    for detour, said in (("hi", "still open: tap Add money"), ("zzzz qqq", "Tap Add money")):
        text = await chat.say(detour)
        assert said in text and "Confirm" not in text, text
    reply = await chat.press(chat.last_choice("fund:"))
    assert "To add ₦500.00 to your wallet, pay here" in reply
    sandbox = rig.sandboxes["paystack"]
    sandbox.pay(sandbox.payments[_reference(sandbox)])
    await sandbox.idle()
    assert "₦500.00 was added to your wallet" in await chat.receipts()
    quote = await chat.say("buy 500 airtime for my number")
    assert "more than you have" not in quote
    await chat.press(chat.last_choice("confirm:"))
    assert "Delivered" in await chat.receipts()
    assert (await chat.wallet(db, "NGN")).available == 0
    quote = await chat.say("buy 50 airtime for my number")  # short by less than the smallest top-up
    assert "That is ₦50.00 more than you have" in quote
    assert "To add ₦100.00 to your wallet" in await chat.press(chat.last_choice("fund:"))
    await assert_ledger_balanced(db)


async def test_where_no_gateway_serves_the_country_funding_is_refused_before_asking_how_much(
    rig: Rig, db: Database
) -> None:
    chat = _chat(rig, "LR", "+231770123456")
    await chat.say("hello")
    assert "not available in your country yet" in await chat.say("fund wallet")
    text = await chat.say("airtime 500 for my number")  # more than the wallet holds, and no way to add
    assert "choose a smaller amount" in text and "Add money" not in text
    text = await chat.say("hi")
    assert "your wallet is short: choose a smaller amount" in text and "Confirm" not in text, text


async def test_fund_without_an_amount_asks_how_much(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "NG", "+2348031234568")
    await chat.say("hello")
    assert "How much" in await chat.say("fund my wallet")
    reply = await chat.say("2000")
    assert "pay here" in reply and "₦2,000.00" in reply


async def test_momo_in_ghana_prompts_the_phone_and_the_poller_credits(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "GH", "+233241234567")
    await chat.say("hello")
    reply = await chat.say("fund 50 with momo")
    assert "prompt on your phone" in reply
    sandbox = rig.sandboxes["momo"]
    sandbox.set_knobs({"copies": 0})  # the callback never comes
    try:
        sandbox.pay(sandbox.payments[_reference(sandbox)])
        await rig.service.poll()
    finally:
        sandbox.set_knobs({"copies": 1})
    assert "GH₵50.00 was added to your wallet" in await chat.receipts()


async def test_senegal_funds_through_flutterwave_mobile_money(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "SN", "+221771234567")
    await chat.say("bonjour")
    reply = await chat.say("recharger mon portefeuille 5000")
    sandbox = rig.sandboxes["flutterwave"]
    assert sandbox.payments, reply
    sandbox.pay(sandbox.payments[_reference(sandbox)])
    await sandbox.idle()
    assert "5 000" in await chat.receipts()


async def test_amount_outside_the_bounds_is_explained(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "NG", "+2348031234569")
    await chat.say("hello")
    assert "between ₦100.00 and ₦1,000,000.00" in await chat.say("fund 50")


async def test_country_without_a_gateway_is_told_honestly(rig: Rig, db: Database) -> None:
    chat = _chat(rig, "GM", "+2203123456")
    await chat.say("hello")
    assert "not available in your country yet" in await chat.say("fund 500")
