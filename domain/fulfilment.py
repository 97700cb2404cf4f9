"""Fulfilment: send an order to the provider, settle the ledger on a definite answer, else ask again.

One call to ``fulfil`` is one idempotent step, safe to run twice at once or again after a crash:

* the order is marked ``submitted`` (committed) *before* the provider is called, so a re-run
  after a crash asks the provider what happened instead of blindly sending again — and if the
  provider never got it, sends again under the same reference, which cannot deliver twice;
* a definite success posts the pending transfer; a definite failure voids it (the refund);
* anything unknown (timeout, 5xx, "processing") schedules another query; it never refunds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import handoff, settlement
from domain.database import Database
from domain.models import Order, utcnow
from domain.money import Money
from domain.orders import IN_FLIGHT, OrderState, notify, record_state
from domain.phones import mask_phone
from domain.ports import TopupProvider, TopupRequest, TopupResult, TopupStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Settled:
    """The order reached a final state (now or earlier)."""

    state: OrderState


@dataclass(frozen=True, slots=True)
class CheckAgain:
    """The outcome is unknown: run ``fulfil`` again after ``delay`` seconds."""

    delay: float


Step = Settled | CheckAgain


def _request(order: Order) -> TopupRequest:
    return TopupRequest(
        reference=order.reference,
        country=order.country,
        service_id=order.service_id,
        phone=order.phone,
        amount=Money(order.amount, order.currency),
        bundle_code=order.bundle_code,
    )


@dataclass(frozen=True, slots=True)
class _Claimed:
    order: Order
    first_time: bool


async def _claim(db: Database, order_id: int) -> _Claimed | Settled:
    """Lock the order; mark a placed one submitted. Return it, or the final state it is in."""
    async with db.transaction() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        if order is None:
            raise LookupError(f"no order {order_id}")
        if order.state not in IN_FLIGHT:
            return Settled(OrderState(order.state))
        first_time = order.state == OrderState.PLACED
        if first_time:
            await record_state(session, order, OrderState.SUBMITTED, "sent to provider")
        return _Claimed(order, first_time)


async def _ask_provider(provider: TopupProvider, order: Order, first_time: bool) -> TopupResult:
    request = _request(order)
    if first_time:
        return await provider.send_topup(request)
    result = await provider.query_topup(order.reference)
    if result.status is TopupStatus.NOT_FOUND:
        log.info("order %s unknown to provider; sending again under the same reference", order.id)
        return await provider.send_topup(request)
    return result


async def fulfil(
    db: Database, provider: TopupProvider, order_id: int, requery_delays: Sequence[float]
) -> Step:
    """Take one idempotent step towards settling ``order_id``; see the module docstring."""
    claimed = await _claim(db, order_id)
    if isinstance(claimed, Settled):
        return claimed
    result = await _ask_provider(provider, claimed.order, claimed.first_time)
    log.info(
        "order %s to %s: provider says %s %s",
        order_id,
        mask_phone(claimed.order.phone),
        result.status,
        result.detail[:120],
    )
    return await _apply(db, order_id, result, requery_delays)


async def _apply(db: Database, order_id: int, result: TopupResult, requery_delays: Sequence[float]) -> Step:
    async with db.transaction() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        if order is None or order.state not in IN_FLIGHT:
            return Settled(OrderState(order.state)) if order else Settled(OrderState.NEEDS_REVIEW)
        if result.provider_reference:
            order.provider_reference = result.provider_reference
        if result.status is TopupStatus.DELIVERED:
            await settlement.deliver(session, order, result.detail)
            return Settled(OrderState.DELIVERED)
        if result.status is TopupStatus.FAILED:
            await settlement.fail(session, order, result.detail)
            return Settled(OrderState.REFUNDED)
        return await _schedule_check(session, order, result, requery_delays)


async def _schedule_check(
    session: AsyncSession, order: Order, result: TopupResult, requery_delays: Sequence[float]
) -> Step:
    order.attempts += 1
    if order.attempts > len(requery_delays):
        order.next_check_at = None
        await record_state(session, order, OrderState.NEEDS_REVIEW, f"no definite answer: {result.detail}")
        await notify(session, order, "order_needs_review")
        if order.conversation_id is not None:
            await handoff.request(session, order.conversation_id, handoff.Reason.NEEDS_REVIEW)
        return Settled(OrderState.NEEDS_REVIEW)
    delay = requery_delays[order.attempts - 1]
    order.next_check_at = utcnow() + timedelta(seconds=delay)
    order.updated_at = utcnow()
    if order.attempts == 1:
        await notify(session, order, "order_pending")
    return CheckAgain(delay)


async def due_for_check(db: Database, stale_after_seconds: float, limit: int = 500) -> list[int]:
    """Orders in flight that stalled (a lost task, a dead worker): the reconciler's work.

    An order counts as stalled when its next check is overdue by ``stale_after_seconds``, or it
    has had no check scheduled and no change for that long.
    """
    now = utcnow()
    stale = now - timedelta(seconds=stale_after_seconds)
    statement = (
        select(Order.id)
        .where(
            Order.state.in_(list(IN_FLIGHT)),
            or_(
                Order.next_check_at <= stale,
                Order.next_check_at.is_(None) & (Order.updated_at <= stale),
            ),
        )
        .order_by(Order.id)
        .limit(limit)
    )
    async with db.transaction() as session:
        return list((await session.scalars(statement)).all())
