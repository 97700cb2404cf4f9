"""Agent actions on orders: requery a stuck one, refund a failed one, resend its receipt."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.inbox import Refused, actor
from domain import audit
from domain.models import Notification, Order, Staff
from domain.orders import IN_FLIGHT, OrderState, record_state
from services import refunds
from services.refunds import Refunded, RefundProblem, RefundRefusal
from services.unit_of_work import UnitOfWork


async def _locked(session: AsyncSession, order_id: int) -> Order:
    order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise Refused("No such order")
    return order


async def conversation_of(session: AsyncSession, order_id: int) -> int | None:
    """The conversation the order was placed in (None: none, or no such order)."""
    return await session.scalar(select(Order.conversation_id).where(Order.id == order_id))


async def requery(session: AsyncSession, order_id: int, staff: Staff) -> Order:
    """Ask the provider again about an order stuck in review (or in flight); the caller enqueues it."""
    order = await _locked(session, order_id)
    if order.state == OrderState.NEEDS_REVIEW:
        order.attempts = 0
        order.next_check_at = None
        await record_state(session, order, OrderState.SUBMITTED, f"requery asked by {staff.name}")
    elif order.state not in IN_FLIGHT:
        raise Refused(f"Order {order.reference} is {order.state}: nothing to requery")
    await audit.record(
        session, actor(staff), "order.requery", f"order:{order.reference}", {"order_id": order.id}
    )
    return order


_REFUSALS = {
    RefundRefusal.NO_REASON: "Say why you refund this order",
    RefundRefusal.UNKNOWN_ORDER: "No such order",
    RefundProblem.ALREADY_REFUNDED: "Order {reference} is already refunded",
    RefundProblem.IN_FLIGHT: "Order {reference} is still in flight: requery it first",
    RefundProblem.MONEY_ALREADY_RETURNED: "Order {reference}'s money was already returned",
    RefundProblem.RESERVATION_CHANGED: "The reservation changed meanwhile; reload and try again",
}


async def refund(uow: UnitOfWork, order_id: int, staff: Staff, reason: str) -> Order:
    """Give an order's money back (``services.refunds``), or raise ``Refused`` saying why not."""
    refunded = await refunds.refund_order(
        uow, order_id=order_id, actor=actor(staff), actor_name=staff.name, reason=reason
    )
    if isinstance(refunded, Refunded):
        return refunded.order
    reference = await uow.session.scalar(select(Order.reference).where(Order.id == order_id))
    raise Refused(_REFUSALS[refunded].format(reference=reference))


async def resend_receipt(session: AsyncSession, order_id: int, staff: Staff) -> Order:
    """Deliver the order's latest receipt again (the channel's receipt loop sends it)."""
    order = await _locked(session, order_id)
    latest = await session.scalar(
        select(Notification.id)
        .where(Notification.order_id == order.id)
        .order_by(Notification.id.desc())
        .limit(1)
    )
    if latest is None:
        raise Refused(f"Order {order.reference} has no receipt yet")
    await session.execute(update(Notification).where(Notification.id == latest).values(delivered_at=None))
    await audit.record(session, actor(staff), "order.resend_receipt", f"order:{order.reference}", {})
    return order
