"""The demo web app: gateway webhooks are mounted, and the in-process sandboxes and poller fund a wallet."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from conversations.messages import InboundMessage
from domain.countries import get_country
from domain.database import Database
from domain.funding import FundingService, payment_of
from domain.models import User
from domain.money import Money
from nexustop.bootstrap import demo_settings
from nexustop.settings import Settings
from nexustop.web import APP_KEY, create_app
from payments.paystack import PaystackGateway
from sandbox.gateway import sandbox_of
from sandbox.paystack import start_paystack_sandbox


def _message(text: str) -> InboundMessage:
    return InboundMessage(
        channel="test",
        channel_user_id="funding-web-1",
        chat_id="funding-web-1",
        text=text,
        country_hint="NG",
        phone="+2348031230001",
    )


async def test_demo_funds_a_wallet_end_to_end_and_refuses_forged_webhooks(sqlite_url: str) -> None:
    # Nothing listens at public_url, so the sandbox's webhooks are lost: the poller has to find them.
    settings = demo_settings(Settings(database_url=sqlite_url, public_url="http://127.0.0.1:9"))
    async with TestClient(TestServer(create_app(settings))) as client:
        app = client.server.app[APP_KEY]
        assert app.funding is not None and set(app.funding.gateways) == {
            "paystack",
            "flutterwave",
            "momo",
            "orange",
        }

        forged = json.dumps({"event": "charge.success", "data": {"reference": "x", "amount": 1}})
        response = await client.post("/webhook/paystack", data=forged, headers={"x-paystack-signature": "00"})
        assert response.status == 401
        assert (await client.post("/webhook/orange", data="{}")).status == 200  # unsigned: a hint, ignored

        await app.engine.handle(_message("hello"))
        replies = await app.engine.handle(_message("fund 5000"))
        assert "pay here" in replies[-1].text
        told = ""
        for _ in range(100):  # the sandbox payer pays after a few seconds; the poller runs every second
            told += "".join(r.text for r in await app.engine.notifications("test", "funding-web-1"))
            if "added to your wallet" in told:
                break
            await asyncio.sleep(0.2)
        assert "added to your wallet" in told


async def test_celery_beat_task_finds_a_payment_whose_webhook_never_came(db: Database) -> None:
    from nexustop import tasks
    from nexustop.celery_app import app as celery

    assert "nexustop.poll_payments" in celery.tasks
    assert celery.conf.beat_schedule["poll-unannounced-payments"]["task"] == "nexustop.poll_payments"

    runner, base_url = await start_paystack_sandbox(copies=0)  # the webhook never comes
    settings = Settings(
        database_url=db.url,
        paystack_base_url=base_url,
        paystack_secret_key=SecretStr("sk_test_sandbox"),
        funding_check_delays_seconds=(0.0,),
    )
    gateway = PaystackGateway(base_url, "sk_test_sandbox")
    try:
        service = FundingService(db, {"paystack": gateway})
        country = get_country("NG")
        assert country is not None
        async with db.transaction() as session:
            user = User(country="NG", language="en")
            session.add(user)
            await session.flush()
            user_id = user.id
        started = await service.start(
            user_id=user_id, conversation_id=None, country=country, amount=Money.of(1000, "NGN")
        )
        reference = started.payment.reference
        sandbox = sandbox_of(runner)
        sandbox.pay(sandbox.payments[reference])
        async with db.transaction() as session:
            payment = await payment_of(session, reference)
            assert payment is not None
            payment.next_check_at = payment.created_at  # due now
        counts = await tasks._poll_payments_once(SimpleNamespace(settings=settings, db=db))  # type: ignore[arg-type]
        assert counts.get("credited", 0) >= 1
        async with db.transaction() as session:
            credited = await payment_of(session, reference)
            assert credited is not None and credited.state == "credited"
    finally:
        await gateway.close()
        await runner.cleanup()
