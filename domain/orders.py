"""Quotes and orders: quote → place (idempotent, money reserved) → delivered | refunded | needs review."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Boolean, ScalarSelect, String, Table, bindparam, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger
from domain.countries import get_country
from domain.database import DriverStatement
from domain.models import Account, Notification, Order, OrderEvent, Quote, utcnow
from domain.money import Money
from domain.purchase_terms import QuoteTerms, TermsRefused, check_terms, service_id_for

#: Providers such as VTpass want references that start with the Lagos date and time.
LAGOS = ZoneInfo("Africa/Lagos")


class OrderState(StrEnum):
    """Where an order stands."""

    PLACED = "placed"
    """Money reserved (a pending transfer); not yet sent to the provider."""
    SUBMITTED = "submitted"
    """Sent to the provider (or about to be); the outcome is not known yet."""
    DELIVERED = "delivered"
    REFUNDED = "refunded"
    NEEDS_REVIEW = "needs_review"
    """The provider never gave a definite answer; money stays reserved until a person decides."""


#: The system account orders reserve their price in until the provider answers.
TOPUPS = "topups"
#: States in which the order is still in flight.
IN_FLIGHT = (OrderState.PLACED, OrderState.SUBMITTED)


class QuoteProblem(StrEnum):
    """Why a confirmation cannot place an order."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    PIN_REQUIRED = "pin_required"


def needs_pin_in(country_code: str, price: Money) -> bool:
    """True when a purchase in ``country_code`` costs more than that country's no-PIN threshold
    (it is then confirmed with the user's transaction PIN, or refused where PINs are not set up)."""
    country = get_country(country_code)
    return country is not None and price.minor > country.pin_threshold.minor


