"""Money out in the demo web app: payouts through the Paystack sandbox, its transfer webhooks on our route."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp.test_utils import TestClient, TestServer

from domain import ledger, pins, users
from domain.banks import find_bank
from domain.database import Database
from domain.models import KycProfile, utcnow
from domain.money import Money
from domain.payout_routes import route_payout
from domain.ports import PayoutStatus
from domain.transfers import (
    Recipient,
    SendRequest,
    TransferService,
    TransferState,
    by_reference,
    new_reference,
)
from nexustop.bootstrap import demo_settings
from nexustop.settings import Settings
from nexustop.web import APP_KEY, create_app
from tests.integration.ledger_check import assert_ledger_balanced

SECRET = "sk_test_sandbox"


def _signed(event: str, reference: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"event": event, "data": {"reference": reference, "id": 1, "status": "x"}}).encode()
    return body, {"x-paystack-signature": hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()}


async def _eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 20.0) -> None:
    """Wait until ``check()`` is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


async def _sender(db: Database, transfers: TransferService) -> int:
    """A Nigerian tier-1 user with a PIN and ₦20,000, old enough not to cool off."""
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", uuid.uuid4().hex, phone="+2348030000123")
        known.user.country = "NG"
        known.user.created_at = known.identity.created_at = utcnow() - timedelta(days=30)
        session.add(KycProfile(user_id=known.user.id, tier=1))
        await pins.set_pin(session, known.user.id, "2580", transfers.pepper)
        wallet = await ledger.open_wallet(session, known.user.id, "NGN")
        promo = await ledger.open_system_account(session, "promo", "NGN")
        await ledger.create_transfer(
            session, ledger.NewTransfer("promo:web", promo, wallet, 20_000_00, "NGN", "promo")
        )
        return known.user.id


async def test_a_reversed_bank_payout_is_refunded_once_through_the_webhook_route(sqlite_url: str) -> None:
    # Nothing listens at public_url: the sandbox's own webhooks are lost, the test posts its own.
    settings = demo_settings(Settings(database_url=sqlite_url, public_url="http://127.0.0.1:9"))
    server = TestServer(create_app(settings))
    async with TestClient(server) as client:
        app = server.app[APP_KEY]
        transfers = app.transfers
        assert transfers is not None and {"paystack", "flutterwave"} <= set(transfers.gateways)
        sender = await _sender(app.db, transfers)
        bank = find_bank("NG", "gtbank")
        assert bank is not None
        route = route_payout(transfers.gateways, bank, "0123453333")  # sandbox: succeeds, then reversed
        assert route is not None
        async with client.session.post(
            f"{app.settings.paystack_base_url}/sandbox/transfers/control",
            json={"pending_queries": 0, "reverse_after": 0.5},
        ) as knobs:
            assert knobs.status == 200
        reference = new_reference()
        async with app.db.transaction() as session:
            sent = await transfers.send(
                session,
                SendRequest(
                    reference,
                    sender,
                    "NG",
                    Money.of(10_000, "NGN"),
                    "2580",
                    Recipient(destination=route.destination, account_name="ADA OBI"),
                ),
            )
        assert sent.transfer is not None and sent.transfer.state == TransferState.QUEUED

        async def state() -> str:
            async with app.db.transaction() as session:
                row = await by_reference(session, reference)
                assert row is not None
                return row.state

        async def succeeded() -> bool:  # the in-process poller sends it within a second
            return await state() == TransferState.SUCCEEDED

        async def reversed_at_gateway() -> bool:  # the sandbox reverses it shortly, telling nobody
            payout = await transfers.gateways["paystack"].query_payout(reference)
            return payout.status is PayoutStatus.REVERSED

        async def refunded() -> bool:  # the app acts on a webhook in the background, after its 200
            return await state() == TransferState.REVERSED

        await _eventually(succeeded, "the payout to succeed")
        await _eventually(reversed_at_gateway, "the sandbox to reverse the payout")
        forged_body, _ = _signed("transfer.reversed", reference)
        forged = await client.post(
            "/webhook/paystack", data=forged_body, headers={"x-paystack-signature": "0" * 128}
        )
        assert forged.status == 401 and await state() == TransferState.SUCCEEDED
        body, headers = _signed("transfer.reversed", reference)
        for _ in range(5):  # the genuine webhook, five times: one refund
            assert (await client.post("/webhook/paystack", data=body, headers=headers)).status == 200
        await _eventually(refunded, "the reversal webhook to be acted on")
        async with app.db.transaction() as session:
            assert await users.available_balance(session, sender, "NGN") == 20_000_00
        await assert_ledger_balanced(app.db)
