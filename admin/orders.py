"""Agent actions on orders: requery a stuck one, refund a failed one, resend its receipt."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.inbox import Refused, actor
from domain import audit, settlement
from domain.models import Notification, Order, Staff
from domain.orders import IN_FLIGHT, OrderState, record_state
from domain.settlement import RefundProblem


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
    RefundProblem.ALREADY_REFUNDED: "Order {reference} is already refunded",
    RefundProblem.IN_FLIGHT: "Order {reference} is still in flight: requery it first",
    RefundProblem.MONEY_ALREADY_RETURNED: "Order {reference}'s money was already returned",
    RefundProblem.RESERVATION_CHANGED: "The reservation changed meanwhile; reload and try again",
}


async def refund(session: AsyncSession, order_id: int, staff: Staff, reason: str) -> Order:
    """Give a failed order's money back, exactly once, with the agent and the reason recorded.

    The money moves through ``domain.settlement.refund``, the path fulfilment uses too, so a
    gift's claim order goes back to the gift's sender, not to the claimer.
    """
    reason = reason.strip()
    if not reason:
        raise Refused("Say why you refund this order")
    order = await _locked(session, order_id)
    refunded = await settlement.refund(session, order, f"refunded by {staff.name}: {reason}"[:500])
    if isinstance(refunded, RefundProblem):
        raise Refused(_REFUSALS[refunded].format(reference=order.reference))
    how = {"transfer" if refunded.compensated else "voided": refunded.transfer_id}
    await audit.record(
        session,
        actor(staff),
        "order.refund",
        f"order:{order.reference}",
        {"reason": reason[:500], "amount": order.amount, "currency": order.currency, **how},
    )
    return order


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
