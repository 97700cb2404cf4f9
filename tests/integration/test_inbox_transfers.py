"""Transfers held for review, in the support inbox over HTTP on real PostgreSQL: numbers masked, release
and reject move money once by the signed-in staff member, a second decision is harmless, CSRF and
sessions are checked, payouts long pending at their gateway are listed read-only, other inboxes hear."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import unquote_plus

from aiohttp.test_utils import TestClient
from sqlalchemy import select, update

from domain import audit, kyc, pins, risk, users
from domain.database import Database
from domain.models import MoneyTransfer, MoneyTransferEvent, Staff, User, utcnow
from domain.money import Money
from domain.ports import (
    AccountLookup,
    LookupStatus,
    PayoutCheck,
    PayoutDestination,
    PayoutKind,
    PayoutRequest,
    PayoutStatus,
    WebhookNotice,
)
from domain.transfers import (
    Recipient,
    SendRequest,
    TransferService,
    TransferState,
    by_reference,
    latest_conversation,
    new_reference,
    record_state,
)
from tests.integration.inbox_harness import Agent, csrf_of, login, new_staff
from tests.integration.ledger_check import assert_ledger_balanced
from tests.integration.whatsapp_harness import Harness, nigerian_number, text_update, whatsapp_app

PEPPER = b"inbox-review-pepper"
PIN = "2580"
ACCOUNT = "0123456789"
#: Every transfer trips the sender-per-hour rule, so every one is held for review.
STRICT = risk.RiskRules(
    sender_per_hour=0,
    sender_per_day=1000,
    recipient_per_hour=1000,
    recipient_per_day=1000,
    recipient_amount_per_day={},
    cooling_off=timedelta(0),
    cooling_off_amount={},
)
LOOSE = risk.RiskRules(1000, 1000, 1000, 1000, {}, timedelta(0), {})


class Undecided:
    """A payout gateway that never gives a final answer (the gateway's view is tested elsewhere)."""

    name = "paystack"

    def supports(self, destination: PayoutDestination) -> bool:
        return True

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        return AccountLookup(LookupStatus.FOUND, "ADA OBI")

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        return await self.query_payout(request.reference)

    async def query_payout(self, reference: str) -> PayoutCheck:
        return PayoutCheck(PayoutStatus.PENDING, reference=reference, detail="processing")

    def parse_payout_webhook(self, body: bytes, headers: object) -> WebhookNotice | None:
        return None


def service(rules: risk.RiskRules = STRICT) -> TransferService:
    return TransferService(PEPPER, gateways={"paystack": Undecided()}, rules=rules)


@dataclass(frozen=True)
class Customer:
    wa_id: str
    user_id: int
    conversation_id: int


async def staff_id(db: Database, email: str) -> int:
    async with db.transaction() as session:
        found = await session.scalar(select(Staff.id).where(Staff.email == email))
    assert found is not None
    return int(found)


async def customer(h: Harness, name: str, *, verified_by: int | None = None) -> Customer:
    """A WhatsApp user with the demo's ₦10,000; ``verified_by`` (a staff id) also gives a PIN and tier 1."""
    wa_id = nigerian_number()
    assert await h.post(text_update(wa_id, "balance", name=name)) == 200
    await h.settle()
    async with h.app.db.transaction() as session:
        user = await session.scalar(select(User).where(User.phone == f"+{wa_id}"))
        assert user is not None
        conversation_id = await latest_conversation(session, user.id)
        assert conversation_id is not None
        if verified_by is not None:
            await pins.set_pin(session, user.id, PIN, PEPPER)
            await kyc.set_tier(session, user.id, 1, staff_id=verified_by, reason="checked BVN by phone")
    return Customer(wa_id, user.id, conversation_id)


async def send(
    db: Database, sender: Customer, naira: int, to: Customer | None = None, rules: risk.RiskRules = STRICT
) -> MoneyTransfer:
    """``sender`` sends ``naira`` to ``to``'s wallet (or to a GTBank account); held under the strict rules."""
    recipient = (
        Recipient(phone=f"+{to.wa_id}")
        if to is not None
        else Recipient(
            destination=PayoutDestination(PayoutKind.BANK, "NG", "NGN", ACCOUNT, "058"),
            account_name="ADA OBI",
        )
    )
    request = SendRequest(
        new_reference(), sender.user_id, "NG", Money.of(naira, "NGN"), PIN, recipient, sender.conversation_id
    )
    async with db.transaction() as session:
        sent = await service(rules).send(session, request)
    assert sent.transfer is not None, sent.refusal
    if rules is STRICT:
        assert sent.transfer.state == TransferState.HELD
        assert sent.transfer.review_reason == "velocity: sender per hour"
    return sent.transfer


async def available(db: Database, who: Customer) -> int:
    async with db.transaction() as session:
        return await users.available_balance(session, who.user_id, "NGN")


async def state_of(db: Database, transfer_id: int) -> MoneyTransfer:
    async with db.transaction() as session:
        found = await session.get(MoneyTransfer, transfer_id)
    assert found is not None
    return found


async def books_balance(db: Database) -> None:
    await assert_ledger_balanced(db)
    async with db.transaction() as session:
        assert (await audit.verify(session)).ok


async def staff_browser(client: TestClient, db: Database, role: str, name: str) -> tuple[Agent, int]:
    """A staff member of ``role`` signed in on ``client`` (after signing anyone else out)."""
    client.session.cookie_jar.clear()
    email = await new_staff(db, role, name=name)
    assert await login(client, email) == 303
    return Agent(client), await staff_id(db, email)


async def test_an_agent_sees_masked_held_transfers_and_releases_each_once(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        _, admin_id = await staff_browser(h.client, db, "admin", "Ada Admin")
        alice = await customer(h, "Alice Okafor", verified_by=admin_id)
        bola = await customer(h, "Bola Ade")
        to_bola = await send(db, alice, 2_500, to=bola)
        to_bank = await send(db, alice, 1_000)
        assert await available(db, alice) == 6_500_00 and await available(db, bola) == 10_000_00

        agent, agent_id = await staff_browser(h.client, db, "agent", "Kemi Adeyemi")
        listing = await agent.page("/inbox/transfers")
        for transfer in (to_bola, to_bank):
            assert f'href="/inbox/transfers/{transfer.id}"' in listing
        assert f'href="/inbox/c/{alice.conversation_id}"' in listing and "Alice Okafor" in listing
        assert "₦2,500.00" in listing and "₦1,000.00" in listing
        assert "velocity: sender per hour" in listing
        assert "GTBank (058)" in listing and "ADA OBI" in listing and ACCOUNT[-4:] in listing
        for number in (alice.wa_id, bola.wa_id, ACCOUNT):
            assert number not in listing and number[-4:] in listing
        badge = int(listing.split('id="held-count" data-count="')[1].split('"')[0])
        assert badge >= 2
        assert 'href="/inbox/transfers"' in await agent.page("/inbox/")

        page = f"/inbox/transfers/{to_bola.id}"
        view = await agent.page(page)
        assert to_bola.reference in view
        assert f'href="/inbox/transfers/{to_bank.id}"' in view  # among the sender's recent transfers
        assert "held" in view and 'name="release"' in view and 'name="reject"' in view
        assert alice.wa_id not in view and bola.wa_id not in view and ACCOUNT not in view

        token = csrf_of(view)

        async def release() -> str:
            response = await h.client.post(f"{page}/release", data={"csrf": token}, allow_redirects=False)
            assert response.status == 303
            return unquote_plus(response.headers["Location"])

        outcomes = await asyncio.gather(*(release() for _ in range(4)))
        assert sum("notice=Released" in o for o in outcomes) == 1, outcomes
        assert sum("Already reviewed by you" in o for o in outcomes) == 3, outcomes
        assert await available(db, bola) == 12_500_00 and await available(db, alice) == 6_500_00
        released = await state_of(db, to_bola.id)
        assert released.state == TransferState.COMPLETED and released.reviewed_by == agent_id
        async with db.transaction() as session:
            lines = await audit.entries(session, subject=f"transfer:{to_bola.reference}")
        assert (lines[0].action, lines[0].actor) == ("transfer.released", f"staff:{agent_id}")
        assert [line.action for line in lines].count("transfer.released") == 1
        assert 'name="release"' not in await agent.page(page)

        # Someone else, later: told who decided, nothing moves.
        other, _ = await staff_browser(h.client, db, "admin", "Ngozi Admin")
        again = unquote_plus(await other.post(f"{page}/release", page=page))
        assert "Already reviewed by Kemi Adeyemi" in again and "completed" in again and "error" not in again
        assert await available(db, bola) == 12_500_00

        done = unquote_plus(await other.post(f"/inbox/transfers/{to_bank.id}/release", page=page))
        assert "Released" in done and "gateway" in done
        assert (await state_of(db, to_bank.id)).state != TransferState.HELD
        await books_balance(db)


async def test_a_rejected_transfer_refunds_the_sender_and_records_the_reason(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        _, admin_id = await staff_browser(h.client, db, "admin", "Ada Admin")
        alice = await customer(h, "Alice Okafor", verified_by=admin_id)
        bola = await customer(h, "Bola Ade")
        held = await send(db, alice, 3_000, to=bola)
        assert await available(db, alice) == 7_000_00

        agent, agent_id = await staff_browser(h.client, db, "agent", "Kemi Adeyemi")
        page = f"/inbox/transfers/{held.id}"
        refused = unquote_plus(await agent.post(f"{page}/reject", {"reason": "  "}, page=page))
        assert "error=Say why" in refused
        assert (await state_of(db, held.id)).state == TransferState.HELD

        reason = "sender did not answer on 08031234567"
        done = unquote_plus(await agent.post(f"{page}/reject", {"reason": reason}, page=page))
        assert "notice=Rejected" in done and "refunded" in done
        assert await available(db, alice) == 10_000_00 and await available(db, bola) == 10_000_00
        rejected = await state_of(db, held.id)
        assert rejected.state == TransferState.REJECTED and rejected.reviewed_by == agent_id
        async with db.transaction() as session:
            lines = await audit.entries(session, subject=f"transfer:{held.reference}")
        assert lines[0].action == "transfer.rejected" and lines[0].actor == f"staff:{agent_id}"
        assert reason in lines[0].details

        view = await agent.page(page)
        assert "rejected" in view and "08031234567" not in view and "4567" in view  # the reason, masked
        for second in ("reject", "release"):
            again = unquote_plus(await agent.post(f"{page}/{second}", {"reason": "again"}, page=page))
            assert "Already reviewed by you" in again and "rejected" in again
        assert await available(db, alice) == 10_000_00
        await books_balance(db)


async def test_review_needs_a_session_and_the_csrf_token(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        _, admin_id = await staff_browser(h.client, db, "admin", "Ada Admin")
        alice = await customer(h, "Alice Okafor", verified_by=admin_id)
        held = await send(db, alice, 500, to=await customer(h, "Bola Ade"))
        c = h.client

        c.session.cookie_jar.clear()
        for path in ("/inbox/transfers", f"/inbox/transfers/{held.id}"):
            response = await c.get(path, allow_redirects=False)
            assert response.status == 302 and response.headers["Location"] == "/inbox/login", path
        assert (await c.get("/inbox/transfers/list", headers={"X-Partial": "1"})).status == 401
        for action in ("release", "reject"):
            response = await c.post(
                f"/inbox/transfers/{held.id}/{action}",
                data={"csrf": "x", "reason": "x"},
                allow_redirects=False,
            )
            assert response.status == 401

        await staff_browser(c, db, "agent", "Kemi Adeyemi")
        for data in ({}, {"csrf": "forged"}):
            for action in ("release", "reject"):
                response = await c.post(
                    f"/inbox/transfers/{held.id}/{action}",
                    data={**data, "reason": "x"},
                    allow_redirects=False,
                )
                assert response.status == 403, (action, data)
        assert (await state_of(db, held.id)).state == TransferState.HELD
        assert await available(db, alice) == 9_500_00


async def _pending_payout(
    db: Database, sender: Customer, naira: int, pending_for: timedelta
) -> MoneyTransfer:
    """A payout the gateway has had for ``pending_for`` without a final answer (and no check due soon)."""
    transfer = await send(db, sender, naira, rules=LOOSE)
    async with db.transaction() as session:
        locked = await by_reference(session, transfer.reference, lock=True)
        assert locked is not None and locked.state == TransferState.QUEUED
        await record_state(session, locked, TransferState.PENDING, f"processing at the bank for {ACCOUNT}")
        locked.next_check_at = utcnow() + timedelta(days=1)
        await session.flush()
        await session.execute(
            update(MoneyTransferEvent)
            .where(MoneyTransferEvent.money_transfer_id == locked.id, MoneyTransferEvent.state == "pending")
            .values(created_at=utcnow() - pending_for)
        )
    return transfer


async def test_payouts_long_pending_at_the_gateway_are_listed_read_only(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        _, admin_id = await staff_browser(h.client, db, "admin", "Ada Admin")
        alice = await customer(h, "Alice Okafor", verified_by=admin_id)
        stale = await _pending_payout(db, alice, 1_200, timedelta(hours=2))
        fresh = await _pending_payout(db, alice, 1_300, timedelta(minutes=10))

        agent, _ = await staff_browser(h.client, db, "agent", "Kemi Adeyemi")
        listing = await agent.page("/inbox/transfers")
        assert f'href="/inbox/transfers/{stale.id}"' in listing
        assert f'href="/inbox/transfers/{fresh.id}"' not in listing
        assert "₦1,200.00" in listing and "paystack" in listing and ACCOUNT not in listing

        page = f"/inbox/transfers/{stale.id}"
        view = await agent.page(page)
        assert "pending" in view and 'name="release"' not in view and 'name="reject"' not in view
        assert ACCOUNT not in view and ACCOUNT[-4:] in view
        refused = unquote_plus(await agent.post(f"{page}/release", page=page))
        assert "error=" in refused and "not waiting for review" in refused
        assert (await state_of(db, stale.id)).state == TransferState.PENDING


@asynccontextmanager
async def _events(client: TestClient) -> AsyncIterator[asyncio.Queue[dict[str, object]]]:
    """The inbox's SSE stream as seen by the signed-in browser, parsed into a queue."""
    queue: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    response = await client.get("/inbox/events")
    assert response.status == 200

    async def read() -> None:
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: "):
                queue.put_nowait(json.loads(line.removeprefix("data: ")))

    reader = asyncio.create_task(read())
    try:
        yield queue
    finally:
        reader.cancel()
        response.close()


async def _next_of(
    queue: asyncio.Queue[dict[str, object]], kind: str, timeout: float = 10.0
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(queue.get(), max(deadline - time.monotonic(), 0.01))
        if event["kind"] == kind:
            return event


async def test_a_decision_reaches_every_open_inbox_live(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        _, admin_id = await staff_browser(h.client, db, "admin", "Ada Admin")
        alice = await customer(h, "Alice Okafor", verified_by=admin_id)
        held = await send(db, alice, 700, to=await customer(h, "Bola Ade"))
        agent, _ = await staff_browser(h.client, db, "agent", "Kemi Adeyemi")
        live = h.app.live
        assert live is not None
        async with _events(h.client) as events:
            # The stream subscribes a moment after it opens: probe until it hears.
            probe = f"probe.{held.id}"
            for _ in range(50):
                await live.publish(0, probe)
                try:
                    await _next_of(events, probe, timeout=0.2)
                    break
                except TimeoutError:
                    continue
            page = f"/inbox/transfers/{held.id}"
            await agent.post(f"{page}/release", page=page)
            event = await _next_of(events, "transfer.released")
        assert event["conversation_id"] == alice.conversation_id
        partial = await h.client.get("/inbox/transfers/list", headers={"X-Partial": "1"})
        assert partial.status == 200 and f'href="/inbox/transfers/{held.id}"' not in await partial.text()
