"""Outside calls never inside a held lock: a chat turn records what it asks, commits, asks, applies.

The account-name lookup, the identity check and the payment link each go through a port that
holds the call until the test lets it go. While it is held, another transaction locks the
conversation row with NOWAIT and PostgreSQL shows no transaction left open, so a provider that
hangs holds neither the conversation nor a pool connection. The dialogue then ends as it always
did, and an answer that comes after the user moved on is ignored.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest_asyncio
from sqlalchemy import func, select, text

from conversations.engine import REDACTED, Engine
from domain import kyc
from domain.database import Database
from domain.funding import FundingService, PaymentState
from domain.models import AuditEntry, Conversation, Identity, Message, Payment, User
from domain.money import Money
from domain.ports import IdentityKind, PaymentLink
from domain.transfers import TransferService, TransferState
from nexustop.queues import InProcessQueue
from payments.identity import DojahIdentityVerifier
from payments.paystack import PaystackGateway
from payments.vtpass import VTpassProvider
from sandbox.gateway import sandbox_of
from sandbox.identity import APP_ID, SECRET_KEY, start_identity_sandbox
from sandbox.paystack import start_paystack_sandbox
from sandbox.vtpass import start_vtpass_sandbox
from tests.integration.dialogue import FAST_REQUERIES, Chat, assert_ledger_balanced
from tests.integration.test_transfers_chat import bvn, ng_phone, verified

PEPPER = b"outside-calls-pepper"
KYC_PEPPER = "outside-calls-kyc-pepper"
T = TypeVar("T")


class Gate:
    """A port in front of a sandbox client that holds its outside calls while shut."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = asyncio.Event()
        self.opened = asyncio.Event()
        self.opened.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def shut(self) -> None:
        """Hold the next calls until ``open``."""
        self.opened.clear()
        self.entered.clear()

    def open(self) -> None:
        """Let held and later calls through."""
        self.opened.set()

    async def _held(self, call: Callable[[], Awaitable[T]]) -> T:
        self.entered.set()
        await self.opened.wait()
        return await call()

    async def lookup_account(self, destination: Any) -> Any:
        return await self._held(lambda: self.inner.lookup_account(destination))

    async def verify(self, kind: Any, number: str, country: str) -> Any:
        return await self._held(lambda: self.inner.verify(kind, number, country))

    async def create_payment(self, request: Any) -> Any:
        return await self._held(lambda: self.inner.create_payment(request))


@dataclass
class Rig:
    db: Database
    engine: Engine
    queue: InProcessQueue
    transfers: TransferService
    funding: FundingService
    paystack: Gate
    registry: Gate
    paystack_runner: Any

    def chat(self, **kwargs: Any) -> Chat:
        return Chat(self.engine, self.queue, **kwargs)


@pytest_asyncio.fixture(scope="module")
async def rig(db: Database) -> AsyncIterator[Rig]:
    vtpass, vtpass_url = await start_vtpass_sandbox()
    provider = VTpassProvider(vtpass_url, "sandbox-api-key", "PK_sandbox", "SK_sandbox", timeout=2.0)
    queue = InProcessQueue(db, provider, FAST_REQUERIES)
    paystack_runner, paystack_url = await start_paystack_sandbox()
    registry_runner, registry_url = await start_identity_sandbox()
    paystack = Gate(PaystackGateway(paystack_url, "sk_test_sandbox", timeout=5.0))
    registry = Gate(DojahIdentityVerifier(registry_url, APP_ID, SECRET_KEY, timeout=5.0))
    transfers = TransferService(PEPPER, gateways={"paystack": paystack}, check_delays=(0.0,))
    funding = FundingService(db, {"paystack": paystack}, check_delays=(0.0,))
    engine = Engine(
        db,
        queue,
        demo=True,
        transfers=transfers,
        funding=funding,
        identity=registry,
        kyc_pepper=KYC_PEPPER,
    )
    yield Rig(db, engine, queue, transfers, funding, paystack, registry, paystack_runner)
    await queue.drain(5)
    await queue.close()
    for client in (paystack.inner, registry.inner, provider):
        await client.close()
    for runner in (paystack_runner, registry_runner, vtpass):
        await runner.cleanup()


# ---- helpers --------------------------------------------------------------------------------


def account() -> str:
    """A fresh NUBAN the sandbox pays (its last four are none of the magic endings).

    Fresh, so the fraud checks' per-recipient counters of other tests' sends do not hold it.
    """
    return f"01{random.randrange(10**4):04d}{random.randrange(5000, 10**4):04d}"


async def held_while(gate: Gate, saying: Awaitable[str]) -> asyncio.Task[str]:
    """Start a chat line whose outside call the shut ``gate`` holds; return once it is held."""
    task = asyncio.ensure_future(saying)
    await asyncio.wait_for(gate.entered.wait(), 10)
    return task


