"""How an order's money settles, in one place: delivered posts its reservation, a refund gives it back.

Fulfilment (a definite answer from the provider) and staff (a refund from the inbox) both settle
through here, so the product's own settlement runs whichever way an order ends. A *settlement
hook* per product settles the other side of an order that was paid from somewhere other than
the user's wallet: a gift's claim order was paid from the gift escrow, so its refund goes on to
the sender (``gifts.after_settled``), and the claimer is not told money came back to them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from domain import gifts, ledger
from domain.ledger import NewTransfer, TransferCode, TransferResult, TransferState
from domain.models import Order, Transfer
from domain.orders import IN_FLIGHT, OrderState, notify, record_state

SettlementHook = Callable[[AsyncSession, Order, OrderState], Awaitable[bool]]
"""Settles a product's other side once its order is delivered or refunded; True when the order
was that product's (its hook then told the people concerned)."""

SETTLEMENT_HOOKS: tuple[SettlementHook, ...] = (gifts.after_settled,)


class RefundProblem(StrEnum):
    """Why an order's money cannot be given back."""

    ALREADY_REFUNDED = "already_refunded"
    IN_FLIGHT = "in_flight"
    MONEY_ALREADY_RETURNED = "money_already_returned"
    RESERVATION_CHANGED = "reservation_changed"


@dataclass(frozen=True, slots=True)
class Refunded:
    """An order whose money went back: ``voided`` its reservation, or ``compensated`` by a transfer."""

    order: Order
    transfer_id: str
    compensated: bool


async def _run_hooks(session: AsyncSession, order: Order, state: OrderState) -> bool:
    handled = False
    for hook in SETTLEMENT_HOOKS:
        handled = await hook(session, order, state) or handled
    return handled


async def deliver(session: AsyncSession, order: Order, detail: str) -> None:
    """The provider delivered a locked, in-flight order: post its reservation and tell the user."""
    await ledger.post_pending(session, order.transfer_id)
    await record_state(session, order, OrderState.DELIVERED, detail)
    await notify(session, order, "order_delivered")
    await _run_hooks(session, order, OrderState.DELIVERED)


def refund_problem(order: Order) -> RefundProblem | None:
    """Why ``order`` cannot be refunded now, or None."""
    if order.state == OrderState.REFUNDED:
        return RefundProblem.ALREADY_REFUNDED
    if order.state in IN_FLIGHT:
        return RefundProblem.IN_FLIGHT
    return None


async def fail(session: AsyncSession, order: Order, detail: str) -> Refunded | RefundProblem:
    """The provider definitely failed a locked, in-flight order: give its money back."""
    if order.state not in IN_FLIGHT:
        return RefundProblem.ALREADY_REFUNDED
    return await _give_back(session, order, detail)


async def refund(session: AsyncSession, order: Order, detail: str) -> Refunded | RefundProblem:
    """Staff give a locked order's money back: one in review, failed or even delivered, never one
    the provider may still deliver (requery that first)."""
    if problem := refund_problem(order):
        return problem
    return await _give_back(session, order, detail)


async def _give_back(session: AsyncSession, order: Order, detail: str) -> Refunded | RefundProblem:
    """Return an order's money exactly once, then settle its product's other side.

    A reservation still pending is voided; money already posted (a delivered order an agent
    refunds) goes back by a compensating transfer ``refund:<reference>``, its idempotency key.
    """
    transfer = await session.get(Transfer, order.transfer_id)
    assert transfer is not None
    if transfer.state == TransferState.PENDING:
        if not await ledger.void_pending(session, transfer.id):
            return RefundProblem.RESERVATION_CHANGED
        refunded = Refunded(order, transfer.id, compensated=False)
    elif transfer.state == TransferState.POSTED:
        compensation = NewTransfer(
            id=f"refund:{order.reference}",
            debit_account_id=transfer.credit_account_id,
            credit_account_id=transfer.debit_account_id,
            amount=transfer.amount,
            currency=transfer.currency,
            code=TransferCode.REFUND,
        )
        if await ledger.create_transfer(session, compensation) is TransferResult.EXISTS:
            return RefundProblem.ALREADY_REFUNDED
        refunded = Refunded(order, compensation.id, compensated=True)
    else:
        return RefundProblem.MONEY_ALREADY_RETURNED
    await record_state(session, order, OrderState.REFUNDED, detail)
    if not await _run_hooks(session, order, OrderState.REFUNDED):
        await notify(session, order, "order_refunded")
    return refunded
