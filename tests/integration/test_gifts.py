"""Gifts through the domain on real PostgreSQL: escrow, claims, giveaways, expiry, decline, concurrency."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin import orders as admin_orders
from domain import gifts, ledger, users
from domain.database import Database
from domain.fulfilment import Settled, fulfil
from domain.gifts import GiftProblem, GiftRefused, GiftState
from domain.models import Conversation, Gift, Notification, Order, Staff, Transfer, utcnow
from domain.orders import OrderState
from domain.ports import TopupRequest, TopupResult, TopupStatus
from domain.purchase_terms import ProductKind
from services.unit_of_work import UnitOfWork
from tests.integration.ledger_check import assert_ledger_balanced


class FakeProvider:
    """Delivers every top-up except to numbers ending in 9999, which fail for good."""

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        if request.phone.endswith("9999"):
            return TopupResult(TopupStatus.FAILED, detail="invalid number")
        return TopupResult(TopupStatus.DELIVERED, f"p-{request.reference}")

    async def query_topup(self, reference: str) -> TopupResult:
        return TopupResult(TopupStatus.NOT_FOUND)


@dataclass(frozen=True)
class Person:
    user_id: int
    channel_user_id: str
    conversation_id: int


async def person(db: Database, funded: int = 0) -> Person:
    async with db.transaction() as session:
        channel_user = uuid.uuid4().hex
        known = await users.find_or_create_user(session, "test", channel_user)
        conversation = Conversation(user_id=known.user.id, channel="test", chat_id=channel_user)
        session.add(conversation)
        await session.flush()
        if funded:
            wallet = await ledger.open_wallet(session, known.user.id, "NGN")
            promo = await ledger.open_system_account(session, "promo", "NGN")
            await ledger.create_transfer(
                session, ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, funded, "NGN", "promo")
            )
        return Person(known.user.id, channel_user, conversation.id)


async def wallet(db: Database, who: Person) -> ledger.Balance:
    async with db.transaction() as session:
        return await ledger.balance(session, await ledger.open_wallet(session, who.user_id, "NGN"))


async def give(
    db: Database, sender: Person, amount: int, shares: int = 1, recipient: Person | None = None
) -> int:
    async with db.transaction() as session:
        draft = await gifts.create_draft(
            session,
            channel="test",
            sender_user_id=sender.user_id,
            spec=f"{shares}x{amount}",
            recipient_channel_user_id=recipient.channel_user_id if recipient else None,
        )
        offer = gifts.GiftOffer(ProductKind.AIRTIME, "NG", "NGN", amount, shares)
        gift, created = await gifts.confirm(
            session, draft.id, sender.user_id, offer, sender_conversation_id=sender.conversation_id
        )
        assert created
        return gift.id


async def claim(
    db: Database, gift_id: int, who: Person, phone: str = "+2348031234567", price: int = 0
) -> int:
    async with db.transaction() as session:
        gift = await session.get(Gift, gift_id)
        assert gift is not None and gift.amount is not None
        request = gifts.ClaimRequest(
            who.user_id, "test", who.channel_user_id, who.conversation_id, phone, "mtn", price or gift.amount
        )
        claimed = await gifts.claim(session, gift_id, request)
        return claimed.order.id


async def kinds(db: Database, who: Person) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(Notification.kind).where(Notification.user_id == who.user_id).order_by(Notification.id)
        )
        return list(rows.all())


async def test_a_gift_escrows_then_a_claim_pays_the_order_and_both_are_told(db: Database) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 50_000, recipient=bobby)
    held = await wallet(db, alice)
    assert (held.posted, held.available) == (1_000_000, 950_000)
    await assert_ledger_balanced(db)

    order_id = await claim(db, gift_id, bobby)
    assert await fulfil(db, FakeProvider(), order_id, ()) == Settled(OrderState.DELIVERED)
    after = await wallet(db, alice)
    assert (after.posted, after.available) == (950_000, 950_000)
    assert (await wallet(db, bobby)).posted == 0
    async with db.transaction() as session:
        order = await session.get(Order, order_id)
        assert order is not None and order.user_id == bobby.user_id and order.amount == 50_000
        states = dict((await session.execute(select(Transfer.id, Transfer.state))).all())
        gift = await session.get(Gift, gift_id)
        assert gift is not None and gift.state == GiftState.CLAIMED
    assert states[f"gift:{gift_id}:1"] == "posted"
    assert "gift_delivered" in await kinds(db, alice)
    assert "order_delivered" in await kinds(db, bobby)
    await assert_ledger_balanced(db)
    # Claiming again neither moves money nor places a second order.
    assert await claim(db, gift_id, bobby) == order_id
    await assert_ledger_balanced(db)


async def test_only_the_named_recipient_can_claim(db: Database) -> None:
    alice, bobby, carol = await person(db, 1_000_000), await person(db), await person(db)
    gift_id = await give(db, alice, 50_000, recipient=bobby)
    for intruder, problem in ((carol, GiftProblem.NOT_YOURS), (alice, GiftProblem.OWN_GIFT)):
        with pytest.raises(GiftRefused) as refused:
            await claim(db, gift_id, intruder)
        assert refused.value.problem is problem
    assert (await wallet(db, alice)).available == 950_000
    await assert_ledger_balanced(db)


async def test_insufficient_funds_escrows_nothing(db: Database) -> None:
    alice = await person(db, 90_000)
    with pytest.raises(ledger.InsufficientFunds):
        await give(db, alice, 20_000, shares=5)
    held = await wallet(db, alice)
    assert (held.posted, held.available) == (90_000, 90_000)
    async with db.transaction() as session:
        mine = await ledger.open_wallet(session, alice.user_id, "NGN")
        escrowed = await session.scalar(select(Transfer.id).where(Transfer.debit_account_id == mine).limit(1))
    assert escrowed is None, "a refused escrow leaves no share behind"
    await assert_ledger_balanced(db)


async def test_expiry_refunds_once_and_tells_the_sender(db: Database) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 70_000, recipient=bobby)
    later = utcnow() + timedelta(hours=49)
    assert await gifts.expire_due(db, utcnow()) == 0
    assert await gifts.expire_due(db, later) >= 1
    assert await gifts.expire_due(db, later) == 0
    held = await wallet(db, alice)
    assert (held.posted, held.available) == (1_000_000, 1_000_000)
    assert f"gift_expired:{gift_id}" in await kinds(db, alice)
    with pytest.raises(GiftRefused) as refused:
        await claim(db, gift_id, bobby)
    assert refused.value.problem is GiftProblem.EXPIRED
    await assert_ledger_balanced(db)


async def test_decline_refunds_the_sender(db: Database) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 30_000, recipient=bobby)
    async with db.transaction() as session:
        assert await gifts.decline(session, gift_id, "test", bobby.channel_user_id, bobby.user_id) == 30_000
    assert (await wallet(db, alice)).available == 1_000_000
    assert f"gift_declined:{gift_id}" in await kinds(db, alice)
    await assert_ledger_balanced(db)


async def test_a_failed_gift_top_up_refunds_the_sender_not_the_claimer(db: Database) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 50_000, recipient=bobby)
    order_id = await claim(db, gift_id, bobby, phone="+2348031239999")
    assert await fulfil(db, FakeProvider(), order_id, ()) == Settled(OrderState.REFUNDED)
    assert (await wallet(db, alice)).available == 1_000_000
    assert (await wallet(db, bobby)).posted == 0
    assert "gift_failed" in await kinds(db, alice)
    assert "order_refunded" not in await kinds(db, bobby)
    await assert_ledger_balanced(db)


async def test_data_gift_cheaper_on_the_claimers_network_returns_the_change(db: Database) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 100_000, recipient=bobby)
    order_id = await claim(db, gift_id, bobby, price=85_000)
    assert await fulfil(db, FakeProvider(), order_id, ()) == Settled(OrderState.DELIVERED)
    assert (await wallet(db, alice)).available == 1_000_000 - 85_000
    await assert_ledger_balanced(db)


async def test_giveaway_5x200_with_7_concurrent_claimers(db: Database) -> None:
    alice = await person(db, 1_000_000)
    gift_id = await give(db, alice, 20_000, shares=5)
    claimers = [await person(db) for _ in range(7)]
    results = await asyncio.gather(*(claim(db, gift_id, c) for c in claimers), return_exceptions=True)
    orders = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, GiftRefused)]
    assert len(orders) == 5 and len(set(orders)) == 5
    assert len(refused) == 2 and all(r.problem is GiftProblem.ALL_CLAIMED for r in refused)
    for order_id in orders:
        assert await fulfil(db, FakeProvider(), order_id, ()) == Settled(OrderState.DELIVERED)
    held = await wallet(db, alice)
    assert (held.posted, held.available) == (900_000, 900_000)
    await assert_ledger_balanced(db)


async def test_giveaway_partly_claimed_refunds_the_rest_at_expiry(db: Database) -> None:
    alice = await person(db, 1_000_000)
    gift_id = await give(db, alice, 20_000, shares=5)
    first, second = await person(db), await person(db)
    placed = [await claim(db, gift_id, who) for who in (first, second)]
    for order_id in placed:
        await fulfil(db, FakeProvider(), order_id, ())
    assert await claim(db, gift_id, first) == placed[0], "a second claim by one person is the first"
    assert (await wallet(db, alice)).available == 900_000
    assert await gifts.expire_due(db, utcnow() + timedelta(days=3)) >= 1
    held = await wallet(db, alice)
    assert (held.posted, held.available) == (960_000, 960_000)
    await assert_ledger_balanced(db)


class UndecidedProvider:
    """Never gives a definite answer, so an order ends in review."""

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        return TopupResult(TopupStatus.PENDING, detail="processing")

    async def query_topup(self, reference: str) -> TopupResult:
        return TopupResult(TopupStatus.PENDING, detail="processing")


@pytest.mark.parametrize(
    ("provider", "settled"),
    [(UndecidedProvider(), OrderState.NEEDS_REVIEW), (FakeProvider(), OrderState.DELIVERED)],
    ids=["in-review", "delivered"],
)
async def test_an_agent_refund_of_a_gift_order_pays_the_sender_back_not_the_claimer(
    db: Database, provider: FakeProvider | UndecidedProvider, settled: OrderState
) -> None:
    alice, bobby = await person(db, 1_000_000), await person(db)
    gift_id = await give(db, alice, 50_000, recipient=bobby)
    order_id = await claim(db, gift_id, bobby)
    assert await fulfil(db, provider, order_id, ()) == Settled(settled)
    uow = UnitOfWork(db)
    async with uow.transaction() as session:
        staff = Staff(
            email=f"{uuid.uuid4().hex[:8]}@nexustop.test", name="Ada", role="agent", password_hash="-"
        )
        session.add(staff)
        await session.flush()
        await admin_orders.refund(uow, order_id, staff, "provider confirmed it never arrived")
    after = await wallet(db, alice)
    assert (after.posted, after.available) == (1_000_000, 1_000_000)  # the ₦500 is back with the sender
    assert (await wallet(db, bobby)).posted == 0
    assert "gift_failed" in await kinds(db, alice)
    assert "order_refunded" not in await kinds(db, bobby)  # no false "back in your wallet"
    async with db.transaction() as session:
        refund = await session.get(Transfer, f"gift:{gift_id}:1:refund")  # escrow → sender
    assert refund is not None and refund.amount == 50_000
    await assert_ledger_balanced(db)
