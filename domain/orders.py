"""Quotes and orders: quote → place (idempotent, money reserved) → delivered | refunded | needs review."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger
from domain.countries import get_country
from domain.models import Notification, Order, OrderEvent, Quote, utcnow
from domain.money import Money

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


#: States in which the order is still in flight.
IN_FLIGHT = (OrderState.PLACED, OrderState.SUBMITTED)


class ProductKind(StrEnum):
    """What an order buys."""

    AIRTIME = "airtime"
    DATA = "data"


class QuoteProblem(StrEnum):
    """Why a confirmation cannot place an order."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    PIN_REQUIRED = "pin_required"


def needs_pin_in(country_code: str, price: Money) -> bool:
    """True when a purchase in ``country_code`` costs more than that country's no-PIN threshold.

    Transaction PINs are not built yet, so such purchases are refused rather than let through.
    """
    country = get_country(country_code)
    return country is not None and price.minor > country.pin_threshold.minor


class QuoteRejected(Exception):
    """A quote that cannot be confirmed."""

    def __init__(self, problem: QuoteProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """What a user is about to buy."""

    kind: ProductKind
    country: str
    network: str
    phone: str
    price: Money
    bundle_code: str | None = None


@dataclass(frozen=True, slots=True)
class Placed:
    """The order a confirmation produced, and whether this call created it."""

    order: Order
    created: bool


def new_reference(now: datetime) -> str:
    """A unique provider reference: Lagos ``YYYYMMDDHHMM`` then random hex."""
    return now.astimezone(LAGOS).strftime("%Y%m%d%H%M") + secrets.token_hex(6)


async def create_quote(
    session: AsyncSession, conversation_id: int, user_id: int, terms: QuoteTerms, ttl_seconds: float
) -> Quote:
    """Record a quote; its random id is what a Confirm button carries."""
    now = utcnow()
    quote = Quote(
        id=secrets.token_urlsafe(12),
        conversation_id=conversation_id,
        user_id=user_id,
        kind=terms.kind,
        country=terms.country,
        network=terms.network,
        phone=terms.phone,
        amount=terms.price.minor,
        currency=terms.price.currency,
        bundle_code=terms.bundle_code,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_seconds),
    )
    session.add(quote)
    await session.flush()
    return quote


async def order_for_quote(session: AsyncSession, quote_id: str) -> Order | None:
    """The order a quote already produced, if any."""
    return await session.scalar(select(Order).where(Order.quote_id == quote_id))


async def place_order(session: AsyncSession, quote_id: str, user_id: int, service_id: str) -> Placed:
    """Place the order for a quote once: reserve the money and record the order.

    Confirming the same quote again returns the first order and moves no money. Raises
    ``QuoteRejected`` for an unknown, foreign or expired quote and ``ledger.InsufficientFunds``
    when the wallet cannot afford it (nothing is written then).
    """
    quote = await session.scalar(select(Quote).where(Quote.id == quote_id).with_for_update())
    if quote is None:
        raise QuoteRejected(QuoteProblem.UNKNOWN)
    if quote.user_id != user_id:
        raise QuoteRejected(QuoteProblem.NOT_YOURS)
    existing = await order_for_quote(session, quote_id)
    if existing is not None:
        return Placed(existing, created=False)
    now = utcnow()
    if _aware(quote.expires_at) < now:
        raise QuoteRejected(QuoteProblem.EXPIRED)
    if needs_pin_in(quote.country, Money(quote.amount, quote.currency)):
        raise QuoteRejected(QuoteProblem.PIN_REQUIRED)
    transfer_id = f"order:{quote.id}"
    wallet = await ledger.open_wallet(session, user_id, quote.currency)
    topups = await ledger.open_system_account(session, "topups", quote.currency)
    await ledger.create_transfer(
        session,
        ledger.NewTransfer(
            id=transfer_id,
            debit_account_id=wallet,
            credit_account_id=topups,
            amount=quote.amount,
            currency=quote.currency,
            code="purchase",
            pending=True,
        ),
    )
    order = Order(
        reference=new_reference(now),
        quote_id=quote.id,
        user_id=user_id,
        conversation_id=quote.conversation_id,
        kind=quote.kind,
        country=quote.country,
        network=quote.network,
        service_id=service_id,
        phone=quote.phone,
        amount=quote.amount,
        currency=quote.currency,
        bundle_code=quote.bundle_code,
        transfer_id=transfer_id,
        state=OrderState.PLACED,
        created_at=now,
        updated_at=now,
    )
    session.add(order)
    await session.flush()
    session.add(OrderEvent(order_id=order.id, state=OrderState.PLACED, detail="money reserved"))
    return Placed(order, created=True)


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; they were stored as UTC."""

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


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


async def recent_orders(session: AsyncSession, user_id: int, limit: int = 5) -> list[Order]:
    """The user's latest orders, newest first."""
    statement = select(Order).where(Order.user_id == user_id).order_by(Order.id.desc()).limit(limit)
    return list((await session.scalars(statement)).all())


async def order_history(session: AsyncSession, order_id: int) -> list[OrderEvent]:
    """An order's status history, oldest first."""
    statement = select(OrderEvent).where(OrderEvent.order_id == order_id).order_by(OrderEvent.id)
    return list((await session.scalars(statement)).all())
