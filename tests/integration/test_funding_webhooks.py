"""Each gateway's webhooks against its sandbox: one credit or none, never two.

For every gateway: a valid webhook; a forged one (wrong signature, or for unsigned gateways a
callback the status API contradicts); the same webhook ×5 (in a row and at once); a payment of
the wrong amount; of the wrong currency; a webhook arriving late after the poller already
settled the payment; no webhook at all; webhooks and polls racing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from domain import ledger
from domain.countries import get_country
from domain.database import Database
from domain.funding import FundingService, Outcome, PaymentState
from domain.models import Notification, Payment, PaymentEvent, Transfer, User
from domain.money import Money
from nexustop.funding import add_webhook_routes
from sandbox.gateway import SandboxPayment
from tests.integration.funding_kits import KITS, Kit
from tests.integration.ledger_check import assert_ledger_balanced


@pytest_asyncio.fixture(scope="module", params=sorted(KITS))
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[Kit]:
    async with KITS[request.param]() as built:
        yield built


@pytest_asyncio.fixture(scope="module")
async def rig(kit: Kit, db: Database) -> AsyncIterator[tuple[Kit, FundingService, str]]:
    """The kit, a funding service over its gateway, and a web app taking its webhooks."""
    service = FundingService(db, {kit.name: kit.gateway}, check_delays=(0.0,))  # type: ignore[dict-item]
    app = web.Application()
    add_webhook_routes(app, lambda _request: service)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}/webhook/{kit.path}"
    yield kit, service, url
    await runner.cleanup()


@pytest.fixture(autouse=True)
def _default_knobs(rig: tuple[Kit, FundingService, str]) -> None:
    kit, _, url = rig
    kit.sandbox.set_knobs({"webhook_url": url, "copies": 1, "delay": 0, "auto_pay": None})


async def _start(rig: tuple[Kit, FundingService, str], db: Database) -> tuple[int, str, SandboxPayment]:
    kit, service, _ = rig
    country = get_country(kit.country)
    assert country is not None
    async with db.transaction() as session:
        user = User(country=kit.country, language="en")
        session.add(user)
        await session.flush()
        user_id = user.id
    started = await service.start(
        user_id=user_id, conversation_id=None, country=country, amount=kit.amount, phone=kit.phone
    )
    reference = started.payment.reference
    return user_id, reference, kit.sandbox.payments[reference]


async def _balance(db: Database, user_id: int, currency: str) -> int:
    async with db.transaction() as session:
        wallet = await ledger.balance_by_code(session, ledger.wallet_code(user_id, currency))
        return wallet.available if wallet is not None else 0


async def _payment(db: Database, reference: str) -> Payment:
    async with db.transaction() as session:
        payment = await session.scalar(select(Payment).where(Payment.reference == reference))
        assert payment is not None
        return payment


async def _count(db: Database, statement: Any) -> int:
    async with db.transaction() as session:
        return int(await session.scalar(statement) or 0)


async def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, data=body, headers={"Content-Type": "application/json", **headers}) as response,
    ):
        return response.status


def _hook(url: str, payment: SandboxPayment) -> str:
    """The webhook URL as the gateway calls it for ``payment`` (Orange adds ``?ref=…``)."""
    query = payment.extra.get("webhook_query")
    return f"{url}?{query}" if query else url


async def _assert_credited_once(db: Database, kit: Kit, user_id: int, reference: str) -> None:
    assert await _balance(db, user_id, kit.amount.currency) == kit.amount.minor
    assert await _count(db, select(func.count()).where(Transfer.id == reference)) == 1
    payment = await _payment(db, reference)
    assert payment.state == PaymentState.CREDITED
    notes = select(func.count()).where(
        Notification.payment_id == payment.id, Notification.kind == "wallet_funded"
    )
    assert await _count(db, notes) == 1


async def _assert_no_money(db: Database, kit: Kit, user_id: int, reference: str) -> None:
    assert await _balance(db, user_id, kit.amount.currency) == 0
    assert await _count(db, select(func.count()).where(Transfer.id == reference)) == 0


async def _events(db: Database, kit: Kit, reference: str) -> list[PaymentEvent]:
    async with db.transaction() as session:
        statement = select(PaymentEvent).where(
            PaymentEvent.gateway == kit.name, PaymentEvent.reference == reference
        )
        return list((await session.scalars(statement.order_by(PaymentEvent.id))).all())


async def test_valid_webhook_credits_the_wallet_once(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.pay(payment)
    await kit.sandbox.idle()
    await _assert_credited_once(db, kit, user_id, reference)
    events = await _events(db, kit, reference)
    assert [e.outcome for e in events] == [Outcome.CREDITED]


async def test_forged_webhook_moves_no_money_and_blocks_nothing(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, url = rig
    user_id, reference, payment = await _start(rig, db)
    body, headers = kit.forge(payment)
    status = await _post(_hook(url, payment), body, headers)
    await _assert_no_money(db, kit, user_id, reference)
    if kit.signed:
        assert status == 401
        async with db.transaction() as session:  # nothing of a request that fails its signature is stored
            forged = await session.scalar(
                select(func.count()).where(
                    PaymentEvent.gateway == kit.name, PaymentEvent.authentic.is_(False)
                )
            )
        assert forged == 0 and await _events(db, kit, reference) == []
    else:
        # An unsigned callback is only a hint: the status query says the payment is still pending.
        assert status == 200
        assert [e.outcome for e in await _events(db, kit, reference)] == [Outcome.PENDING]
    assert (await _payment(db, reference)).state == PaymentState.PENDING
    # The forgery did not use up the real webhook's key: the genuine one still credits.
    kit.sandbox.pay(payment)
    await kit.sandbox.idle()
    await _assert_credited_once(db, kit, user_id, reference)


async def test_authentic_webhook_the_status_api_contradicts_moves_no_money(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, url = rig
    if kit.sign is None:
        pytest.skip("unsigned gateway: covered by the forged-callback test")
    user_id, reference, payment = await _start(rig, db)
    body, _ = kit.forge(payment)
    assert await _post(_hook(url, payment), body, kit.sign(body)) == 200
    await _assert_no_money(db, kit, user_id, reference)
    assert (await _payment(db, reference)).state == PaymentState.PENDING


async def test_the_same_webhook_five_times_credits_once(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, url = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.set_knobs({"copies": 5})
    kit.sandbox.pay(payment)
    await kit.sandbox.idle()
    await _assert_credited_once(db, kit, user_id, reference)
    built = kit.sandbox.webhook(payment)
    assert built is not None
    statuses = await asyncio.gather(*(_post(_hook(url, payment), *built) for _ in range(5)))
    assert set(statuses) == {200}
    await _assert_credited_once(db, kit, user_id, reference)
    assert len(await _events(db, kit, reference)) == 1


async def test_five_copies_at_once_credit_once(rig: tuple[Kit, FundingService, str], db: Database) -> None:
    kit, _, url = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.set_knobs({"copies": 0})
    kit.sandbox.pay(payment)
    built = kit.sandbox.webhook(payment)
    assert built is not None
    statuses = await asyncio.gather(*(_post(_hook(url, payment), *built) for _ in range(5)))
    assert set(statuses) == {200}
    await _assert_credited_once(db, kit, user_id, reference)


async def test_wrong_amount_moves_no_money_and_says_why(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.pay(payment, amount=kit.major - 1)
    await kit.sandbox.idle()
    await _assert_no_money(db, kit, user_id, reference)
    settled = await _payment(db, reference)
    if kit.reports_amount:
        assert settled.state == PaymentState.REJECTED
        assert "amount" in settled.detail
        assert [e.outcome for e in await _events(db, kit, reference)] == [Outcome.REJECTED]
    else:  # the status API never confirms a payment of another amount as ours
        assert settled.state == PaymentState.PENDING


async def test_wrong_currency_moves_no_money_and_says_why(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, _, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.pay(payment, currency=kit.other_currency)
    await kit.sandbox.idle()
    await _assert_no_money(db, kit, user_id, reference)
    settled = await _payment(db, reference)
    if kit.reports_amount:
        assert settled.state == PaymentState.REJECTED
        assert "currency" in settled.detail
    else:
        assert settled.state == PaymentState.PENDING


async def test_late_webhook_after_the_poller_settled_it_credits_nothing_more(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, service, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.set_knobs({"copies": 0})
    kit.sandbox.pay(payment)
    payment_id = (await _payment(db, reference)).id
    assert (await service.check(payment_id))[0] is Outcome.CREDITED
    await _assert_credited_once(db, kit, user_id, reference)
    kit.sandbox.set_knobs({"copies": 1})
    kit.sandbox.send_webhook(payment, delay=0.05)
    await kit.sandbox.idle()
    await _assert_credited_once(db, kit, user_id, reference)
    assert [e.outcome for e in await _events(db, kit, reference)] == [Outcome.ALREADY_CREDITED]


async def test_webhook_that_never_comes_is_found_by_the_poller(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, service, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.set_knobs({"copies": 0})
    assert (await service.poll()).get(Outcome.CREDITED, 0) == 0
    kit.sandbox.pay(payment)
    counts = await service.poll()
    assert counts.get(Outcome.CREDITED) == 1
    await _assert_credited_once(db, kit, user_id, reference)
    assert (await _payment(db, reference)).id not in await service.due()  # nothing due any more


async def test_declined_payment_fails_without_money(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, service, _ = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.pay(payment, "failed")
    await kit.sandbox.idle()
    payment_id = (await _payment(db, reference)).id
    await service.check(payment_id)
    await _assert_no_money(db, kit, user_id, reference)
    settled = await _payment(db, reference)
    assert settled.state == PaymentState.FAILED
    failed = select(func.count()).where(
        Notification.payment_id == payment_id, Notification.kind == "funding_failed"
    )
    assert await _count(db, failed) == 1


async def test_webhooks_and_polls_racing_credit_once(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    kit, service, url = rig
    user_id, reference, payment = await _start(rig, db)
    kit.sandbox.set_knobs({"copies": 0})
    kit.sandbox.pay(payment)
    built = kit.sandbox.webhook(payment)
    assert built is not None
    payment_id = (await _payment(db, reference)).id
    await asyncio.gather(
        *(_post(_hook(url, payment), *built) for _ in range(5)),
        *(service.check(payment_id) for _ in range(5)),
    )
    await _assert_credited_once(db, kit, user_id, reference)
    await assert_ledger_balanced(db)


async def test_amount_outside_the_country_bounds_is_refused(
    rig: tuple[Kit, FundingService, str], db: Database
) -> None:
    from domain.funding import AmountOutOfRange

    kit, service, _ = rig
    country = get_country(kit.country)
    assert country is not None
    async with db.transaction() as session:
        user = User(country=kit.country, language="en")
        session.add(user)
        await session.flush()
        user_id = user.id
    with pytest.raises(AmountOutOfRange):
        await service.start(
            user_id=user_id,
            conversation_id=None,
            country=country,
            amount=Money(country.funding_max.minor + 1, country.currency),
        )


def test_kits_cover_the_funding_gateways() -> None:
    assert {"paystack", "flutterwave", "momo", "orange"} <= set(KITS)
