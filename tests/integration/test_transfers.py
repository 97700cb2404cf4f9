"""Money out through the domain on real PostgreSQL: PINs, tier limits, P2P, claims, payouts, review, races."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from domain import audit, ledger, pins, risk, users
from domain.database import Database
from domain.models import (
    Conversation,
    Credential,
    KycProfile,
    MoneyTransfer,
    Notification,
    PaymentEvent,
    Staff,
    Transfer,
    User,
    utcnow,
)
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
from domain.transfer_batcher import TransferBatcher
from domain.transfers import (
    ClaimProblem,
    ClaimRefused,
    Recipient,
    Refusal,
    SendRequest,
    TransferService,
    TransferState,
    ledger_id,
    new_reference,
)
from tests.integration.ledger_check import assert_ledger_balanced

PEPPER = b"test-pepper"
PIN = "2580"
#: Rules loose enough that only the test's own subject trips them.
LOOSE = risk.RiskRules(
    sender_per_hour=10_000,
    sender_per_day=10_000,
    recipient_per_hour=10_000,
    recipient_per_day=10_000,
    recipient_amount_per_day={},
    cooling_off=timedelta(0),
    cooling_off_amount={},
)


@dataclass
class ScriptedGateway:
    """A payout gateway that answers from a script per account number (the domain's view of one).

    The HTTP adapters are tested against their sandboxes elsewhere; here only the service's
    handling of each answer matters.
    """

    name: str = "paystack"
    answers: dict[str, list[PayoutStatus]] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)

    def supports(self, destination: PayoutDestination) -> bool:
        return True

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        return AccountLookup(LookupStatus.FOUND, "ADA OBI")

    def _next(self, reference: str) -> PayoutCheck:
        script = self.answers.setdefault(reference, [PayoutStatus.SUCCEEDED])
        status = script.pop(0) if len(script) > 1 else script[0]
        return PayoutCheck(status, reference=reference)

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        self.sent.append(request.reference)
        return self._next(request.reference)

    async def query_payout(self, reference: str) -> PayoutCheck:
        return self._next(reference)

    def parse_payout_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        text = body.decode()
        if not text.startswith("transfer:"):
            return None
        reference = text.removeprefix("transfer:")
        if headers.get("sig") != "good":  # as the adapters do: a forged body blocks no real one
            return WebhookNotice(f"forged:{uuid.uuid4().hex}", reference, False)
        return WebhookNotice(f"t:{reference}", reference, True)


@dataclass(frozen=True)
class Person:
    user_id: int
    phone: str
    conversation_id: int


def _phone() -> str:
    return "+23480" + str(uuid.uuid4().int)[:8]


async def person(
    db: Database, funded: int = 0, *, tier: int = 1, pin: str | None = PIN, age_days: int = 30
) -> Person:
    """A Nigerian user with a wallet, a KYC tier, a PIN, and an account old enough not to cool off."""
    phone = _phone()
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", uuid.uuid4().hex, phone=phone)
        known.user.country = "NG"
        long_ago = utcnow() - timedelta(days=age_days)
        known.user.created_at = long_ago
        known.identity.created_at = long_ago
        conversation = Conversation(user_id=known.user.id, channel="test", chat_id=uuid.uuid4().hex)
        session.add(conversation)
        await session.flush()
        if tier:
            session.add(KycProfile(user_id=known.user.id, tier=tier))
        if pin:
            await pins.set_pin(session, known.user.id, pin, PEPPER)
        if funded:
            wallet = await ledger.open_wallet(session, known.user.id, "NGN")
            promo = await ledger.open_system_account(session, "promo", "NGN")
            await ledger.create_transfer(
                session, ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, funded, "NGN", "promo")
            )
        return Person(known.user.id, phone, conversation.id)


async def available(db: Database, who: Person) -> int:
    async with db.transaction() as session:
        return await users.available_balance(session, who.user_id, "NGN")


def naira(amount: int) -> Money:
    return Money.of(amount, "NGN")


async def send(
    db: Database,
    service: TransferService,
    sender: Person,
    amount: Money,
    *,
    to: Person | str | None = None,
    account: str | None = None,
    pin: str = PIN,
    reference: str | None = None,
):
    """Send money as the conversation would, in one transaction."""
    if account is not None:
        recipient = Recipient(
            destination=PayoutDestination(PayoutKind.BANK, "NG", "NGN", account, "058"),
            account_name="ADA OBI",
        )
    else:
        recipient = Recipient(phone=to.phone if isinstance(to, Person) else to)
    request = SendRequest(
        reference=reference or new_reference(),
        sender_user_id=sender.user_id,
        country="NG",
        amount=amount,
        pin=pin,
        recipient=recipient,
        conversation_id=sender.conversation_id,
    )
    async with db.transaction() as session:
        return await service.send(session, request)


@pytest.fixture
def gateway() -> ScriptedGateway:
    return ScriptedGateway()


@pytest.fixture
def service(gateway: ScriptedGateway) -> TransferService:
    return TransferService(PEPPER, gateways={"paystack": gateway}, rules=LOOSE)


# ---- PIN ------------------------------------------------------------------------------------------


async def test_three_wrong_pins_lock_money_out_for_thirty_minutes(
    db: Database, service: TransferService
) -> None:
    alice, bola = await person(db, 50_000_00), await person(db)
    first = await send(db, service, alice, naira(1000), to=bola, pin="1357")
    assert first.refusal is Refusal.PIN_WRONG and first.pin and first.pin.attempts_left == 2
    assert (await send(db, service, alice, naira(1000), to=bola, pin="1357")).refusal is Refusal.PIN_WRONG
    third = await send(db, service, alice, naira(1000), to=bola, pin="1357")
    assert third.refusal is Refusal.PIN_LOCKED and third.pin and third.pin.locked_until
    assert third.pin.locked_until - utcnow() > timedelta(minutes=29)
    # Locked: even the right PIN moves nothing, and nothing was counted against the limits.
    assert (await send(db, service, alice, naira(1000), to=bola)).refusal is Refusal.PIN_LOCKED
    assert await available(db, alice) == 50_000_00
    async with db.transaction() as session:
        assert await risk.sent_today(session, alice.user_id, utcnow()) == 0
        await session.execute(
            update(Credential)
            .where(Credential.user_id == alice.user_id)
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert (await send(db, service, alice, naira(1000), to=bola)).ok
    assert await available(db, alice) == 49_000_00


async def test_a_right_pin_resets_the_count_of_wrong_ones(db: Database, service: TransferService) -> None:
    alice, bola = await person(db, 10_000_00), await person(db)
    for _ in range(2):
        await send(db, service, alice, naira(100), to=bola, pin="9753")
    assert (await send(db, service, alice, naira(100), to=bola)).ok
    for _ in range(2):
        assert (await send(db, service, alice, naira(100), to=bola, pin="9753")).refusal is Refusal.PIN_WRONG


async def test_no_pin_no_money_out_and_the_pin_is_never_stored_in_clear(
    db: Database, service: TransferService
) -> None:
    alice, bola = await person(db, 10_000_00, pin=None), await person(db)
    assert (await send(db, service, alice, naira(100), to=bola)).refusal is Refusal.PIN_NOT_SET
    async with db.transaction() as session:
        await pins.set_pin(session, alice.user_id, "4826", PEPPER)
        stored = await session.scalar(select(Credential.pin_hash).where(Credential.user_id == alice.user_id))
    assert stored and "4826" not in stored and stored.startswith("$argon2id$")
    assert (await send(db, service, alice, naira(100), to=bola, pin="4826")).ok


def test_weak_and_malformed_pins_are_refused() -> None:
    assert pins.pin_problem("1234") is pins.PinProblem.WEAK
    assert pins.pin_problem("0000") is pins.PinProblem.WEAK
    assert pins.pin_problem("987654") is pins.PinProblem.WEAK
    assert pins.pin_problem("12a4") is pins.PinProblem.FORMAT
    assert pins.pin_problem("123") is pins.PinProblem.FORMAT
    assert pins.pin_problem("١٢٣٤") is pins.PinProblem.FORMAT
    assert pins.pin_problem("2580") is None


async def test_a_reset_unlocks_and_asks_for_a_new_pin(db: Database, service: TransferService) -> None:
    alice, bola = await person(db, 10_000_00), await person(db)
    for _ in range(3):
        await send(db, service, alice, naira(100), to=bola, pin="1357")
    async with db.transaction() as session:
        await pins.reset(session, alice.user_id, verified_by="bvn")
    assert (await send(db, service, alice, naira(100), to=bola)).refusal is Refusal.PIN_NOT_SET
    async with db.transaction() as session:
        await pins.set_pin(session, alice.user_id, "3691", PEPPER)
    assert (await send(db, service, alice, naira(100), to=bola, pin="3691")).ok


# ---- tier limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "daily"), [(1, 50_000), (2, 200_000), (3, 5_000_000)])
async def test_the_daily_limit_of_each_tier_holds_at_its_boundary(
    db: Database, service: TransferService, tier: int, daily: int
) -> None:
    alice, bola = await person(db, (daily + 1000) * 100, tier=tier), await person(db, tier=3)
    assert (await send(db, service, alice, naira(daily - 1000), to=bola)).ok
    over = await send(db, service, alice, naira(1001), to=bola)
    assert over.refusal is Refusal.DAILY_LIMIT and over.room == naira(1000)
    assert (await send(db, service, alice, naira(1000), to=bola)).ok
    assert (await send(db, service, alice, Money(1, "NGN"), to=bola)).refusal is Refusal.DAILY_LIMIT
    assert await available(db, alice) == 1000 * 100


async def test_an_unverified_user_cannot_send_money(db: Database, service: TransferService) -> None:
    alice, bola = await person(db, 10_000_00, tier=0), await person(db)
    assert (await send(db, service, alice, naira(100), to=bola)).refusal is Refusal.UNVERIFIED


async def test_a_recipient_cannot_go_above_the_balance_cap_of_their_tier(
    db: Database, service: TransferService
) -> None:
    alice, bola = await person(db, 400_000_00, tier=3), await person(db, 290_000_00, tier=1)
    refused = await send(db, service, alice, naira(10_001), to=bola)
    assert refused.refusal is Refusal.RECIPIENT_LIMIT and refused.room == naira(10_000)
    assert (await send(db, service, alice, naira(10_000), to=bola)).ok
    assert await available(db, bola) == 300_000_00


# ---- P2P and claims -------------------------------------------------------------------------------


async def test_p2p_moves_money_at_once_and_tells_the_recipient(
    db: Database, service: TransferService
) -> None:
    alice, bola = await person(db, 5_000_00), await person(db)
    reference = new_reference()
    sent = await send(db, service, alice, naira(2000), to=bola, reference=reference)
    assert sent.ok and sent.transfer and sent.transfer.state == TransferState.COMPLETED
    again = await send(db, service, alice, naira(2000), to=bola, reference=reference)
    assert again.ok and not again.created
    assert await available(db, alice) == 3_000_00 and await available(db, bola) == 2_000_00
    async with db.transaction() as session:
        kinds = (
            await session.scalars(select(Notification.kind).where(Notification.user_id == bola.user_id))
        ).all()
        assert kinds == ["transfer_received"]
        lines = await audit.entries(session, subject=f"transfer:{reference}")
        assert [line.action for line in lines] == ["transfer.p2p"]
    await assert_ledger_balanced(db)


async def test_refusals_move_no_money(db: Database, service: TransferService) -> None:
    alice = await person(db, 1_000_00)
    assert (await send(db, service, alice, naira(1001), to=_phone())).refusal is Refusal.INSUFFICIENT_FUNDS
    assert (await send(db, service, alice, naira(100), to=alice)).refusal is Refusal.SELF
    assert (await send(db, service, alice, Money(0, "NGN"), to=_phone())).refusal is Refusal.BAD_AMOUNT
    assert (await send(db, service, alice, Money.of(5, "GHS"), to=_phone())).refusal is Refusal.BAD_AMOUNT
    assert await available(db, alice) == 1_000_00
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count(MoneyTransfer.id)).where(MoneyTransfer.sender_user_id == alice.user_id)
        )
        assert count == 0
        assert await risk.sent_today(session, alice.user_id, utcnow()) == 0


async def test_a_transfer_to_a_new_number_is_claimed_once_by_its_owner(
    db: Database, service: TransferService
) -> None:
    alice, newcomer_phone = await person(db, 5_000_00), _phone()
    sent = await send(db, service, alice, naira(1500), to=newcomer_phone)
    assert sent.transfer and sent.transfer.state == TransferState.CLAIMABLE and sent.transfer.claim_token
    token = sent.transfer.claim_token
    assert await available(db, alice) == 3_500_00
    stranger = await person(db)
    async with db.transaction() as session:
        with pytest.raises(ClaimRefused) as refused:
            await service.claim(session, token, stranger.user_id, stranger.phone)
        assert refused.value.problem is ClaimProblem.NOT_YOURS
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", uuid.uuid4().hex, phone=newcomer_phone)
        assert [t.claim_token for t in await service.claimable_for(session, newcomer_phone)] == [token]
        await service.claim(session, token, known.user.id, newcomer_phone)
    async with db.transaction() as session:
        again = await service.claim(session, token, known.user.id, newcomer_phone)
        assert again.state == TransferState.CLAIMED
        assert await users.available_balance(session, known.user.id, "NGN") == 1_500_00
        assert await service.expire(session, again.id, utcnow() + timedelta(days=30)) is False
    await assert_ledger_balanced(db)


async def test_an_unclaimed_transfer_expires_and_refunds_the_sender_once(
    db: Database, service: TransferService
) -> None:
    alice = await person(db, 5_000_00)
    sent = await send(db, service, alice, naira(1500), to=_phone())
    assert sent.transfer is not None
    later = utcnow() + timedelta(hours=73)
    assert await service.expire_due(db, later) >= 1
    assert await service.expire_due(db, later) == 0
    assert await available(db, alice) == 5_000_00
    async with db.transaction() as session:
        row = await session.get(MoneyTransfer, sent.transfer.id)
        assert row and row.state == TransferState.EXPIRED
        owner = await users.find_or_create_user(
            session, "test", uuid.uuid4().hex, phone=sent.transfer.recipient_phone
        )
        with pytest.raises(ClaimRefused) as refused:
            await service.claim(
                session, sent.transfer.claim_token or "", owner.user.id, sent.transfer.recipient_phone
            )
        assert refused.value.problem is ClaimProblem.EXPIRED
        kinds = (
            await session.scalars(select(Notification.kind).where(Notification.money_transfer_id == row.id))
        ).all()
        assert kinds == ["transfer_expired"]
    await assert_ledger_balanced(db)


# ---- payouts --------------------------------------------------------------------------------------


async def test_a_payout_success_posts_the_hold(db: Database, service: TransferService) -> None:
    alice = await person(db, 20_000_00)
    sent = await send(db, service, alice, naira(10_000), account="0123456789")
    assert sent.transfer and sent.transfer.state == TransferState.QUEUED
    assert await available(db, alice) == 10_000_00
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.SUCCEEDED
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.SUCCEEDED
    assert await available(db, alice) == 10_000_00
    async with db.transaction() as session:
        moved = await session.get(Transfer, ledger_id(sent.transfer.reference))
        assert moved and moved.state == "posted"
    await assert_ledger_balanced(db)


async def test_a_failed_payout_refunds_once(
    db: Database, service: TransferService, gateway: ScriptedGateway
) -> None:
    alice = await person(db, 20_000_00)
    reference = new_reference()
    gateway.answers[reference] = [PayoutStatus.PENDING, PayoutStatus.PENDING, PayoutStatus.FAILED]
    sent = await send(db, service, alice, naira(10_000), account="0123451111", reference=reference)
    assert sent.transfer is not None
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.PENDING
    assert await available(db, alice) == 10_000_00  # unknown outcome: still held, never refunded
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.PENDING
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.FAILED
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.FAILED
    async with db.transaction() as session:
        assert await service.apply(session, sent.transfer.id, PayoutCheck(PayoutStatus.FAILED)) == "failed"
    assert await available(db, alice) == 20_000_00
    assert gateway.sent == [reference]
    await assert_ledger_balanced(db)


async def test_a_reversed_payout_refunds_once_even_after_success(
    db: Database, service: TransferService, gateway: ScriptedGateway
) -> None:
    alice = await person(db, 20_000_00)
    sent = await send(db, service, alice, naira(10_000), account="0123453333")
    assert sent.transfer is not None
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.SUCCEEDED
    assert await available(db, alice) == 10_000_00
    for _ in range(3):
        async with db.transaction() as session:
            await service.apply(session, sent.transfer.id, PayoutCheck(PayoutStatus.REVERSED))
    assert await available(db, alice) == 20_000_00
    async with db.transaction() as session:
        kinds = (
            await session.scalars(
                select(Notification.kind).where(Notification.money_transfer_id == sent.transfer.id)
            )
        ).all()
        assert sorted(kinds) == ["payout_reversed", "payout_succeeded"]
    await assert_ledger_balanced(db)


async def test_a_payout_the_gateway_never_got_is_sent_again_under_the_same_reference(
    db: Database, service: TransferService, gateway: ScriptedGateway
) -> None:
    alice = await person(db, 20_000_00)
    reference = new_reference()
    gateway.answers[reference] = [PayoutStatus.PENDING, PayoutStatus.NOT_FOUND, PayoutStatus.SUCCEEDED]
    sent = await send(db, service, alice, naira(5_000), account="0123450001", reference=reference)
    assert sent.transfer is not None
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.PENDING
    assert await service.advance_payout(db, sent.transfer.id) == TransferState.SUCCEEDED
    assert gateway.sent == [reference, reference]


async def test_payout_webhooks_forged_or_repeated_move_no_money(
    db: Database, service: TransferService, gateway: ScriptedGateway
) -> None:
    alice = await person(db, 20_000_00)
    reference = new_reference()
    gateway.answers[reference] = [PayoutStatus.PENDING, PayoutStatus.FAILED]
    sent = await send(db, service, alice, naira(10_000), account="0123451111", reference=reference)
    assert sent.transfer is not None
    await service.advance_payout(db, sent.transfer.id)
    body = f"transfer:{reference}".encode()
    assert await service.handle_webhook(db, "paystack", body, {"sig": "bad"}) == "forged"
    assert await available(db, alice) == 10_000_00
    outcomes = [await service.handle_webhook(db, "paystack", body, {"sig": "good"}) for _ in range(5)]
    assert outcomes[0] == TransferState.FAILED and set(outcomes[1:]) == {"duplicate"}
    assert await service.handle_webhook(db, "paystack", b"charge.success", {"sig": "good"}) is None
    assert await available(db, alice) == 20_000_00
    async with db.transaction() as session:
        events = (
            await session.scalars(select(PaymentEvent.outcome).where(PaymentEvent.reference == reference))
        ).all()
        assert [str(e) for e in events] == ["failed"]  # the forged one was not stored
    await assert_ledger_balanced(db)


# ---- review ---------------------------------------------------------------------------------------


async def test_velocity_holds_for_review_and_staff_release_or_reject(
    db: Database, gateway: ScriptedGateway
) -> None:
    rules = risk.RiskRules(
        sender_per_hour=2,
        sender_per_day=100,
        recipient_per_hour=100,
        recipient_per_day=100,
        recipient_amount_per_day={},
        cooling_off=timedelta(0),
        cooling_off_amount={},
    )
    service = TransferService(PEPPER, gateways={"paystack": gateway}, rules=rules)
    alice, bola = await person(db, 10_000_00), await person(db)
    for _ in range(2):
        first = await send(db, service, alice, naira(100), to=bola)
        assert first.transfer and first.transfer.state == TransferState.COMPLETED
    third = await send(db, service, alice, naira(500), to=bola)
    fourth = await send(db, service, alice, naira(700), to=bola)
    assert third.transfer and third.transfer.state == TransferState.HELD
    assert third.transfer.review_reason == "velocity: sender per hour"
    assert fourth.transfer and fourth.transfer.state == TransferState.HELD
    assert await available(db, alice) == 10_000_00 - 1_400_00 and await available(db, bola) == 200_00
    async with db.transaction() as session:
        staff = Staff(email=f"{uuid.uuid4().hex}@nexustop.test", name="Rev", role="agent", password_hash="x")
        session.add(staff)
        await session.flush()
        assert {t.id for t in await service.held(session)} >= {third.transfer.id, fourth.transfer.id}
        assert await service.release(session, third.transfer.id, staff.id) is not None
        assert await service.reject(session, fourth.transfer.id, staff.id, reason="odd") is not None
        assert await service.release(session, third.transfer.id, staff.id) is None
    assert await available(db, bola) == 700_00 and await available(db, alice) == 10_000_00 - 700_00
    async with db.transaction() as session:
        actions = [
            line.action
            for line in await audit.entries(session, subject=f"transfer:{fourth.transfer.reference}")
        ]
        assert actions == ["transfer.rejected", "transfer.p2p"]
    await assert_ledger_balanced(db)


async def test_a_new_account_cools_off_above_a_small_amount(db: Database, gateway: ScriptedGateway) -> None:
    service = TransferService(PEPPER, gateways={"paystack": gateway})
    fresh, bola = await person(db, 100_000_00, age_days=0), await person(db)
    small = await send(db, service, fresh, naira(5_000), to=bola)
    large = await send(db, service, fresh, naira(25_000), to=bola)
    assert small.transfer and small.transfer.state == TransferState.COMPLETED
    assert large.transfer and large.transfer.state == TransferState.HELD
    assert large.transfer.review_reason == "cooling-off: new identity"


# ---- concurrency ----------------------------------------------------------------------------------


async def test_a_hundred_concurrent_transfers_never_overdraw_the_wallet(
    db: Database, service: TransferService
) -> None:
    alice = await person(db, 30 * 1000_00, tier=3)
    recipients = [await person(db) for _ in range(5)]
    results = await asyncio.gather(
        *(send(db, service, alice, naira(1000), to=recipients[n % 5]) for n in range(100))
    )
    made = [r for r in results if r.ok]
    assert len(made) == 30
    assert {r.refusal for r in results if not r.ok} == {Refusal.INSUFFICIENT_FUNDS}
    assert await available(db, alice) == 0
    assert sum([await available(db, r) for r in recipients]) == 30 * 1000_00
    async with db.transaction() as session:
        assert await risk.sent_today(session, alice.user_id, utcnow()) == 30 * 1000_00
        assert (await audit.verify(session)).ok
    await assert_ledger_balanced(db)


async def test_a_user_created_by_phone_later_finds_what_was_sent(
    db: Database, service: TransferService
) -> None:
    alice, phone = await person(db, 5_000_00), _phone()
    await send(db, service, alice, naira(100), to=phone)
    await send(db, service, alice, naira(200), to=phone)
    async with db.transaction() as session:
        waiting = await service.claimable_for(session, phone)
        assert sorted(t.amount for t in waiting) == [100_00, 200_00]
        assert await session.scalar(select(User.id).where(User.phone == phone)) is None


# ---- group commit ---------------------------------------------------------------------------------


async def test_the_batcher_sends_concurrent_transfers_together_and_each_caller_hears_back(
    db: Database, service: TransferService
) -> None:
    alice, bola = await person(db, 10 * 1000_00, tier=3), await person(db)
    batcher = TransferBatcher(db, service, max_batch=8, lanes=2)
    reused = new_reference()

    def request(reference: str, pin: str = PIN) -> SendRequest:
        return SendRequest(reference, alice.user_id, "NG", naira(1000), pin, Recipient(phone=bola.phone))

    requests = [request(new_reference()) for _ in range(11)]
    requests[3] = request(reused)
    requests[7] = request(reused)  # the same reference twice in one batch: refused, the first stands
    requests[9] = request(new_reference(), pin="1357")
    results = await asyncio.gather(*(batcher.send(r) for r in requests))
    made = [r for r in results if r.created]
    assert len(made) == 9  # 11, less the reused reference and the wrong PIN
    assert results[3].created and not results[7].created
    assert results[9].refusal is Refusal.PIN_WRONG
    assert await available(db, alice) == 1000_00 and await available(db, bola) == 9 * 1000_00
    await assert_ledger_balanced(db)


async def test_a_send_made_as_the_last_batch_finishes_is_not_stranded(
    db: Database, service: TransferService
) -> None:
    """A caller that sends again the moment its send returns is served even by a single lane."""
    alice, bola = await person(db, 10 * 1000_00, tier=3), await person(db)
    batcher = TransferBatcher(db, service, max_batch=8, lanes=1)

    async def back_to_back() -> list[bool]:
        made = []
        for _ in range(3):
            to_bola = Recipient(phone=bola.phone)
            request = SendRequest(new_reference(), alice.user_id, "NG", naira(500), PIN, to_bola)
            sent = await batcher.send(request)
            made.append(sent.created)
        return made

    assert await asyncio.wait_for(back_to_back(), timeout=30) == [True, True, True]
    assert await available(db, bola) == 3 * 500_00
    await assert_ledger_balanced(db)
