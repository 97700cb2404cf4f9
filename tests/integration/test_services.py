"""The use cases with no conversation involved: quote, place, refuse, fulfil, refund, on PostgreSQL.

Fulfilment runs for real: the in-process queue against the VTpass sandbox over HTTP, as the demo
wires it. Every test ends with the ledger's invariant check.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio
from sqlalchemy import select

from domain import gifts as domain_gifts
from domain import ledger, users
from domain.database import Database
from domain.gifts import Claimed, ClaimRequest, GiftOffer, GiftProblem
from domain.ledger_invariants import invariant_problems
from domain.models import AuditEntry, Conversation, Order
from domain.money import Money
from domain.orders import OrderState, Placed, QuoteProblem
from domain.purchase_terms import OutOfRange, ProductKind, UnknownBundle, WrongCountry
from domain.settlement import Refunded, RefundProblem
from nexustop.providers import build_topup_provider
from nexustop.queues import InProcessQueue
from nexustop.settings import Settings
from sandbox.vtpass import start_vtpass_sandbox
from services import gifts, purchases, refunds
from services.gifts import GiftConfirmed
from services.purchases import InsufficientFunds, PurchaseQuote, PurchaseRequest
from services.refunds import RefundRefusal
from services.unit_of_work import UnitOfWork
from tests.integration.ledger_check import assert_ledger_balanced

NG = "+2348031234567"


@dataclass(frozen=True)
class Buyer:
    user_id: int


async def buyer(db: Database, funded: int) -> Buyer:
    """A user known by no chat (as a client app's would be), with ``funded`` kobo in their wallet."""
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "api", uuid.uuid4().hex)
        if funded:
            wallet = await ledger.open_wallet(session, known.user.id, "NGN")
            promo = await ledger.open_system_account(session, "promo", "NGN")
            await ledger.create_transfer(
                session,
                ledger.NewTransfer(uuid.uuid4().hex, promo, wallet, funded, "NGN", ledger.TransferCode.PROMO),
            )
        return Buyer(known.user.id)


async def available(db: Database, who: Buyer) -> int:
    async with db.transaction() as session:
        return await users.available_balance(session, who.user_id, "NGN")


@pytest_asyncio.fixture
async def queue(db: Database) -> AsyncIterator[InProcessQueue]:
    """Fulfilment on this loop against the VTpass sandbox (magic numbers: 0000 fails)."""
    runner, base_url = await start_vtpass_sandbox()
    async with build_topup_provider(Settings(vtpass_base_url=base_url)) as provider:
        yield InProcessQueue(db, provider, (0.05, 0.1))
    await runner.cleanup()
    async with db.transaction() as session:
        assert await invariant_problems(session) == []


def airtime(who: Buyer, amount: int, phone: str = NG) -> PurchaseRequest:
    return PurchaseRequest(who.user_id, "NG", ProductKind.AIRTIME, phone, amount=amount)


async def test_a_quote_then_a_confirm_places_one_order_that_is_fulfilled_after_commit(
    db: Database, queue: InProcessQueue
) -> None:
    alice = await buyer(db, 100_000)
    quoted = await purchases.quote(UnitOfWork(db), airtime(alice, 50_000), 600)
    assert isinstance(quoted, PurchaseQuote)
    assert (
        quoted.terms.network == "MTN"
        and quoted.available == Money(100_000, "NGN")
        and quoted.short_by is None
    )

    placed = await purchases.confirm(UnitOfWork(db), queue, user_id=alice.user_id, quote_id=quoted.quote_id)
    assert isinstance(placed, Placed) and placed.created
    again = await purchases.confirm(UnitOfWork(db), queue, user_id=alice.user_id, quote_id=quoted.quote_id)
    assert isinstance(again, Placed) and not again.created and again.order.id == placed.order.id
    await queue.drain(10)
    async with db.transaction() as session:
        order = await session.get(Order, placed.order.id)
        assert order is not None and order.state == OrderState.DELIVERED and order.conversation_id is None
        assert order.service_id == "mtn"
    assert await available(db, alice) == 50_000


