"""Staff accounts: argon2id password hashes, lockout after repeated failures, browser sessions."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit
from domain.models import Staff, StaffSession, utcnow

#: Consecutive failed logins that lock an account, and for how long.
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
#: How long a signed-in session lasts.
SESSION_TTL = timedelta(hours=12)

_hasher = PasswordHasher()
#: Verified against when the email is unknown, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Role(StrEnum):
    """What a staff member may do: agents work conversations, admins also manage staff."""

    AGENT = "agent"
    ADMIN = "admin"


class StaffError(Exception):
    """A staff account cannot be created as asked."""


def hash_password(password: str) -> str:
    """An argon2id hash in PHC string format."""
    return _hasher.hash(password)


async def add_staff(session: AsyncSession, email: str, name: str, role: str, password: str) -> Staff:
    """Create a staff account (emails are case-insensitive and unique)."""
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise StaffError("not an email address")
    if role not in {r.value for r in Role}:
        raise StaffError("role must be agent or admin")
    if len(password) < 10:
        raise StaffError("the password must have at least 10 characters")
    if await session.scalar(select(Staff.id).where(Staff.email == email)) is not None:
        raise StaffError(f"{email} already has an account")
    staff = Staff(
        email=email,
        name=name.strip()[:128] or email,
        role=role,
        password_hash=hash_password(password),
        active=True,
        failed_logins=0,
    )
    session.add(staff)
    await session.flush()
    await audit.record(session, "cli", "staff.add", f"staff:{staff.id}", {"email": email, "role": role})
    return staff


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login's staff member and session token, or why it failed."""

    staff: Staff | None = None
    token: str = ""
    csrf_token: str = ""
    locked: bool = False


async def login(session: AsyncSession, email: str, password: str) -> LoginResult:
    """Check a password; on success open a session. Failures count towards a lockout."""
    email = email.strip().lower()
    staff = await session.scalar(select(Staff).where(Staff.email == email).with_for_update())
    now = utcnow()
    if staff is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        await audit.record(session, "anonymous", "login.failed", f"email:{email[:100]}", {"why": "unknown"})
        return LoginResult()
    if staff.locked_until is not None and staff.locked_until > now:
        await audit.record(
            session, f"staff:{staff.id}", "login.refused", f"staff:{staff.id}", {"why": "locked"}
        )
        return LoginResult(locked=True)
    try:
        ok: bool = _hasher.verify(staff.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or not staff.active:
        staff.failed_logins += 1
        locked = staff.failed_logins >= MAX_FAILURES
        if locked:
            staff.locked_until = now + LOCKOUT
            staff.failed_logins = 0
        why = "inactive" if ok else "password"
        await audit.record(
            session, f"staff:{staff.id}", "login.failed", f"staff:{staff.id}", {"why": why, "locked": locked}
        )
        return LoginResult(locked=locked)
    if _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = now
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=_digest(token),
            staff_id=staff.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_TTL,
        )
    )
    await audit.record(session, f"staff:{staff.id}", "login", f"staff:{staff.id}", {})
    return LoginResult(staff=staff, token=token, csrf_token=csrf)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def session_staff(session: AsyncSession, token: str) -> tuple[Staff, StaffSession] | None:
    """The active staff member behind a session cookie, or None (unknown, expired, disabled)."""
    if not token or len(token) > 100:
        return None
    found = await session.get(StaffSession, _digest(token))
    if found is None or found.expires_at <= utcnow():
        return None
    staff = await session.get(Staff, found.staff_id)
    if staff is None or not staff.active:
        return None
    return staff, found


async def logout(session: AsyncSession, token: str) -> None:
    """End a session."""
    await session.execute(delete(StaffSession).where(StaffSession.id == _digest(token)))


async def list_staff(session: AsyncSession) -> list[Staff]:
    """Every staff account, by name."""
    return list((await session.scalars(select(Staff).order_by(func.lower(Staff.name)))).all())


async def set_active(session: AsyncSession, staff_id: int, active: bool) -> Staff | None:
    """Enable or disable an account; disabling also ends its sessions."""
    staff = await session.get(Staff, staff_id)
    if staff is None:
        return None
    staff.active = active
    if not active:
        await session.execute(delete(StaffSession).where(StaffSession.staff_id == staff_id))
    return staff
