"""Transaction PINs: set twice, stored as argon2id of the peppered PIN, locked after 3 wrong tries.

A 4-6 digit PIN has at most a million values, so no hash cost makes a stolen hash safe to
brute-force offline; what protects it is the pepper (an HMAC key from the environment, never in
the database) and the lockout. The argon2 parameters are therefore light (1 MiB, one pass),
which keeps a PIN check well under a millisecond on the transfer path.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.models import Credential, utcnow

#: Wrong PINs in a row that lock money-out.
MAX_ATTEMPTS = 3
#: How long money-out stays locked after the last allowed wrong PIN.
LOCK_DURATION = timedelta(minutes=30)
#: Accepted PIN lengths, in digits.
MIN_DIGITS, MAX_DIGITS = 4, 6

_hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


class PinProblem(StrEnum):
    """Why a new PIN is not accepted."""

    FORMAT = "format"
    """Not 4 to 6 digits."""
    WEAK = "weak"
    """Guessable: one digit repeated, or a run such as 1234 or 9876."""
    MISMATCH = "mismatch"
    """The second entry differs from the first."""


class PinVerdict(StrEnum):
    """What checking a PIN found."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not_set"


@dataclass(frozen=True, slots=True)
class PinCheck:
    """The verdict, the tries left before a lock, and until when money-out is locked."""

    verdict: PinVerdict
    attempts_left: int = MAX_ATTEMPTS
    locked_until: datetime | None = None
    just_locked: bool = False
    """This check was the wrong PIN that locked money-out (audit it)."""

    @property
    def ok(self) -> bool:
        """True when the PIN was right."""
        return self.verdict is PinVerdict.OK


def _peppered(pin: str, pepper: bytes) -> str:
    return hmac.new(pepper, pin.encode(), hashlib.sha256).hexdigest()


def looks_like_pin(text: str) -> bool:
    """True when a message is a bare 4-6 digit number (so it must be treated as a secret)."""
    stripped = text.strip()
    return stripped.isdigit() and MIN_DIGITS <= len(stripped) <= MAX_DIGITS


def pin_problem(pin: str) -> PinProblem | None:
    """Why ``pin`` cannot be a PIN, or None when it can."""
    if not (pin.isascii() and looks_like_pin(pin) and pin == pin.strip()):
        return PinProblem.FORMAT
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if len(set(pin)) == 1 or steps in ({1}, {-1}):
        return PinProblem.WEAK
    return None


def hash_pin(pin: str, pepper: bytes) -> str:
    """The stored form of a PIN: argon2id (PHC string) of its HMAC under the pepper."""
    return _hasher.hash(_peppered(pin, pepper))


def _matches(stored: str, pin: str, pepper: bytes) -> bool:
    try:
        return _hasher.verify(stored, _peppered(pin, pepper))
    except (VerificationError, InvalidHashError):
        return False


def same_pin(stored: str, pin: str, pepper: bytes) -> bool:
    """True when ``pin`` is the PIN ``stored`` came from (``hash_pin``), e.g. a first entry being repeated."""
    return _matches(stored, pin, pepper)


async def _credential(session: AsyncSession, user_id: int, *, lock: bool) -> Credential | None:
    statement = select(Credential).where(Credential.user_id == user_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement)


async def has_pin(session: AsyncSession, user_id: int) -> bool:
    """True when the user has set a PIN (and not started a reset since)."""
    credential = await _credential(session, user_id, lock=False)
    return credential is not None and credential.pin_hash is not None


async def set_pin(session: AsyncSession, user_id: int, pin: str, pepper: bytes) -> None:
    """Store a new PIN (the caller checked ``pin_problem`` and the second entry)."""
    if pin_problem(pin) is not None:
        raise ValueError("not an acceptable PIN")
    now = utcnow()
    credential = await _credential(session, user_id, lock=True)
    if credential is None:
        credential = Credential(user_id=user_id, failed_attempts=0)
        session.add(credential)
    credential.pin_hash = hash_pin(pin, pepper)
    credential.pin_set_at = now
    credential.failed_attempts = 0
    credential.locked_until = None
    await session.flush()  # checks read the row with Core statements
    await audit.record(session, f"user:{user_id}", "pin.set", f"user:{user_id}")


@dataclass(slots=True)
class PinState:
    """A user's PIN and lockout as locked for a check; ``changed`` once a check altered it."""

    user_id: int
    pin_hash: str | None
    failed_attempts: int
    locked_until: datetime | None
    changed: bool = False