@pytest.mark.parametrize(
    ("request_of", "problem_type"),
    [
        (lambda who: airtime(who, 1), OutOfRange),
        (lambda who: airtime(who, 100_000_000), OutOfRange),
        (lambda who: airtime(who, 1, phone="+233241234567"), WrongCountry),
        (
            lambda who: PurchaseRequest(
                who.user_id, "NG", ProductKind.DATA, NG, network="mtn", bundle_code="x"
            ),
            UnknownBundle,
        ),
    ],
    ids=["one-kobo", "a-million-naira", "ghanaian-number", "unknown-bundle"],
)
async def test_terms_the_catalog_refuses_are_typed_problems_and_write_nothing(
    db: Database, request_of: object, problem_type: type
) -> None:
    alice = await buyer(db, 100_000)
    refused = await purchases.quote(UnitOfWork(db), request_of(alice), 600)  # type: ignore[operator]
    assert isinstance(refused, problem_type)
    assert await available(db, alice) == 100_000


async def test_a_wallet_that_cannot_pay_is_refused_and_charged_nothing(
    db: Database, queue: InProcessQueue
) -> None:
    bobby = await buyer(db, 10_000)
    quoted = await purchases.quote(UnitOfWork(db), airtime(bobby, 50_000), 600)
    assert isinstance(quoted, PurchaseQuote) and quoted.short_by == Money(40_000, "NGN")
    refused = await purchases.confirm(UnitOfWork(db), queue, user_id=bobby.user_id, quote_id=quoted.quote_id)
    assert refused == InsufficientFunds(Money(50_000, "NGN"), Money(10_000, "NGN"))
    assert queue.in_flight == 0 and await available(db, bobby) == 10_000


async def test_a_price_above_the_pin_threshold_needs_the_pin_and_someone_elses_quote_is_not_yours(
    db: Database, queue: InProcessQueue
) -> None:
    rich, other = await buyer(db, 5_000_000), await buyer(db, 5_000_000)
    quoted = await purchases.quote(UnitOfWork(db), airtime(rich, 3_000_000), 600)
    assert isinstance(quoted, PurchaseQuote)
    confirm = purchases.confirm
    assert await confirm(UnitOfWork(db), queue, user_id=rich.user_id, quote_id=quoted.quote_id) is (
        QuoteProblem.PIN_REQUIRED
    )
    assert await confirm(UnitOfWork(db), queue, user_id=other.user_id, quote_id=quoted.quote_id) is (
        QuoteProblem.NOT_YOURS
    )
    assert await confirm(UnitOfWork(db), queue, user_id=rich.user_id, quote_id="nope") is QuoteProblem.UNKNOWN
    assert await available(db, rich) == 5_000_000


async def test_a_failed_top_up_is_refunded_by_fulfilment_and_staff_cannot_refund_it_again(
    db: Database, queue: InProcessQueue
) -> None:
    carol = await buyer(db, 100_000)
    quoted = await purchases.quote(UnitOfWork(db), airtime(carol, 20_000, phone="+2348031230000"), 600)
    assert isinstance(quoted, PurchaseQuote)
    placed = await purchases.confirm(UnitOfWork(db), queue, user_id=carol.user_id, quote_id=quoted.quote_id)
    assert isinstance(placed, Placed)
    await queue.drain(10)
    assert await available(db, carol) == 100_000
    again = await refunds.refund_order(
        UnitOfWork(db), order_id=placed.order.id, actor="staff:0", actor_name="Ada", reason="twice?"
    )
    assert again is RefundProblem.ALREADY_REFUNDED
    assert await available(db, carol) == 100_000


async def test_a_delivered_order_refunded_by_staff_goes_back_once_and_is_audited(
    db: Database, queue: InProcessQueue
) -> None:
    dayo = await buyer(db, 100_000)
    quoted = await purchases.quote(UnitOfWork(db), airtime(dayo, 30_000), 600)
    assert isinstance(quoted, PurchaseQuote)
    placed = await purchases.confirm(UnitOfWork(db), queue, user_id=dayo.user_id, quote_id=quoted.quote_id)
    assert isinstance(placed, Placed)
    await queue.drain(10)
    assert await available(db, dayo) == 70_000

    def refund(reason: str) -> object:
        return refunds.refund_order(
            UnitOfWork(db), order_id=placed.order.id, actor="staff:1", actor_name="Ada", reason=reason
        )

    assert await refund("  ") is RefundRefusal.NO_REASON
    done = await refund("network confirmed it never arrived")
    assert isinstance(done, Refunded) and done.compensated and done.transfer_id.startswith("refund:")
    assert await refund("again") is RefundProblem.ALREADY_REFUNDED
    assert await available(db, dayo) == 100_000
    async with db.transaction() as session:
        lines = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.subject == f"order:{placed.order.reference}")
            )
        ).all()
    assert [line.action for line in lines] == ["order.refund"]
    assert (
        await refunds.refund_order(UnitOfWork(db), order_id=-1, actor="staff:1", actor_name="Ada", reason="x")
        is RefundRefusal.UNKNOWN_ORDER
    )


