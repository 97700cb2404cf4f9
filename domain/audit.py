"""The append-only audit log: every staff action (and, later, every money movement) as a hash chain.

Each line stores the previous line's hash and its own: SHA-256 over the previous hash, the time,
actor, action, subject and the canonical JSON of the details. Changing, deleting or reordering any
line breaks the chain from there on, which ``verify`` reports. Writers are serialized (a
transaction-scoped advisory lock on PostgreSQL; SQLite transactions already are), and ``prev_hash``
is UNIQUE, so two writers can never fork the chain.

Usage, inside the transaction that does the thing being recorded::

    await audit.record(session, "staff:3", "order.refund", "order:NT123", {"reason": "…"})
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import AuditEntry, utcnow

#: The ``prev_hash`` of the first line.
GENESIS = "0" * 64
#: Advisory lock key serializing audit writers on PostgreSQL ("audit" in ASCII).
_LOCK_KEY = 0x6175646974


def canonical(details: dict[str, Any]) -> str:
    """Details as the exact JSON text that is stored and hashed (sorted keys, no spaces)."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _moment(at: datetime) -> str:
    """A timestamp as hashed: UTC, microseconds (SQLite hands datetimes back naive UTC)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def line_hash(prev_hash: str, at: datetime, actor: str, action: str, subject: str, details: str) -> str:
    """The hash a line must carry."""
    material = "\n".join((prev_hash, _moment(at), actor, action, subject, details))
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Line:
    """One thing to record: who did what to what, with details."""

    actor: str
    action: str
    subject: str
    details: dict[str, Any] = field(default_factory=dict)


_audit = cast(Table, AuditEntry.__table__)
_LAST_HASH = select(_audit.c.hash).order_by(_audit.c.id.desc()).limit(1)
_APPEND = insert(_audit)
_SERIALIZE = text("SELECT pg_advisory_xact_lock(:key)")


async def record_many(session: AsyncSession, lines: Sequence[Line]) -> None:
    """Append lines to the audit log in order, in the caller's transaction (one lock for them all)."""
    if not lines:
        return
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        await connection.execute(_SERIALIZE, {"key": _LOCK_KEY})
    prev_hash = (await connection.execute(_LAST_HASH)).scalar() or GENESIS
    at = utcnow()
    rows = []
    for line in lines:
        actor, action, subject = line.actor[:128], line.action[:64], line.subject[:128]
        body = canonical(line.details)
        digest = line_hash(prev_hash, at, actor, action, subject, body)
        rows.append(
            {
                "created_at": at,
                "actor": actor,
                "action": action,
                "subject": subject,
                "details": body,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    # Rows are inserted in list order, so ids follow the chain (``verify`` walks by id).
    await connection.execute(_APPEND, rows)


async def record(
    session: AsyncSession, actor: str, action: str, subject: str, details: dict[str, Any] | None = None
) -> None:
    """Append one line to the audit log, in the caller's transaction (it commits or not with it)."""
    await record_many(session, [Line(actor, action, subject, details or {})])


@dataclass(frozen=True, slots=True)
class Verdict:
    """What ``verify`` found: how many lines it checked and the id of the first bad one, if any."""

    checked: int
    first_bad_id: int | None = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        """True when the whole chain is intact."""
        return self.first_bad_id is None


async def verify(session: AsyncSession, batch: int = 1000) -> Verdict:
    """Walk the chain oldest first and recompute every hash."""
    expected_prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
            )
        ).all()
        if not rows:
            return Verdict(checked)
        for row in rows:
            if row.prev_hash != expected_prev:
                return Verdict(checked, row.id, "does not follow the line before it (deleted or reordered)")
            recomputed = line_hash(
                row.prev_hash, row.created_at, row.actor, row.action, row.subject, row.details
            )
            if recomputed != row.hash:
                return Verdict(checked, row.id, "its content does not match its hash (edited)")
            expected_prev = row.hash
            checked += 1
            last_id = row.id


async def entries(session: AsyncSession, subject: str | None = None, limit: int = 100) -> list[AuditEntry]:
    """The latest lines, newest first, optionally only about ``subject``."""
    statement = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if subject is not None:
        statement = statement.where(AuditEntry.subject == subject)
    return list((await session.scalars(statement)).all())
