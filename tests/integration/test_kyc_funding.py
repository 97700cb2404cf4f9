"""KYC caps on wallet funding: the balance cap and the monthly top-up cap, at their boundaries, in chat too.

Payments start at the Paystack sandbox over HTTP and are paid and credited through the real
status check, on PostgreSQL. Nigeria's tier 0 (our policy) holds ₦20,000 and takes ₦50,000 of
top-ups a month; UEMOA's tier 0 holds 200,000 F CFA.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select

from conversations.engine import Engine
from domain import kyc, ledger
from domain.countries import get_country
from domain.database import Database
from domain.funding import FundingService, KycLimitReached, Outcome, Started
from domain.models import Identity, Payment, User
from domain.money import Money
from nexustop.queues import InProcessQueue
from payments.flutterwave import FlutterwaveGateway
from payments.paystack import PaystackGateway
from payments.vtpass import VTpassProvider
from sandbox.flutterwave import start_flutterwave_sandbox
from sandbox.gateway import GatewaySandbox, sandbox_of
from sandbox.paystack import start_paystack_sandbox
from tests.integration.dialogue import Chat


@dataclass
class Rig:
    service: FundingService
    sandbox: GatewaySandbox
    engine: Engine
    queue: InProcessQueue


@pytest_asyncio.fixture(scope="module")
async def rig(db: Database) -> AsyncIterator[Rig]:
    runner, url = await start_paystack_sandbox()
    flutterwave_runner, flutterwave_url = await start_flutterwave_sandbox()  # UEMOA has no Paystack
    gateway = PaystackGateway(url, "sk_test_sandbox", timeout=5.0)
    flutterwave = FlutterwaveGateway(flutterwave_url, "FLWSECK_TEST-sandbox", "sandbox-secret-hash")
    gateways = {"paystack": gateway, "flutterwave": flutterwave}
    service = FundingService(db, gateways, check_delays=(0.0,))  # type: ignore[arg-type]
    provider = VTpassProvider(
        "http://127.0.0.1:9", "unused", "unused", "unused", timeout=1.0
    )  # no orders here
    queue = InProcessQueue(db, provider, (0.1,))
    yield Rig(service, sandbox_of(runner), Engine(db, queue, funding=service), queue)
    await queue.close()
    await provider.close()
    await gateway.close()
    await flutterwave.close()
    await runner.cleanup()
    await flutterwave_runner.cleanup()


def money(amount: str, currency: str = "NGN") -> Money:
    return Money.of(amount, currency)


async def _user(db: Database, country: str = "NG") -> int:
    async with db.transaction() as session:
        user = User(country=country, language="en")
        session.add(user)
        await session.flush()
        return user.id


async def _give(db: Database, user_id: int, amount: Money) -> None:
    """Put money in the wallet from the promo account (not a top-up: the monthly cap ignores it)."""
    async with db.transaction() as session:
        promo = await ledger.open_system_account(session, "promo", amount.currency)
        wallet = await ledger.open_wallet(session, user_id, amount.currency)
        transfer = ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, amount.minor, amount.currency, "promo")
        assert await ledger.create_transfer(session, transfer) is ledger.TransferResult.CREATED


async def _spend(db: Database, user_id: int, amount: Money) -> None:
    async with db.transaction() as session:
        wallet = await ledger.open_wallet(session, user_id, amount.currency)
        spent = await ledger.open_system_account(session, "spent", amount.currency)
        transfer = ledger.NewTransfer(
            uuid.uuid4().hex, wallet, spent, amount.minor, amount.currency, "purchase"
        )
        assert await ledger.create_transfer(session, transfer) is ledger.TransferResult.CREATED


#: A payer's phone per country (mobile money needs one).
PHONES = {"NG": None, "SN": "+221771234567"}


async def _start(rig: Rig, db: Database, user_id: int, amount: Money, country: str = "NG") -> Started:
    served = get_country(country)
    assert served is not None
    return await rig.service.start(
        user_id=user_id, conversation_id=None, country=served, amount=amount, phone=PHONES[country]
    )


async def _refused(
    rig: Rig, db: Database, user_id: int, amount: Money, country: str = "NG"
) -> KycLimitReached:
    with pytest.raises(KycLimitReached) as refusal:
        await _start(rig, db, user_id, amount, country)
    return refusal.value


async def _top_up(rig: Rig, db: Database, user_id: int, amount: Money) -> None:
    """Start a payment, pay it at the sandbox and credit it through the status check."""
    started = await _start(rig, db, user_id, amount)
    rig.sandbox.pay(rig.sandbox.payments[started.payment.reference])
    assert (await rig.service.check(started.payment.id))[0] is Outcome.CREDITED


async def _payments(db: Database, user_id: int) -> int:
    async with db.transaction() as session:
        return len((await session.scalars(select(Payment.id).where(Payment.user_id == user_id))).all())


async def test_the_balance_cap_refuses_a_kobo_above_and_accepts_exactly_up_to_it(
    rig: Rig, db: Database
) -> None:
    user_id = await _user(db)
    await _give(db, user_id, money("15000"))
    refusal = await _refused(rig, db, user_id, money("5000.01"))
    assert (refusal.limit, refusal.room, refusal.cap, refusal.tier) == (
        kyc.Limit.MAX_BALANCE,
        money("5000"),
        money("20000"),
        0,
    )
    assert await _payments(db, user_id) == 0  # nothing recorded for a refused top-up
    started = await _start(rig, db, user_id, money("5000"))
    assert started.link.url


async def test_the_monthly_cap_refuses_a_kobo_above_and_accepts_exactly_up_to_it(
    rig: Rig, db: Database
) -> None:
    user_id = await _user(db)
    for _ in range(2):  # ₦40,000 of top-ups this month, spent as they came in
        await _top_up(rig, db, user_id, money("20000"))
        await _spend(db, user_id, money("20000"))
    async with db.transaction() as session:
        assert await kyc.credited_this_month(session, user_id, "NGN") == money("40000").minor
        assert await kyc.room_for_credit(session, user_id, "NG", "NGN") == money("20000").minor
    refusal = await _refused(rig, db, user_id, money("10000.01"))
    assert (refusal.limit, refusal.room, refusal.cap) == (
        kyc.Limit.MONTHLY_IN,
        money("10000"),
        money("50000"),
    )
    await _start(rig, db, user_id, money("10000"))


async def test_a_full_wallet_has_no_room_and_a_gift_does_not_count_as_a_top_up(
    rig: Rig, db: Database
) -> None:
    user_id = await _user(db)
    await _give(db, user_id, money("20000"))
    refusal = await _refused(rig, db, user_id, money("100"))
    assert (refusal.limit, refusal.room) == (kyc.Limit.MAX_BALANCE, money("0"))
    async with db.transaction() as session:
        assert await kyc.credited_this_month(session, user_id, "NGN") == 0
        assert await kyc.room_for_credit(session, user_id, "NG", "NGN") == 0


async def test_a_higher_tier_raises_the_caps_and_tier_3_has_no_balance_cap(rig: Rig, db: Database) -> None:
    user_id = await _user(db)
    await _refused(rig, db, user_id, money("25000"))
    async with db.transaction() as session:
        await kyc.set_tier(session, user_id, 1, staff_id=1)
    await _start(rig, db, user_id, money("300000"))  # tier 1: exactly the ₦300,000 cap, no monthly cap
    refusal = await _refused(rig, db, user_id, money("300000.01"))
    assert (refusal.limit, refusal.cap, refusal.tier) == (kyc.Limit.MAX_BALANCE, money("300000"), 1)
    async with db.transaction() as session:
        await kyc.set_tier(session, user_id, 3, staff_id=1)
        assert await kyc.room_for_credit(session, user_id, "NG", "NGN") is None
        assert await kyc.topup_room(session, user_id, "NG", "NGN") is None
    await _start(rig, db, user_id, money("1000000"))


async def test_uemoa_tier_0_caps_the_balance_in_whole_francs(rig: Rig, db: Database) -> None:
    user_id = await _user(db, "SN")
    await _give(db, user_id, money("150000", "XOF"))
    refusal = await _refused(rig, db, user_id, money("50001", "XOF"), "SN")
    assert (refusal.limit, refusal.room) == (kyc.Limit.MAX_BALANCE, money("50000", "XOF"))
    await _start(rig, db, user_id, money("50000", "XOF"), "SN")


# -- what the user is told ---------------------------------------------------------------------


async def _chat_user(rig: Rig, db: Database, phone: str) -> tuple[Chat, int]:
    chat = Chat(rig.engine, rig.queue, country="NG", phone=phone)
    await chat.say("hello")
    async with db.transaction() as session:
        user_id = await session.scalar(select(Identity.user_id).where(Identity.channel_user_id == chat.user))
    assert user_id is not None
    return chat, user_id


async def test_the_user_is_told_how_much_fits_and_that_verifying_raises_it(rig: Rig, db: Database) -> None:
    chat, user_id = await _chat_user(rig, db, "+2348031110001")
    await _give(db, user_id, money("5000"))
    reply = await chat.say("fund 25000")
    assert "Your wallet can hold up to ₦20,000.00 at your verification level" in reply
    assert "you can add at most ₦15,000.00 now" in reply
    assert "Verifying your identity (your BVN or NIN) raises this limit." in reply
    assert "pay here" in await chat.say("fund 15000")


async def test_a_full_wallet_and_a_used_up_month_are_explained(rig: Rig, db: Database) -> None:
    chat, user_id = await _chat_user(rig, db, "+2348031110002")
    for _ in range(2):
        await _top_up(rig, db, user_id, money("20000"))
        await _spend(db, user_id, money("20000"))
    await _top_up(rig, db, user_id, money("9950"))  # ₦49,950 this month: less than the ₦100 minimum left
    full_month = await chat.say("fund 100")
    assert "You have reached this month's top-up limit of ₦50,000.00" in full_month
    assert "cannot add more this month" in full_month
    await _give(db, user_id, money("10050"))
    full_wallet = await chat.say("fund 100")
    assert "Your wallet is at its limit of ₦20,000.00" in full_wallet
    assert "cannot add more now" in full_wallet


async def test_at_the_last_self_service_tier_the_user_is_pointed_to_an_agent(rig: Rig, db: Database) -> None:
    chat, user_id = await _chat_user(rig, db, "+2348031110003")
    async with db.transaction() as session:
        await kyc.set_tier(session, user_id, 2, staff_id=1)
    reply = await chat.say("fund 600000")
    assert "Your wallet can hold up to ₦500,000.00" in reply
    assert "ask to talk to an agent" in reply
    assert "BVN" not in reply