async def test_after_commit_work_runs_only_once_the_outermost_transaction_commits(db: Database) -> None:
    uow, ran = UnitOfWork(db), []

    async def note() -> None:
        ran.append(uow._session is None)

    async with uow.transaction():
        async with uow.transaction():  # a use case joining the door's transaction
            uow.after_commit(note)
        assert ran == []
    assert ran == [True]

    with pytest.raises(RuntimeError, match="boom"):
        async with uow.transaction():
            uow.after_commit(note)
            raise RuntimeError("boom")
    assert ran == [True]  # dropped with the rollback


async def claimer(db: Database) -> tuple[int, str, int]:
    """A user with a chat to be told in (a gift's claimer is told of its top-up): (user, channel id, chat)."""
    channel_user_id = uuid.uuid4().hex
    async with db.transaction() as session:
        known = await users.find_or_create_user(session, "test", channel_user_id)
        conversation = Conversation(user_id=known.user.id, channel="test", chat_id=channel_user_id)
        session.add(conversation)
        await session.flush()
        return known.user.id, channel_user_id, conversation.id


async def draft(db: Database, sender: Buyer) -> int:
    async with db.transaction() as session:
        made = await domain_gifts.create_draft(
            session, channel="test", sender_user_id=sender.user_id, spec="2x500"
        )
        return made.id


OFFER = GiftOffer(ProductKind.AIRTIME, "NG", "NGN", 50_000, shares=2)


async def test_a_gift_is_escrowed_once_and_a_short_wallet_or_a_stranger_is_a_typed_problem(
    db: Database,
) -> None:
    poor, rich = await buyer(db, 60_000), await buyer(db, 200_000)

    def confirm(gift_id: int, who: Buyer) -> object:
        return gifts.confirm_gift(
            UnitOfWork(db), gift_id=gift_id, sender_user_id=who.user_id, offer=OFFER,
            sender_conversation_id=None, ttl_seconds=3600,
        )  # fmt: skip

    short = await confirm(await draft(db, poor), poor)
    assert short == InsufficientFunds(Money(100_000, "NGN"), Money(60_000, "NGN"))
    assert await available(db, poor) == 60_000  # all shares or none

    gift_id = await draft(db, rich)
    assert await confirm(gift_id, poor) is GiftProblem.NOT_YOURS
    done = await confirm(gift_id, rich)
    assert isinstance(done, GiftConfirmed) and done.created
    again = await confirm(gift_id, rich)
    assert isinstance(again, GiftConfirmed) and not again.created
    assert await available(db, rich) == 100_000
    # The refused confirm committed its unit of work: its shares must have left no trace (a
    # savepoint used to undo the totals but keep the transfer rows the driver had written).
    await assert_ledger_balanced(db)


async def test_a_claim_is_fulfilled_after_commit_and_a_number_abroad_moves_nothing(
    db: Database, queue: InProcessQueue
) -> None:
    sender = await buyer(db, 200_000)
    gift_id = await draft(db, sender)
    confirmed = await gifts.confirm_gift(
        UnitOfWork(db), gift_id=gift_id, sender_user_id=sender.user_id, offer=OFFER,
        sender_conversation_id=None, ttl_seconds=3600,
    )  # fmt: skip
    assert isinstance(confirmed, GiftConfirmed)
    user_id, channel_user_id, chat = await claimer(db)

    def request(phone: str) -> ClaimRequest:
        return ClaimRequest(user_id, "test", channel_user_id, chat, phone, "mtn", 50_000)

    abroad = await gifts.claim_gift(UnitOfWork(db), queue, gift_id, request("+233241234567"))
    assert abroad == WrongCountry("NG", "GH")
    assert queue.in_flight == 0

    claimed = await gifts.claim_gift(UnitOfWork(db), queue, gift_id, request(NG))
    assert isinstance(claimed, Claimed) and claimed.created
    await queue.drain(10)
    async with db.transaction() as session:
        order = await session.get(Order, claimed.order.id)
        assert order is not None and order.state == OrderState.DELIVERED
    assert await available(db, sender) == 100_000  # one share spent, one still escrowed
