"""Fraud checks on money out: velocity per sender and per recipient, and cooling-off for new identities.

Every transfer bumps four counters in one statement (sender per hour and per day, recipient per
hour and per day: count and amount). A transfer that takes any of them past the rules in
``data/risk.json``, or that is sent soon after the account, a new channel or a PIN reset
appeared, is *held for review*: the money is reserved and a person releases or rejects it in the
support inbox. These rules never refuse outright; the KYC tier's daily limit does
(``domain.transfers``), using the same sender-per-day counter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import VelocityCounter
from domain.money import Money


@dataclass(frozen=True, slots=True)
class RiskRules:
    """Thresholds past which money out is held for review (amounts in minor units per currency)."""

    sender_per_hour: int
    sender_per_day: int
    recipient_per_hour: int
    recipient_per_day: int
    recipient_amount_per_day: dict[str, int]
    cooling_off: timedelta
    cooling_off_amount: dict[str, int]


def _minor(amounts: dict[str, str]) -> dict[str, int]:
    return {currency: Money.of(Decimal(value), currency).minor for currency, value in amounts.items()}


@cache
def default_rules() -> RiskRules:
    """The rules shipped in ``domain/data/risk.json``."""
    raw: dict[str, Any] = json.loads(resources.files("domain").joinpath("data/risk.json").read_text())
    return RiskRules(
        sender_per_hour=int(raw["sender_per_hour"]),
        sender_per_day=int(raw["sender_per_day"]),
        recipient_per_hour=int(raw["recipient_per_hour"]),
        recipient_per_day=int(raw["recipient_per_day"]),
        recipient_amount_per_day=_minor(raw["recipient_amount_per_day"]),
        cooling_off=timedelta(hours=float(raw["cooling_off_hours"])),
        cooling_off_amount=_minor(raw["cooling_off_amount"]),
    )


@dataclass(frozen=True, slots=True)
class Tally:
    """One counter after this transfer was added: how many transfers and how much money."""

    count: int = 0
    amount: int = 0


@dataclass(frozen=True, slots=True)
class Usage:
    """The four counters a transfer touched, including the transfer itself."""

    sender_hour: Tally
    sender_day: Tally
    recipient_hour: Tally
    recipient_day: Tally


def recipient_key(*parts: str) -> str:
    """A short, non-reversible key for a recipient (a phone, or bank code and account number)."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class CounterKeys:
    """The four counters one transfer adds to, each with when its window ends."""

    sender_hour: tuple[str, datetime]
    sender_day: tuple[str, datetime]
    recipient_hour: tuple[str, datetime]
    recipient_day: tuple[str, datetime]

    def all(self) -> tuple[tuple[str, datetime], ...]:
        """Every (key, window end)."""
        return (self.sender_hour, self.sender_day, self.recipient_hour, self.recipient_day)


def _windows(now: datetime) -> tuple[tuple[str, datetime], tuple[str, datetime]]:
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = hour.replace(hour=0)
    return (f"h{hour:%Y%m%d%H}", hour + timedelta(hours=1)), (f"d{day:%Y%m%d}", day + timedelta(days=1))


def counter_keys(sender_user_id: int, recipient: str, now: datetime) -> CounterKeys:
    """The counters a transfer from ``sender_user_id`` to ``recipient`` (a ``recipient_key``) adds to."""
    (hour, hour_ends), (day, day_ends) = _windows(now)
    return CounterKeys(
        (f"o:u{sender_user_id}:{hour}", hour_ends),
        (f"o:u{sender_user_id}:{day}", day_ends),
        (f"i:{recipient}:{hour}", hour_ends),
        (f"i:{recipient}:{day}", day_ends),
    )


_counters = cast(Table, VelocityCounter.__table__)


@cache
def _upsert_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (key) DO UPDATE`` adding to the totals, returning them (built once)."""
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(_counters)
    return insert.on_conflict_do_update(
        index_elements=[_counters.c.key],
        set_={
            "count": _counters.c.count + insert.excluded.count,
            "amount": _counters.c.amount + insert.excluded.amount,
        },
    ).returning(_counters.c.key, _counters.c.count, _counters.c.amount)


async def _upsert(session: AsyncSession, rows: dict[str, tuple[int, int, datetime]]) -> dict[str, Tally]:
    """Add (count, amount) to each counter, creating missing ones; lock them in key order; return totals."""
    if not rows:
        return {}
    connection = await session.connection()
    params = [
        {"key": key, "count": count, "amount": amount, "expires_at": ends}
        for key, (count, amount, ends) in sorted(rows.items())
    ]
    result = await connection.execute(_upsert_statement(connection.dialect.name), params)
    return {row[0]: Tally(row[1], row[2]) for row in result.all()}


async def lock_counters(session: AsyncSession, keys: Iterable[tuple[str, datetime]]) -> dict[str, Tally]:
    """Lock the counters (creating empty ones) for the rest of the transaction; return their tallies.

    Locking even counters that did not exist yet is what keeps two concurrent transfers from both
    reading an empty window and both passing a limit.
    """
    return await _upsert(session, {key: (0, 0, ends) for key, ends in keys})


async def add_usage(session: AsyncSession, usage: dict[str, tuple[int, int, datetime]]) -> None:
    """Add transfers made to their counters: key → (count, amount, window end)."""
    await _upsert(session, usage)


async def sent_today(session: AsyncSession, user_id: int, now: datetime) -> int:
    """How much the user has sent out today (UTC), in minor units, before any new transfer."""
    (_, _), (day, _) = _windows(now)
    found = await session.scalar(
        select(VelocityCounter.amount).where(VelocityCounter.key == f"o:u{user_id}:{day}")
    )
    return int(found or 0)


def review_reason(
    usage: Usage,
    amount: Money,
    rules: RiskRules,
    *,
    identity_since: datetime | None,
    now: datetime,
) -> str | None:
    """Why this transfer must wait for a person, or None to let it through."""
    if usage.sender_hour.count > rules.sender_per_hour:
        return "velocity: sender per hour"
    if usage.sender_day.count > rules.sender_per_day:
        return "velocity: sender per day"
    if usage.recipient_hour.count > rules.recipient_per_hour:
        return "velocity: recipient per hour"
    if usage.recipient_day.count > rules.recipient_per_day:
        return "velocity: recipient per day"
    cap = rules.recipient_amount_per_day.get(amount.currency)
    if cap is not None and usage.recipient_day.amount > cap:
        return "velocity: recipient amount per day"
    cooling_cap = rules.cooling_off_amount.get(amount.currency, 0)
    if identity_since is not None and amount.minor > cooling_cap and now - identity_since < rules.cooling_off:
        return "cooling-off: new identity"
    return None


async def forget_expired(session: AsyncSession, now: datetime) -> int:
    """Delete counters whose window is over; return how many."""
    result = await session.execute(delete(VelocityCounter).where(VelocityCounter.expires_at < now))
    return int(getattr(result, "rowcount", 0) or 0)
