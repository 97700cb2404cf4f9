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

from domain import ledger, users
from domain.database import Database
from domain.ledger_invariants import invariant_problems
from domain.models import AuditEntry, Order
from domain.money import Money
from domain.orders import OrderState, Placed, QuoteProblem
from domain.purchase_terms import OutOfRange, ProductKind, UnknownBundle, WrongCountry
from domain.settlement import Refunded, RefundProblem
from nexustop.providers import build_topup_provider
from nexustop.queues import InProcessQueue
from nexustop.settings import Settings
from sandbox.vtpass import start_vtpass_sandbox
from services import purchases, refunds
from services.purchases import InsufficientFunds, PurchaseQuote, PurchaseRequest
from services.refunds import RefundRefusal
from services.unit_of_work import UnitOfWork

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
