"""Giving an order's money back on a person's decision (staff in the inbox; later an operator API).

The money moves through ``domain.settlement.refund``, the path fulfilment's definite failures
take too, so each product's settlement runs (a gift's claim order pays the gift's sender back).
The decision, its author and its reason go to the audit log in the same transaction.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from domain import audit, settlement
from domain.models import Order
from domain.settlement import Refunded, RefundProblem
from services.unit_of_work import UnitOfWork


class RefundRefusal(StrEnum):
    """Why a refund was not even tried."""

    NO_REASON = "no_reason"
    UNKNOWN_ORDER = "unknown_order"


async def refund_order(
    uow: UnitOfWork, *, order_id: int, actor: str, actor_name: str, reason: str
) -> Refunded | RefundProblem | RefundRefusal:
    """Refund ``order_id`` for ``reason``, at most once; ``actor`` is how the audit log names them."""
    reason = reason.strip()[:500]
    if not reason:
        return RefundRefusal.NO_REASON
    async with uow.transaction() as session:
        order = await session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        if order is None:
            return RefundRefusal.UNKNOWN_ORDER
        refunded = await settlement.refund(session, order, f"refunded by {actor_name}: {reason}"[:500])
        if isinstance(refunded, RefundProblem):
            return refunded
        how = {"transfer" if refunded.compensated else "voided": refunded.transfer_id}
        details = {"reason": reason, "amount": order.amount, "currency": order.currency, **how}
        await audit.record(session, actor, "order.refund", f"order:{order.reference}", details)
    return refunded


__all__ = ["RefundProblem", "RefundRefusal", "Refunded", "refund_order"]