async def conversation_id(db: Database, chat: Chat) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(Conversation.id).where(Conversation.chat_id == chat.user))
        assert found is not None
        return found


async def assert_nothing_held(db: Database, chat: Chat) -> None:
    """While an outside call is in flight: the conversation locks at once, no transaction is open."""
    conversation = await conversation_id(db, chat)
    async with db.transaction() as session:
        open_elsewhere = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
                " AND xact_start IS NOT NULL"
            )
        )
        assert open_elsewhere == 0
        locked = await session.scalar(
            text("SELECT id FROM conversations WHERE id = :id FOR UPDATE NOWAIT"), {"id": conversation}
        )
        assert locked == conversation


async def user_id(db: Database, chat: Chat) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(Identity.user_id).where(Identity.channel_user_id == chat.user))
        assert found is not None
        return found


async def state_of(db: Database, chat: Chat) -> tuple[str, dict[str, Any]]:
    async with db.transaction() as session:
        row = (
            await session.execute(
                select(Conversation.state, Conversation.slots).where(Conversation.chat_id == chat.user)
            )
        ).one()
        return row[0], dict(row[1] or {})


async def sent_by(db: Database, chat: Chat) -> list[TransferState]:
    from domain.models import MoneyTransfer

    sender = await user_id(db, chat)
    async with db.transaction() as session:
        rows = await session.scalars(
            select(MoneyTransfer.state).where(MoneyTransfer.sender_user_id == sender)
        )
        return [TransferState(state) for state in rows.all()]


# ---- the three outside calls, each made with nothing held ------------------------------------