def check(
    state: PinState | None, pin: str, pepper: bytes, now: datetime, *, verified: Verified | None = None
) -> PinCheck:
    """Check a PIN against a locked state, counting a wrong one on it (no I/O; save it afterwards).

    While locked, nothing is checked and nothing counts. The third wrong PIN in a row locks
    money-out for ``LOCK_DURATION``.
    """
    if state is None or state.pin_hash is None:
        return PinCheck(PinVerdict.NOT_SET)
    if state.locked_until is not None and state.locked_until > now:
        return PinCheck(PinVerdict.LOCKED, 0, state.locked_until)
    if verified is not None and verified.pin_hash == state.pin_hash:
        matched = verified.matched  # hashed before the lock, against the very hash now locked
    else:
        matched = _matches(state.pin_hash, pin, pepper)
    if matched:
        if state.failed_attempts or state.locked_until is not None:
            state.failed_attempts, state.locked_until, state.changed = 0, None, True
        return PinCheck(PinVerdict.OK)
    state.changed = True
    state.failed_attempts += 1
    if state.failed_attempts < MAX_ATTEMPTS:
        return PinCheck(PinVerdict.WRONG, MAX_ATTEMPTS - state.failed_attempts)
    state.failed_attempts, state.locked_until = 0, now + LOCK_DURATION
    return PinCheck(PinVerdict.LOCKED, 0, state.locked_until, just_locked=True)


@dataclass(frozen=True, slots=True)
class Verified:
    """A PIN compared with a hash read before the row was locked (argon2 is the slow part)."""

    pin_hash: str | None
    matched: bool


def verify_against(pin_hash: str | None, pin: str, pepper: bytes) -> Verified:
    """Compare ``pin`` with ``pin_hash`` outside any lock; ``check`` uses it if the hash is unchanged."""
    return Verified(pin_hash, pin_hash is not None and _matches(pin_hash, pin, pepper))


_credentials = cast(Table, Credential.__table__)
_HASHES = select(_credentials.c.user_id, _credentials.c.pin_hash).where(
    _credentials.c.user_id.in_(bindparam("user_ids", expanding=True))
)


async def read_hashes(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str | None]:
    """The stored PIN hashes of ``user_ids``, read without locking."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    connection = await session.connection()
    return {row[0]: row[1] for row in await connection.execute(_HASHES, {"user_ids": wanted})}


_LOCK_STATES = (
    select(
        _credentials.c.user_id,
        _credentials.c.pin_hash,
        _credentials.c.failed_attempts,
        _credentials.c.locked_until,
    )
    .where(_credentials.c.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(_credentials.c.user_id)
    .with_for_update()
)
_SAVE_STATE = (
    update(_credentials)
    .where(_credentials.c.user_id == bindparam("uid"))
    .values(
        failed_attempts=bindparam("attempts"),
        locked_until=bindparam("until"),
        updated_at=bindparam("now"),
    )
)


async def lock_states(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, PinState]:
    """The PIN states of ``user_ids``, row-locked in id order for the rest of the transaction."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return {}
    connection = await session.connection()
    rows = await connection.execute(_LOCK_STATES, {"user_ids": wanted})
    return {row[0]: PinState(*row) for row in rows}


async def save_states(session: AsyncSession, states: Iterable[PinState]) -> None:
    """Write back the attempts and locks that checks changed (one statement)."""
    now = utcnow()
    params = [
        {"uid": s.user_id, "attempts": s.failed_attempts, "until": s.locked_until, "now": now}
        for s in states
        if s.changed
    ]
    if params:
        connection = await session.connection()
        await connection.execute(_SAVE_STATE, params)


async def record_lock(session: AsyncSession, user_id: int) -> None:
    """Write the audit line for a money-out lock caused by wrong PINs."""
    await audit.record_many(session, [lock_line(user_id)])


def lock_line(user_id: int) -> audit.Line:
    """The audit line for a money-out lock caused by wrong PINs."""
    minutes = int(LOCK_DURATION.total_seconds() // 60)
    return audit.Line(f"user:{user_id}", "pin.locked", f"user:{user_id}", {"minutes": minutes})


async def verify(session: AsyncSession, user_id: int, pin: str, pepper: bytes) -> PinCheck:
    """Check a user's PIN; a wrong one counts (commit the caller's transaction even when refusing)."""
    states = await lock_states(session, [user_id])
    result = check(states.get(user_id), pin, pepper, utcnow())
    await save_states(session, states.values())
    if result.just_locked:
        await record_lock(session, user_id)
    return result


async def locked_until(session: AsyncSession, user_id: int) -> datetime | None:
    """Until when money-out is locked by wrong PINs, or None."""
    credential = await _credential(session, user_id, lock=False)
    if credential is None or credential.locked_until is None:
        return None
    until = credential.locked_until
    return until if until > utcnow() else None


async def reset(session: AsyncSession, user_id: int, *, verified_by: str) -> None:
    """Forget the PIN after the user proved who they are (``verified_by`` says how), and unlock.

    The user sets a new PIN on their next money-out; ``reset_at`` starts a cooling-off period.
    """
    now = utcnow()
    credential = await _credential(session, user_id, lock=True)
    if credential is None:
        credential = Credential(user_id=user_id, failed_attempts=0)
        session.add(credential)
    credential.pin_hash = None
    credential.pin_set_at = None
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.reset_at = now
    await session.flush()  # checks read the row with Core statements
    await audit.record(
        session, f"user:{user_id}", "pin.reset", f"user:{user_id}", {"verified_by": verified_by}
    )
