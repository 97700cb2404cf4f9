"""The one check that the ledger is sound, for every money test and `nexustop ledger verify`.

Three invariants, each read from the database as it is:

- every currency sums to zero over all accounts, posted and pending alike (double entry);
- no account that must not be overdrawn (a user's wallet) is below zero;
- every account's stored totals equal what its transfers add up to, by state: a pending
  transfer posted or voided twice, a transfer applied to the wrong account, or a total edited
  by hand shows up here, even when the currency still sums to zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Subquery, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ledger import AVAILABLE, TransferState
from domain.models import Account, Transfer


class InvariantKind(StrEnum):
    """Which invariant a problem breaks."""

    CURRENCY_UNBALANCED = "currency_unbalanced"
    OVERDRAWN = "overdrawn"
    TOTALS_DIFFER_FROM_TRANSFERS = "totals_differ_from_transfers"
    CURRENCY_MISMATCH = "currency_mismatch"


@dataclass(frozen=True, slots=True)
class InvariantProblem:
    """One broken invariant: what kind, where (a currency or an account code) and the figures."""

    kind: InvariantKind
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.where}: {self.detail}"


async def invariant_problems(session: AsyncSession) -> list[InvariantProblem]:
    """Every way the ledger is unsound right now; an empty list means it is sound."""
    return [
        *await _unbalanced_currencies(session),
        *await _overdrawn_accounts(session),
        *await _totals_differing_from_transfers(session),
        *await _transfers_across_currencies(session),
    ]


async def _unbalanced_currencies(session: AsyncSession) -> list[InvariantProblem]:
    statement = (
        select(
            Account.currency,
            func.sum(Account.credits_posted - Account.debits_posted),
            func.sum(Account.credits_pending - Account.debits_pending),
        )
        .group_by(Account.currency)
        .order_by(Account.currency)
    )
    return [
        InvariantProblem(
            InvariantKind.CURRENCY_UNBALANCED, currency, f"posted net {posted}, pending net {pending}"
        )
        for currency, posted, pending in (await session.execute(statement)).all()
        if posted != 0 or pending != 0
    ]


async def _overdrawn_accounts(session: AsyncSession) -> list[InvariantProblem]:
    statement = (
        select(Account.code, AVAILABLE)
        .where(Account.debits_must_not_exceed_credits, AVAILABLE < 0)
        .order_by(Account.code)
    )
    return [
        InvariantProblem(InvariantKind.OVERDRAWN, code, f"available {available}")
        for code, available in (await session.execute(statement)).all()
    ]


_TOTALS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")


def _derived_totals() -> Subquery:
    """Per account id, the four totals its transfers add up to (by state and side)."""
    debit_legs = select(
        Transfer.debit_account_id.label("account_id"),
        Transfer.state.label("state"),
        Transfer.amount.label("debit"),
        literal(0).label("credit"),
    )
    credit_legs = select(
        Transfer.credit_account_id.label("account_id"),
        Transfer.state.label("state"),
        literal(0).label("debit"),
        Transfer.amount.label("credit"),
    )
    legs = union_all(debit_legs, credit_legs).subquery("legs")

    def total(side: str, state: TransferState) -> ColumnElement[int]:
        return func.coalesce(func.sum(legs.c[side]).filter(legs.c.state == state.value), 0)

    return (
        select(
            legs.c.account_id,
            total("debit", TransferState.PENDING).label("debits_pending"),
            total("debit", TransferState.POSTED).label("debits_posted"),
            total("credit", TransferState.PENDING).label("credits_pending"),
            total("credit", TransferState.POSTED).label("credits_posted"),
        )
        .group_by(legs.c.account_id)
        .subquery("derived")
    )


async def _totals_differing_from_transfers(session: AsyncSession) -> list[InvariantProblem]:
    derived = _derived_totals()
    statement = (
        select(
            Account.code, *(Account.__table__.c[name] for name in _TOTALS), *(derived.c[n] for n in _TOTALS)
        )
        .outerjoin(derived, derived.c.account_id == Account.id)
        .order_by(Account.code)
    )
    problems = []
    for row in (await session.execute(statement)).all():
        code, stored, from_transfers = row[0], row[1:5], [int(value or 0) for value in row[5:9]]
        differing = [
            f"{name} {have} (its transfers say {want})"
            for name, have, want in zip(_TOTALS, stored, from_transfers, strict=True)
            if have != want
        ]
        if differing:
            problems.append(
                InvariantProblem(InvariantKind.TOTALS_DIFFER_FROM_TRANSFERS, code, ", ".join(differing))
            )
    return problems


async def _transfers_across_currencies(session: AsyncSession) -> list[InvariantProblem]:
    debit, credit = Account.__table__.alias("debit"), Account.__table__.alias("credit")
    statement = (
        select(Transfer.id, Transfer.currency, debit.c.currency, credit.c.currency)
        .join(debit, debit.c.id == Transfer.debit_account_id)
        .join(credit, credit.c.id == Transfer.credit_account_id)
        .where((debit.c.currency != Transfer.currency) | (credit.c.currency != Transfer.currency))
        .order_by(Transfer.id)
    )
    return [
        InvariantProblem(
            InvariantKind.CURRENCY_MISMATCH,
            transfer_id,
            f"transfer in {currency} between a {debit_currency} and a {credit_currency} account",
        )
        for transfer_id, currency, debit_currency, credit_currency in (await session.execute(statement)).all()
    ]
