"""Agent actions on orders: requery a stuck one, refund a failed one, resend its receipt."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from admin.inbox import Refused, actor
from domain import audit, ledger
from domain.ledger import NewTransfer, TransferResult, TransferState
from domain.models import Notification, Order, Staff, Transfer
from domain.orders import IN_FLIGHT, OrderState, notify, record_state


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


async def refund(session: AsyncSession, order_id: int, staff: Staff, reason: str) -> Order:
    """Give a failed order's money back, exactly once, with the agent and the reason recorded.

    A reservation still pending is voided; money already posted goes back by a compensating
    transfer whose id (``refund:<reference>``) is its idempotency key.
    """
    reason = reason.strip()
    if not reason:
        raise Refused("Say why you refund this order")
    order = await _locked(session, order_id)
    if order.state == OrderState.REFUNDED:
        raise Refused(f"Order {order.reference} is already refunded")
    if order.state in IN_FLIGHT:
        raise Refused(f"Order {order.reference} is still in flight: requery it first")
    transfer = await session.get(Transfer, order.transfer_id)
    assert transfer is not None
    if transfer.state == TransferState.PENDING:
        if not await ledger.void_pending(session, transfer.id):
            raise Refused("The reservation changed meanwhile; reload and try again")
        how = {"voided": transfer.id}
    elif transfer.state == TransferState.POSTED:
        compensation = NewTransfer(
            id=f"refund:{order.reference}",
            debit_account_id=transfer.credit_account_id,
            credit_account_id=transfer.debit_account_id,
            amount=transfer.amount,
            currency=transfer.currency,
            code="refund",
        )
        if await ledger.create_transfer(session, compensation) is TransferResult.EXISTS:
            raise Refused(f"Order {order.reference} was already refunded")
        how = {"transfer": compensation.id}
    else:
        raise Refused(f"Order {order.reference}'s money was already returned")
    await record_state(session, order, OrderState.REFUNDED, f"refunded by {staff.name}: {reason}"[:500])
    await notify(session, order, "order_refunded")
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