async def test_the_account_lookup_is_made_with_the_conversation_unlocked(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    rig.paystack.shut()
    try:
        number = account()
        saying = await held_while(rig.paystack, sender.say(f"send 4000 to GTBank {number}"))
        await assert_nothing_held(rig.db, sender)
    finally:
        rig.paystack.open()
    quote = await saying
    assert re.search(rf"Send ₦4,000\.00 to [A-Z]+ [A-Z]+ \(GTBank \*{{6}}{number[-4:]}\)\?", quote), quote
    await sender.press(sender.last_choice("sendok:"))
    await sender.say("3917")
    assert "I'll tell you when it lands" in await sender.say("3917")
    await rig.transfers.poll(rig.db)
    assert "✅ ₦4,000.00 reached" in await sender.receipts()
    assert await sent_by(rig.db, sender) == [TransferState.SUCCEEDED]
    assert (await sender.wallet(rig.db, "NGN")).posted == 600_000
    await assert_ledger_balanced(rig.db)


async def test_the_identity_check_is_made_with_the_conversation_unlocked(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hello")
    assert "Which number" in await chat.say("verify")
    await chat.press("idkind:bvn")
    number = bvn()
    rig.registry.shut()
    try:
        saying = await held_while(rig.registry, chat.say(number))
        await assert_nothing_held(rig.db, chat)
    finally:
        rig.registry.open()
    assert "✅ Verified! You're now at level 1" in await saying
    assert all(reply.forget_inbound for reply in chat.transcript[-1:])
    async with rig.db.transaction() as session:
        inbound = list(
            (
                await session.scalars(
                    select(Message.body)
                    .where(Message.conversation_id == await conversation_id(rig.db, chat))
                    .where(Message.direction == "in")
                )
            ).all()
        )
    assert REDACTED in inbound and not any(number in line for line in inbound)


async def test_the_payment_link_is_asked_with_the_conversation_unlocked(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hello")
    rig.paystack.shut()
    try:
        saying = await held_while(rig.paystack, chat.say("fund 5000"))
        await assert_nothing_held(rig.db, chat)
    finally:
        rig.paystack.open()
    reply = await saying
    assert "To add ₦5,000.00 to your wallet, pay here" in reply
    async with rig.db.transaction() as session:
        payment = await session.scalar(select(Payment).where(Payment.user_id == await user_id(rig.db, chat)))
        assert payment is not None and payment.state == PaymentState.PENDING and payment.payment_url
    sandbox = sandbox_of(rig.paystack_runner)
    sandbox.pay(sandbox.payments[payment.reference])
    await rig.funding.poll()
    assert "₦5,000.00 was added to your wallet" in await chat.receipts()
    assert (await chat.wallet(rig.db, "NGN")).posted == 1_500_000  # the demo's ₦10,000 and this
    await assert_ledger_balanced(rig.db)


async def test_verifying_resumes_a_bank_send_through_a_second_outside_call(rig: Rig) -> None:
    chat = rig.chat(country="NG", phone=ng_phone())
    await chat.say("hello")
    assert "check who you are" in await chat.say(f"send 4000 to GTBank {account()}")
    text = await chat.say(f"my bvn is {bvn()}")  # the check, then the resumed send's lookup
    assert "level 1" in text
    assert re.search(r"Send ₦4,000\.00 to [A-Z]+ [A-Z]+ \(GTBank \*{6}\d{4}\)\?", text), text
    state, slots = await state_of(rig.db, chat)
    assert state == "send_confirm" and "waiting_for" not in slots


# ---- answers that come too late, or twice ----------------------------------------------------


async def test_a_lookup_answer_after_the_user_moved_on_is_ignored(rig: Rig) -> None:
    sender = rig.chat(country="NG", phone=ng_phone())
    await verified(sender)
    rig.paystack.shut()
    try:
        saying = await held_while(rig.paystack, sender.say(f"send 4000 to GTBank {account()}"))
        assert "Your balance" in await sender.say("balance")  # answered while the lookup is held
    finally:
        rig.paystack.open()
    assert await saying == ""  # the late answer: no quote
    state, slots = await state_of(rig.db, sender)
    assert "ref" not in slots and "waiting_for" not in slots and state != "send_confirm"
    assert not any(
        choice.id.startswith("sendok:") for reply in sender.transcript for choice in reply.choices()
    )
    assert "nothing to confirm" in await sender.say("yes")
    assert await sent_by(rig.db, sender) == []
    assert (await sender.wallet(rig.db, "NGN")).posted == 1_000_000
    await assert_ledger_balanced(rig.db)


async def test_an_identity_answer_filed_twice_verifies_once(rig: Rig) -> None:
    async with rig.db.transaction() as session:
        user = User(country="NG", language="en")
        session.add(user)
        await session.flush()
        owner = user.id
        prepared = await kyc.prepare_upgrade(
            session, user_id=owner, country="NG", kind=IdentityKind.BVN, number=bvn(), pepper=KYC_PEPPER
        )
    assert isinstance(prepared, kyc.UpgradeCheck)
    answer = await prepared.ask(rig.registry)
    async with rig.db.transaction() as session:
        first = await kyc.apply_upgrade(session, prepared, answer)
    async with rig.db.transaction() as session:
        again = await kyc.apply_upgrade(session, prepared, answer)
        lines = await session.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "kyc.verified", AuditEntry.subject == f"user:{owner}"
            )
        )
    assert first.outcome is kyc.UpgradeOutcome.UPGRADED and first.tier == 1
    assert again.outcome is kyc.UpgradeOutcome.ALREADY_VERIFIED and again.tier == 1
    assert lines == 1


async def test_a_payment_link_filed_twice_is_one_payment(rig: Rig) -> None:
    from domain.countries import get_country

    country = get_country("NG")
    assert country is not None
    async with rig.db.transaction() as session:
        user = User(country="NG", language="en")
        session.add(user)
        await session.flush()
        recorded = await rig.funding.record(
            session, user_id=user.id, conversation_id=None, country=country, amount=Money.of(2000, "NGN")
        )
    first = await rig.funding.complete(recorded)
    async with rig.db.transaction() as session:  # the same answer again, and a stray other one
        again = await rig.funding.file_link(session, recorded.payment_id, first.link)
        other = await rig.funding.file_link(session, recorded.payment_id, PaymentLink("https://elsewhere"))
    assert again is not None and other is not None
    assert first.payment.reference == again.payment.reference == recorded.request.reference
    async with rig.db.transaction() as session:
        rows = list((await session.scalars(select(Payment).where(Payment.user_id == user.id))).all())
    assert [(row.state, row.payment_url) for row in rows] == [(PaymentState.PENDING, first.link.url)]
    sandbox = sandbox_of(rig.paystack_runner)
    sandbox.pay(sandbox.payments[recorded.request.reference])
    await rig.funding.poll()
    await rig.funding.poll()
    async with rig.db.transaction() as session:
        credited = await session.get(Payment, rows[0].id)
        assert credited is not None and credited.state == PaymentState.CREDITED
    await assert_ledger_balanced(rig.db)


# ---- a channel hears both turns --------------------------------------------------------------


async def test_telegram_sends_what_the_answer_turn_says_and_deletes_the_secret(pg_url: str) -> None:
    from tests.integration.telegram_harness import person, telegram_app
    from tests.integration.test_telegram import _set_up_in_nigeria

    async with telegram_app(pg_url) as h:
        user = person()
        await _set_up_in_nigeria(h, user)
        update = h.text_update(user, f"my BVN is {bvn()}")
        assert await h.post(update) == 200
        await h.settle()
        assert "✅ Verified! You're now at level 1" in h.texts_to(user["id"])[-1]
        deletions = [c for c in h.state.calls if c.method == "deleteMessage"]
        assert [int(c.params["message_id"]) for c in deletions] == [update["message"]["message_id"]]
        await h.say(user, "fund 5000")
        assert "To add ₦5,000.00 to your wallet, pay here" in h.texts_to(user["id"])[-1]