class QuoteRejected(Exception):
    """A quote that cannot be confirmed."""

    def __init__(self, problem: QuoteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Placed:
    """The order a confirmation produced, and whether this call created it."""

    order: Order
    created: bool


def topups_account(user_id: int) -> str:
    """The system account a user's orders reserve their price in (one shard of ``topups``)."""
    return ledger.shard(TOPUPS, user_id)


def new_reference(now: datetime) -> str:
    """A unique provider reference: Lagos ``YYYYMMDDHHMM`` then random hex."""
    return now.astimezone(LAGOS).strftime("%Y%m%d%H%M") + secrets.token_hex(6)


_quotes = cast(Table, Quote.__table__)
_orders = cast(Table, Order.__table__)
_events = cast(Table, OrderEvent.__table__)
_accounts = cast(Table, Account.__table__)


def _account_of_quote(prefix: str) -> ScalarSelect[int]:
    """The id of the account whose code is the bound ``prefix`` followed by the quote's currency."""
    code = bindparam(prefix, type_=String()) + _quotes.c.currency
    return select(_accounts.c.id).where(_accounts.c.code == code).scalar_subquery()


_ADD_QUOTE_ON_DRIVER = DriverStatement(
    insert(_quotes)
    .values({name: bindparam(name, type_=column.type) for name, column in _quotes.c.items()})
    .returning(ledger.available_of(bindparam("wallet_code", type_=String())).label("available"))
)
# The quote, locked, with the order it already produced and the ids of the accounts its order
# moves money between (NULL when missing). The join sees orders committed before the statement
# began; one a concurrent confirm commits while we wait for the lock shows up as an existing
# transfer instead (see ``place_order``).
_LOCK_QUOTE = (
    select(
        _quotes,
        _orders.c.id.label("order_id"),
        _account_of_quote("wallet_prefix").label("wallet_id"),
        _account_of_quote("topups_prefix").label("topups_id"),
    )
    .select_from(_quotes.outerjoin(_orders, _orders.c.quote_id == _quotes.c.id))
    .where(_quotes.c.id == bindparam("quote_id"))
    .with_for_update(of=_quotes)
)
_LOCK_QUOTE_ON_DRIVER = DriverStatement(_LOCK_QUOTE)
_ORDER_OF_QUOTE = select(_orders.c.id).where(_orders.c.quote_id == bindparam("quote_id"))
_ADD_ORDER = insert(_orders).returning(_orders.c.id)
_ADD_EVENT = insert(_events)
_ORDER_COLUMNS = (
    "reference", "quote_id", "user_id", "conversation_id", "kind", "country", "network", "service_id",
    "phone", "amount", "currency", "bundle_code", "transfer_id", "state", "attempts", "next_check_at",
    "provider_reference", "created_at", "updated_at",
)  # fmt: skip
# PostgreSQL: the order and its first history step in one round trip.
_new_order = (
    insert(_orders)
    .values({name: bindparam(name, type_=_orders.c[name].type) for name in _ORDER_COLUMNS})
    .returning(_orders.c.id, _orders.c.state, _orders.c.created_at)
    .cte("new_order")
)
_ADD_ORDER_WITH_EVENT_PG = (
    insert(_events)
    .from_select(
        ["order_id", "state", "detail", "created_at"],
        select(
            _new_order.c.id,
            _new_order.c.state,
            bindparam("detail", type_=_events.c.detail.type),
            _new_order.c.created_at,
        ),
    )
    .returning(_events.c.order_id)
)
_ADD_ORDER_WITH_EVENT_ON_DRIVER = DriverStatement(_ADD_ORDER_WITH_EVENT_PG)


async def create_quote(
    session: AsyncSession, conversation_id: int | None, user_id: int, terms: QuoteTerms, ttl_seconds: float
) -> Quote:
    """Record a quote; its random id is what a Confirm button carries."""
    quote, _ = await create_quote_reading_wallet(session, conversation_id, user_id, terms, ttl_seconds)
    return quote


async def create_quote_reading_wallet(
    session: AsyncSession, conversation_id: int | None, user_id: int, terms: QuoteTerms, ttl_seconds: float
) -> tuple[Quote, int | None]:
    """Record a quote and, in the same statement, read what the user's wallet can spend.

    The second value is the available balance of the wallet in the quote's currency, or None
    when that wallet does not exist yet. A quote is always shown with the balance, so one round
    trip does both. Raises ``TermsRefused`` for terms the catalog does not allow (callers check
    them first with ``purchase_terms.check_terms`` to answer the user).
    """
    if problem := check_terms(terms):
        raise TermsRefused(problem)
    now = utcnow()
    values = {
        "id": secrets.token_urlsafe(12),
        "conversation_id": conversation_id,
        "user_id": user_id,
        "kind": terms.kind,
        "country": terms.country,
        "network": terms.network,
        "phone": terms.phone,
        "amount": terms.price.minor,
        "currency": terms.price.currency,
        "bundle_code": terms.bundle_code,
        "created_at": now,
        "expires_at": now + timedelta(seconds=ttl_seconds),
    }
    wallet = ledger.wallet_code(user_id, terms.price.currency)
    added = await _ADD_QUOTE_ON_DRIVER.first(session, {**values, "wallet_code": wallet})
    assert added is not None
    return Quote(**values), added["available"]


async def quote_by_id(session: AsyncSession, quote_id: str) -> Quote | None:
    """The quote with this id, if there is one."""
    return await session.get(Quote, quote_id)


_VOID_QUOTES = DriverStatement(
    update(_quotes)
    .where(
        _quotes.c.conversation_id == bindparam("conversation"),
        _quotes.c.expires_at > bindparam("now"),
        (_quotes.c.id == bindparam("quote")) | bindparam("every_quote", type_=Boolean),
        ~exists().where(_orders.c.quote_id == _quotes.c.id),
    )
    .values(expires_at=bindparam("now"))
)


async def void_quotes(session: AsyncSession, conversation_id: int, quote_id: str | None = None) -> None:
    """Expire a conversation's quotes not yet ordered (only ``quote_id`` when given), so that their
    Confirm places nothing: the chat went to a person, or on to something else."""
    params = {
        "conversation": conversation_id,
        "now": utcnow(),
        "quote": quote_id or "",
        "every_quote": quote_id is None,
    }
    await _VOID_QUOTES.run(session, params)


async def quote_expired(session: AsyncSession, quote_id: str) -> bool:
    """True when the quote exists and can no longer be confirmed because its time is up (or it was voided)."""
    expires_at = await session.scalar(select(Quote.expires_at).where(Quote.id == quote_id))
    return expires_at is not None and expires_at <= utcnow()


async def order_for_quote(session: AsyncSession, quote_id: str) -> Order | None:
    """The order a quote already produced, if any."""
    return await session.scalar(select(Order).where(Order.quote_id == quote_id))


async def place_order(
    session: AsyncSession, quote_id: str, user_id: int, *, pin_verified: bool = False
) -> Placed:
    """Place the order for a quote once: reserve the money and record the order.

    The provider's service id comes from the catalog for the quote's network, not the caller.

    A price above the country's no-PIN threshold needs ``pin_verified`` (the caller checked the
    user's transaction PIN in this transaction).

    Confirming the same quote again returns the first order and moves no money. Raises
    ``QuoteRejected`` for an unknown, foreign or expired quote and ``ledger.InsufficientFunds``
    when the wallet cannot afford it (nothing is written then).
    """
    prefixes = {
        "wallet_prefix": ledger.wallet_code(user_id, ""),
        "topups_prefix": ledger.system_code(topups_account(user_id), ""),
    }
    quote = await _LOCK_QUOTE_ON_DRIVER.first(session, {"quote_id": quote_id, **prefixes})
    if quote is None:
        raise QuoteRejected(QuoteProblem.UNKNOWN)
    if quote["user_id"] != user_id:
        raise QuoteRejected(QuoteProblem.NOT_YOURS)
    if quote["order_id"] is not None:
        return Placed(await _load_order(session, quote["order_id"]), created=False)
    now = utcnow()
    price = Money(quote["amount"], quote["currency"])
    problem = _quote_problem(quote["expires_at"], quote["country"], price, now, pin_verified)
    if problem is not None:
        return await _refuse(session, quote_id, problem)
    transfer_id = f"order:{quote['id']}"
    wallet = quote["wallet_id"]
    if wallet is None:
        wallet = await ledger.open_wallet(session, user_id, quote["currency"])
    topups = quote["topups_id"]
    if topups is None:
        topups = await ledger.open_system_account(session, topups_account(user_id), quote["currency"])
    reserved = await ledger.create_transfer(
        session,
        ledger.NewTransfer(
            id=transfer_id,
            debit_account_id=wallet,
            credit_account_id=topups,
            amount=quote["amount"],
            currency=quote["currency"],
            code=ledger.TransferCode.PURCHASE,
            pending=True,
        ),
    )
    if reserved is ledger.TransferResult.EXISTS and (placed := await _placed_meanwhile(session, quote_id)):
        return placed
    values = {
        "reference": new_reference(now),
        "quote_id": quote["id"],
        "user_id": user_id,
        "conversation_id": quote["conversation_id"],
        "kind": quote["kind"],
        "country": quote["country"],
        "network": quote["network"],
        "service_id": service_id_for(quote["country"], quote["network"]),
        "phone": quote["phone"],
        "amount": quote["amount"],
        "currency": quote["currency"],
        "bundle_code": quote["bundle_code"],
        "transfer_id": transfer_id,
        "state": OrderState.PLACED,
        "attempts": 0,
        "next_check_at": None,
        "provider_reference": None,
        "created_at": now,
        "updated_at": now,
    }
    order_id = await _add_order(session, values, "money reserved")
    return Placed(Order(id=order_id, **values), created=True)


def _quote_problem(
    expires_at: datetime, country: str, price: Money, now: datetime, pin_verified: bool
) -> QuoteProblem | None:
    """Why a quote can no longer be confirmed, if it cannot."""
    if expires_at < now:
        return QuoteProblem.EXPIRED
    if needs_pin_in(country, price) and not pin_verified:
        return QuoteProblem.PIN_REQUIRED
    return None


async def _refuse(session: AsyncSession, quote_id: str, problem: QuoteProblem) -> Placed:
    """Refuse a confirmation, unless a concurrent confirm placed the order while we waited."""
    placed = await _placed_meanwhile(session, quote_id)
    if placed is None:
        raise QuoteRejected(problem)
    return placed


async def _placed_meanwhile(session: AsyncSession, quote_id: str) -> Placed | None:
    """The quote's order if one is committed now (a new snapshot, unlike the locking read)."""
    order_id = await session.scalar(_ORDER_OF_QUOTE, {"quote_id": quote_id})
    return None if order_id is None else Placed(await _load_order(session, order_id), created=False)


async def _load_order(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id)
    assert order is not None
    return order


async def _add_order(session: AsyncSession, values: dict[str, object], detail: str) -> int:
    """Insert an order and its first history step; return the order's id."""
    order_id: int
    if session.get_bind().dialect.name == "postgresql":
        added = await _ADD_ORDER_WITH_EVENT_ON_DRIVER.first(session, {**values, "detail": detail})
        assert added is not None
        order_id = added["order_id"]
        return order_id
    order_id = (await session.execute(_ADD_ORDER, values)).scalar_one()
    event = {
        "order_id": order_id,
        "state": values["state"],
        "detail": detail,
        "created_at": values["created_at"],
    }
    await session.execute(_ADD_EVENT, event)
    return order_id


async def record_state(session: AsyncSession, order: Order, state: OrderState, detail: str = "") -> None:
    """Move an order to ``state`` and append the step to its history."""
    order.state = state
    order.updated_at = utcnow()
    session.add(OrderEvent(order_id=order.id, state=state, detail=detail[:500]))


async def notify(session: AsyncSession, order: Order, kind: str) -> None:
    """Queue a notification about ``order`` for its user, at most once per kind."""
    already = await session.scalar(
        select(Notification.id).where(Notification.kind == kind, Notification.order_id == order.id)
    )
    if already is None:
        session.add(
            Notification(
                user_id=order.user_id, conversation_id=order.conversation_id, kind=kind, order_id=order.id
            )
        )


@dataclass(frozen=True, slots=True)
class OrderLine:
    """What a user's order history shows of one order."""

    created_at: datetime
    kind: str
    country: str
    network: str
    phone: str
    amount: int
    currency: str
    state: str


_RECENT_ORDERS = DriverStatement(
    select(*(_orders.c[name] for name in OrderLine.__dataclass_fields__))
    .where(_orders.c.user_id == bindparam("user_id"))
    .order_by(_orders.c.id.desc())
    .limit(bindparam("limit"))
)


async def recent_orders(session: AsyncSession, user_id: int, limit: int = 5) -> list[OrderLine]:
    """The user's latest orders, newest first."""
    rows = await _RECENT_ORDERS.all(session, {"user_id": user_id, "limit": limit})
    return [OrderLine(*(row[name] for name in OrderLine.__dataclass_fields__)) for row in rows]


@dataclass(frozen=True, slots=True)
class Twin:
    """An earlier order for the very same top-up: its reference and when it was placed."""

    reference: str
    created_at: datetime


_RECENT_TWIN = DriverStatement(
    select(_orders.c.reference, _orders.c.created_at)
    .where(
        _orders.c.user_id == bindparam("user_id"),
        _orders.c.phone == bindparam("phone"),
        _orders.c.kind == bindparam("kind"),
        _orders.c.amount == bindparam("amount"),
        _orders.c.created_at > bindparam("since"),
        _orders.c.state != bindparam("refunded"),
    )
    .order_by(_orders.c.id.desc())
    .limit(bindparam("limit"))
)


async def recent_twin(
    session: AsyncSession, user_id: int, terms: QuoteTerms, within: timedelta
) -> Twin | None:
    """The user's latest order for the very same product, number and price placed within
    ``within`` and not refunded: a second one is more often a double tap than a wish."""
    params = {
        "user_id": user_id,
        "phone": terms.phone,
        "kind": terms.kind.value,
        "amount": terms.price.minor,
        "since": utcnow() - within,
        "refunded": OrderState.REFUNDED.value,
        "limit": 1,
    }
    found = await _RECENT_TWIN.first(session, params)
    return None if found is None else Twin(found["reference"], found["created_at"])


async def last_order(session: AsyncSession, user_id: int) -> Order | None:
    """The user's latest order, whatever became of it."""
    statement = select(Order).where(Order.user_id == user_id).order_by(Order.id.desc()).limit(1)
    return await session.scalar(statement)


async def order_history(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    """An order's status history, oldest first."""
    statement = select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    return list((await session.scalars(statement)).all())
