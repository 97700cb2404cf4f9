"""KYC tiers and their limits per country (``domain/data/kyc.json``) and identity upgrades (BVN, NIN…).

A user's tier decides how much their wallet may hold (``max_balance``), how much they may top
up per calendar month (``monthly_in``) and how much they may send out per day (``daily_out``).
Tiers are data because regulators keep revising them: Nigeria follows the CBN's tiers 1-3, the
UEMOA countries the BCEAO's caps for identified clients, and every other country, plus tier 0
everywhere, follows limits of our own (each tier lists which of its limits are ours).

Identity numbers are never stored or logged in clear: a profile keeps a keyed hash (HMAC-SHA256
under a secret pepper, so the 10^11 possible BVNs cannot be hashed and compared offline) and the
last four characters. The hash covers the kind and the country, so the same digits as a BVN and
as a NIN, or as two countries' ID cards, never collide. A number verifies one user only.

Pure domain: the registry lookup comes in through ``domain.ports.IdentityVerifier``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, ledger
from domain.countries import COUNTRY_CODES, get_country
from domain.database import Database, dialect_insert
from domain.models import KycProfile, Payment, User, utcnow
from domain.money import Money
from domain.ports import IdentityCheck, IdentityKind, IdentityStatus, IdentityVerifier

log = logging.getLogger(__name__)

#: Advisory lock namespace (two-int form) serializing writers of one identity hash on PostgreSQL.
_LOCK_NAMESPACE = 0x6B7963  # "kyc"
#: Longest input ``validate_number`` looks at.
_MAX_INPUT = 64
_SEPARATORS = re.compile(r"[\s\-./\u00a0\u202f]+")
_NATIONAL_ID = re.compile(r"[A-Z0-9]{6,20}")
_NAME_TOKEN = re.compile(r"[^\W\d_]+")
_NOT_DIGIT = re.compile(r"[^0-9]")


class Requirement(StrEnum):
    """What a user must have verified to reach a tier."""

    NONE = "none"
    BVN_OR_NIN = "bvn_or_nin"
    BVN_AND_NIN = "bvn_and_nin"
    NATIONAL_ID = "national_id"
    STAFF_REVIEW = "staff_review"
    """Never reached by verifying a number: only staff grant it (``set_tier``)."""


class Limit(StrEnum):
    """The limits a tier sets."""

    DAILY_OUT = "daily_out"
    MAX_BALANCE = "max_balance"
    MONTHLY_IN = "monthly_in"


@dataclass(frozen=True, slots=True)
class TierLimits:
    """One tier of one country: what it needs and what it allows (None = unlimited)."""

    country: str
    tier: int
    name: str
    requires: Requirement
    daily_out: Money
    """Cumulative money-out per day (transfers and payouts, not airtime bought for oneself)."""
    max_balance: Money | None
    monthly_in: Money | None
    """Wallet top-ups credited per calendar month (UTC)."""
    ours: frozenset[Limit]
    """The limits that are our own policy rather than a regulator's."""
    basis: str

    @property
    def currency(self) -> str:
        """The currency every limit of this tier is in."""
        return self.daily_out.currency


@dataclass(frozen=True, slots=True)
class Headroom:
    """The tightest cap on adding money to a wallet now: which limit, its amount and what is left."""

    limit: Limit
    cap: Money
    room: Money
    tier: int


class NumberProblem(StrEnum):
    """Why an identity number was refused before asking anyone."""

    NOT_DIGITS = "not_digits"
    """A BVN or NIN with something else than digits in it."""
    WRONG_LENGTH = "wrong_length"
    MALFORMED = "malformed"
    """Not a plausible ID card number (6-20 letters and digits, at least 4 digits)."""


class UpgradeOutcome(StrEnum):
    """What ``upgrade`` did; everything but the first three is a refusal that wrote nothing."""

    UPGRADED = "upgraded"
    """Verified and stored; the tier went up."""
    VERIFIED = "verified"
    """Verified and stored; the tier stays (the other number is still missing, or staff set it higher)."""
    ALREADY_VERIFIED = "already_verified"
    """This very number is already on the user's profile: nothing asked, nothing written."""
    INVALID_NUMBER = "invalid_number"
    NOT_ACCEPTED = "not_accepted"
    """This kind of number does not count in the user's country (a BVN outside Nigeria…)."""
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    """The registry did not answer: try again later."""
    ALREADY_LINKED = "already_linked"
    """The number verified another user."""
    DIFFERENT_NUMBER = "different_number"
    """Another number of this kind is already on the user's profile (a change goes through staff)."""
    NAME_MISMATCH = "name_mismatch"
    """The registry's holder is not the person the user's other verified number belongs to."""


#: Outcomes after which the number is on the user's profile.
_ACCEPTED = frozenset({UpgradeOutcome.UPGRADED, UpgradeOutcome.VERIFIED, UpgradeOutcome.ALREADY_VERIFIED})


@dataclass(frozen=True, slots=True)
class UpgradeResult:
    """What an identity upgrade did, and the user's tier before and after."""

    outcome: UpgradeOutcome
    tier: int
    previous_tier: int
    problem: NumberProblem | None = None
    full_name: str | None = None
    """The registry's name for the holder (when it matched)."""

    @property
    def ok(self) -> bool:
        """True when the number is now on the user's profile."""
        return self.outcome in _ACCEPTED


class KycError(ValueError):
    """A KYC request that cannot be served: unknown country or tier, missing pepper."""


# -- tiers as data ---------------------------------------------------------------------------


def _money(value: Any, currency: str) -> Money | None:
    return None if value is None else Money.of(str(value), currency)


def _tier(country: str, currency: str, raw: dict[str, Any]) -> TierLimits:
    daily_out = _money(raw["daily_out"], currency)
    if daily_out is None:
        raise KycError(f"{country} tier {raw['tier']}: daily_out must be an amount")
    return TierLimits(
        country=country,
        tier=int(raw["tier"]),
        name=str(raw["name"]),
        requires=Requirement(raw["requires"]),
        daily_out=daily_out,
        max_balance=_money(raw["max_balance"], currency),
        monthly_in=_money(raw["monthly_in"], currency),
        ours=frozenset(Limit(name) for name in raw.get("ours", ())),
        basis=str(raw.get("basis", "")),
    )


def _scheme(country: str, raw: dict[str, Any]) -> tuple[TierLimits, ...]:
    currency = raw["currency"]
    served = get_country(country)
    if served is not None and served.currency != currency:
        raise KycError(f"{country} tiers are in {currency}, its wallets in {served.currency}")
    tiers = tuple(sorted((_tier(country, currency, t) for t in raw["tiers"]), key=lambda t: t.tier))
    if [t.tier for t in tiers] != list(range(len(tiers))):
        raise KycError(f"{country} tiers must be numbered 0, 1, 2… without gaps")
    return tiers


@cache
def all_tiers() -> dict[str, tuple[TierLimits, ...]]:
    """Every country's tiers, lowest first, from ``domain/data/kyc.json`` (cached; checked on load)."""
    raw = json.loads(resources.files("domain.data").joinpath("kyc.json").read_text("utf-8"))
    tiers = {code: _scheme(code, raw["schemes"][scheme]) for code, scheme in raw["countries"].items()}
    missing = set(COUNTRY_CODES) - set(tiers)
    if missing:
        raise KycError(f"no KYC tiers for {', '.join(sorted(missing))}")
    return tiers


def tiers_of(country_code: str) -> tuple[TierLimits, ...]:
    """A country's tiers, lowest first."""
    try:
        return all_tiers()[country_code.upper()]
    except KeyError:
        raise KycError(f"no KYC tiers for {country_code!r}") from None


def limits_for(country_code: str, tier: int) -> TierLimits:
    """The limits of ``tier`` in a country; a tier above its highest gets the highest one."""
    tiers = tiers_of(country_code)
    if tier < 0:
        raise KycError(f"no tier {tier}")
    return tiers[min(tier, len(tiers) - 1)]


def next_tier(country_code: str, tier: int) -> TierLimits | None:
    """The tier above ``tier`` (its ``requires`` says what it takes), or None at the top."""
    tiers = tiers_of(country_code)
    return tiers[tier + 1] if 0 <= tier + 1 < len(tiers) else None


def accepted_kinds(country_code: str) -> frozenset[IdentityKind]:
    """The identity numbers that count towards a tier in a country."""
    kinds: set[IdentityKind] = set()
    for limits in tiers_of(country_code):
        if limits.requires in (Requirement.BVN_OR_NIN, Requirement.BVN_AND_NIN):
            kinds |= {IdentityKind.BVN, IdentityKind.NIN}
        elif limits.requires is Requirement.NATIONAL_ID:
            kinds.add(IdentityKind.NATIONAL_ID)
    return frozenset(kinds)


def _satisfied(requirement: Requirement, verified: frozenset[IdentityKind]) -> bool:
    match requirement:
        case Requirement.NONE:
            return True
        case Requirement.BVN_OR_NIN:
            return bool(verified & {IdentityKind.BVN, IdentityKind.NIN})
        case Requirement.BVN_AND_NIN:
            return {IdentityKind.BVN, IdentityKind.NIN} <= verified
        case Requirement.NATIONAL_ID:
            return IdentityKind.NATIONAL_ID in verified
        case _:
            return False


def earned_tier(country_code: str, verified: frozenset[IdentityKind]) -> int:
    """The highest tier the verified numbers reach on their own (tiers are climbed in order)."""
    earned = 0
    for limits in tiers_of(country_code):
        if not _satisfied(limits.requires, verified):
            break
        earned = limits.tier
    return earned


# -- identity numbers ------------------------------------------------------------------------


def validate_number(kind: IdentityKind, number: str) -> str | NumberProblem:
    """The number normalized (separators dropped; ID cards upper-cased), or why it is refused.

    BVN and NIN are 11 digits. National ID cards differ by country (GHA-123456789-0, 13 or 17
    digits in Senegal, letters and digits in Côte d'Ivoire…), so any 6-20 letters and digits with
    at least 4 digits passes here and the registry decides.
    """
    if len(number) > _MAX_INPUT:
        return NumberProblem.WRONG_LENGTH
    compact = _SEPARATORS.sub("", number)
    if kind is IdentityKind.NATIONAL_ID:
        compact = compact.upper()
        plausible = _NATIONAL_ID.fullmatch(compact) and sum(c.isdigit() for c in compact) >= 4
        return compact if plausible else NumberProblem.MALFORMED
    if _NOT_DIGIT.search(compact):
        return NumberProblem.NOT_DIGITS
    return compact if len(compact) == 11 else NumberProblem.WRONG_LENGTH


def identity_hash(kind: IdentityKind, country_code: str, number: str, pepper: str | bytes) -> str:
    """The keyed hash stored for a normalized number (hex HMAC-SHA256 of kind, country and number)."""
    key = pepper.encode() if isinstance(pepper, str) else pepper
    if not key:
        raise KycError("a KYC pepper is required to hash identity numbers")
    material = f"{kind.value}:{country_code.upper()}:{number}".encode()
    return hmac.new(key, material, hashlib.sha256).hexdigest()


def _slot(kind: IdentityKind) -> tuple[str, str]:
    """The profile columns (hash, last 4) a kind is kept in.

    A country's national ID number shares the NIN's columns: the NIN *is* Nigeria's national ID
    number, a user has one of them, and the hashes differ by kind and country anyway.
    """
    return ("bvn_hash", "bvn_last4") if kind is IdentityKind.BVN else ("nin_hash", "nin_last4")


def verified_kinds(profile: KycProfile | None, country_code: str) -> frozenset[IdentityKind]:
    """The kinds of number a profile holds, read as the country counts them."""
    if profile is None:
        return frozenset()
    kinds: set[IdentityKind] = set()
    if profile.bvn_hash:
        kinds.add(IdentityKind.BVN)
    if profile.nin_hash:
        national = IdentityKind.NIN in accepted_kinds(country_code)
        kinds.add(IdentityKind.NIN if national else IdentityKind.NATIONAL_ID)
    return frozenset(kinds)


def _tokens(name: str) -> list[str]:
    return [token.upper() for token in _NAME_TOKEN.findall(name)]


def _same_token(a: str, b: str) -> bool:
    """Equal, or one starts the other (``ADA``/``ADAEZE``); initials must be equal."""
    shorter, longer = sorted((a, b), key=len)
    return shorter == longer or (len(shorter) >= 3 and longer.startswith(shorter))


def same_person(name: str, other: str) -> bool:
    """Whether two registry names plausibly belong to one person.

    Registries spell names differently (order, middle names, ``ADA`` for ``ADAEZE``), so tokens
    match when one starts the other; two matching tokens are needed unless a name has only one.
    A mismatch is a refusal staff can overrule (``set_tier``), so this errs towards refusing.
    """
    mine, theirs = _tokens(name), _tokens(other)
    if not mine or not theirs:
        return True  # a registry that gave no name gives nothing to compare
    matching = sum(any(_same_token(a, b) for b in theirs) for a in mine)
    return matching >= min(2, len(mine), len(theirs))


# -- profiles and limits -------------------------------------------------------------------------


async def profile(session: AsyncSession, user_id: int) -> KycProfile | None:
    """A user's KYC profile; None when they never verified anything (tier 0)."""
    return await session.get(KycProfile, user_id)


async def number_on_file(
    session: AsyncSession, user_id: int, country: str, number: str, pepper: str | bytes
) -> IdentityKind | None:
    """Which of the user's verified numbers ``number`` is (compared by keyed hash), or None.

    For proofs of identity such as a PIN reset: nothing is asked of the registry.
    """
    found = await profile(session, user_id)
    for kind in sorted(verified_kinds(found, country)):
        normalized = validate_number(kind, number)
        stored = getattr(found, _slot(kind)[0])
        if isinstance(normalized, NumberProblem) or not stored:
            continue
        if hmac.compare_digest(stored, identity_hash(kind, country, normalized, pepper)):
            return kind
    return None


async def tier_of(session: AsyncSession, user_id: int) -> int:
    """A user's tier (0 without a profile)."""
    tier = await session.scalar(select(KycProfile.tier).where(KycProfile.user_id == user_id))
    return int(tier or 0)


async def _held(session: AsyncSession, user_id: int, currency: str) -> int:
    """What a wallet holds for the balance cap: posted, plus credits on their way in."""
    account_id = await ledger.open_wallet(session, user_id, currency)
    balance = await ledger.balance(session, account_id)
    return balance.posted + balance.credits_pending


def month_start(now: datetime | None = None) -> datetime:
    """The start of the calendar month (UTC) that ``monthly_in`` counts from."""
    moment = now or utcnow()
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def credited_this_month(session: AsyncSession, user_id: int, currency: str) -> int:
    """Top-ups credited to a user's wallet since the month started, in minor units."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.user_id == user_id,
            Payment.currency == currency,
            Payment.credited_at >= month_start(),
        )
    )
    return int(total or 0)


def _check_currency(limits: TierLimits, currency: str) -> None:
    if limits.currency != currency:
        raise KycError(f"{limits.country} limits are in {limits.currency}, not {currency}")


async def room_for_credit(session: AsyncSession, user_id: int, country: str, currency: str) -> int | None:
    """Minor units the wallet may still receive before its balance cap (None: no cap)."""
    limits = limits_for(country, await tier_of(session, user_id))
    _check_currency(limits, currency)
    if limits.max_balance is None:
        return None
    return max(limits.max_balance.minor - await _held(session, user_id, currency), 0)


async def topup_room(session: AsyncSession, user_id: int, country: str, currency: str) -> Headroom | None:
    """The tightest of the balance and monthly top-up caps on funding now (None: neither applies)."""
    tier = await tier_of(session, user_id)
    limits = limits_for(country, tier)
    _check_currency(limits, currency)
    rooms: list[Headroom] = []
    if limits.max_balance is not None:
        held = await _held(session, user_id, currency)
        rooms.append(_headroom(Limit.MAX_BALANCE, limits.max_balance, held, tier))
    if limits.monthly_in is not None:
        credited = await credited_this_month(session, user_id, currency)
        rooms.append(_headroom(Limit.MONTHLY_IN, limits.monthly_in, credited, tier))
    return min(rooms, key=lambda room: room.room.minor, default=None)


def _headroom(limit: Limit, cap: Money, used: int, tier: int) -> Headroom:
    return Headroom(limit, cap, Money(max(cap.minor - used, 0), cap.currency), tier)


# -- staff review ------------------------------------------------------------------------------


async def _locked_profile(session: AsyncSession, user_id: int) -> KycProfile:
    """The user's profile (created at tier 0 if missing) under its row lock."""
    statement = (
        dialect_insert(session)(KycProfile)
        .values(user_id=user_id, tier=0, updated_at=utcnow())
        .on_conflict_do_nothing(index_elements=["user_id"])
    )
    await session.execute(statement)
    found = await session.scalar(
        select(KycProfile)
        .where(KycProfile.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert found is not None  # inserted just above, or there already
    return found


def _highest_tier(country_code: str | None) -> int:
    """The top tier of a country (of any country when the user has none yet)."""
    if country_code:
        return len(tiers_of(country_code)) - 1
    return max(len(tiers) for tiers in all_tiers().values()) - 1


async def set_tier(session: AsyncSession, user_id: int, tier: int, *, staff_id: int, reason: str = "") -> int:
    """Staff set a user's tier (up to a staff-review tier, or down); audited. Returns the old tier."""
    user = await session.get(User, user_id)
    if user is None:
        raise KycError(f"no user {user_id}")
    highest = _highest_tier(user.country)
    if not 0 <= tier <= highest:
        raise KycError(f"tier {tier} does not exist for this user (0-{highest})")
    found = await _locked_profile(session, user_id)
    previous = found.tier
    found.tier, found.updated_at = tier, utcnow()
    await audit.record(
        session,
        f"staff:{staff_id}",
        "kyc.set_tier",
        f"user:{user_id}",
        {"from": previous, "to": tier, "reason": reason[:500]},
    )
    return previous


# -- identity upgrade ----------------------------------------------------------------------------


async def _linked_elsewhere(session: AsyncSession, kind: IdentityKind, digest: str, user_id: int) -> bool:
    column = getattr(KycProfile, _slot(kind)[0])
    other = await session.scalar(
        select(KycProfile.user_id).where(column == digest, KycProfile.user_id != user_id).limit(1)
    )
    return other is not None


async def _lock_identity(session: AsyncSession, digest: str, user_id: int) -> None:
    """Serialize upgrades of one number and of one user (PostgreSQL; SQLite transactions already are).

    Two users racing with one number cannot both get it, and one user's BVN and NIN checks
    racing each other cannot skip the name comparison. Always the number first, then the user.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in (int(digest[:7], 16), -1 - user_id % 2**31):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :key)"), {"namespace": _LOCK_NAMESPACE, "key": key}
        )


def _precheck(found: KycProfile | None, kind: IdentityKind, digest: str) -> UpgradeOutcome | None:
    """A refusal (or ALREADY_VERIFIED) that the profile alone decides; None to go on."""
    held = getattr(found, _slot(kind)[0]) if found is not None else None
    if held == digest:
        return UpgradeOutcome.ALREADY_VERIFIED
    if held is not None:
        return UpgradeOutcome.DIFFERENT_NUMBER
    return None


async def _refusal(
    session: AsyncSession, found: KycProfile | None, kind: IdentityKind, digest: str, user_id: int
) -> UpgradeOutcome | None:
    early = _precheck(found, kind, digest)
    if early is not None:
        return early
    if await _linked_elsewhere(session, kind, digest, user_id):
        return UpgradeOutcome.ALREADY_LINKED
    return None


_STATUS_REFUSALS = {
    IdentityStatus.NOT_FOUND: UpgradeOutcome.NOT_FOUND,
    IdentityStatus.UNAVAILABLE: UpgradeOutcome.UNAVAILABLE,
}


@dataclass(frozen=True, slots=True)
class UpgradeCheck:
    """An identity upgrade past the refusals that need no registry: what to ask it, and of whom.

    Held in memory only, between ``prepare_upgrade`` and ``apply_upgrade``: ``number`` is the
    identity number in clear, which is never written anywhere.
    """

    user_id: int
    country: str
    kind: IdentityKind
    number: str
    """The normalized number, for the registry."""
    digest: str

    async def ask(self, verifier: IdentityVerifier) -> IdentityCheck:
        """Ask the registry (a billed call): made with no transaction open."""
        return await verifier.verify(self.kind, self.number, self.country)


async def upgrade(
    db: Database,
    *,
    user_id: int,
    country: str,
    kind: IdentityKind,
    number: str,
    verifier: IdentityVerifier,
    pepper: str | bytes,
) -> UpgradeResult:
    """Verify an identity number with the registry and raise the user's tier by what it earns.

    The three steps in their own transactions: ``prepare_upgrade``, the registry asked with no
    transaction open, ``apply_upgrade``.
    """
    async with db.transaction() as session:
        prepared = await prepare_upgrade(
            session, user_id=user_id, country=country, kind=kind, number=number, pepper=pepper
        )
    if isinstance(prepared, UpgradeResult):
        return prepared
    answer = await prepared.ask(verifier)
    async with db.transaction() as session:
        return await apply_upgrade(session, prepared, answer)


async def prepare_upgrade(
    session: AsyncSession,
    *,
    user_id: int,
    country: str,
    kind: IdentityKind,
    number: str,
    pepper: str | bytes,
) -> UpgradeCheck | UpgradeResult:
    """The refusals an upgrade gets before the registry is asked, or the check to make.

    Refusals write nothing: a malformed number or one that does not count in ``country``, a
    number linked to another user, a second number of a kind the user already verified (a
    number already on the profile comes back as ALREADY_VERIFIED).
    """
    country = country.upper()
    if kind not in accepted_kinds(country):
        return await _refused(session, user_id, UpgradeOutcome.NOT_ACCEPTED)
    normalized = validate_number(kind, number)
    if isinstance(normalized, NumberProblem):
        return await _refused(session, user_id, UpgradeOutcome.INVALID_NUMBER, normalized)
    digest = identity_hash(kind, country, normalized, pepper)
    # Cheap refusals first: every registry lookup is billed, found or not.
    early = await _refusal(session, await profile(session, user_id), kind, digest, user_id)
    if early is not None:
        return await _refused(session, user_id, early)
    return UpgradeCheck(user_id, country, kind, normalized, digest)


async def apply_upgrade(session: AsyncSession, check: UpgradeCheck, answer: IdentityCheck) -> UpgradeResult:
    """File the registry's answer: refuse (writing nothing) or store the number and raise the tier.

    Refused: a number not found or a registry that did not answer, and again under the locks
    what ``prepare_upgrade`` refused (a racing request may have won), plus a holder whose name
    does not match the user's other verified number. On a match only the keyed hash, the last 4
    characters and the holder's name are stored, the tier becomes what the verified numbers earn
    (never lower than it was, never a staff-review tier) and an audit line records it, in the
    caller's transaction. Applying the same answer twice stores it once (ALREADY_VERIFIED).
    """
    if answer.status in _STATUS_REFUSALS:
        log.info("user %s: %s check refused (%s)", check.user_id, check.kind.value, answer.status.value)
        return await _refused(session, check.user_id, _STATUS_REFUSALS[answer.status])
    late = await _late_refusal(session, check.user_id, check.kind, check.digest, answer.full_name)
    if late is not None:
        return await _refused(session, check.user_id, late)
    found = await _locked_profile(session, check.user_id)
    return await _store(
        session, found, check.country, check.kind, check.number, check.digest, answer.full_name
    )


async def _refused(
    session: AsyncSession, user_id: int, outcome: UpgradeOutcome, problem: NumberProblem | None = None
) -> UpgradeResult:
    """An upgrade that changed nothing: the user's tier as it is."""
    tier = await tier_of(session, user_id)
    return UpgradeResult(outcome, tier, tier, problem)


async def _late_refusal(
    session: AsyncSession, user_id: int, kind: IdentityKind, digest: str, full_name: str | None
) -> UpgradeOutcome | None:
    """The refusals to make again under the locks (a racing request may have won), and the name check."""
    await _lock_identity(session, digest, user_id)
    current = await session.scalar(
        select(KycProfile).where(KycProfile.user_id == user_id).execution_options(populate_existing=True)
    )
    refusal = await _refusal(session, current, kind, digest, user_id)
    if refusal is None and not _same_holder(current, full_name):
        return UpgradeOutcome.NAME_MISMATCH
    return refusal


def _same_holder(current: KycProfile | None, full_name: str | None) -> bool:
    """Whether the registry's holder is the person the user's earlier verified number belongs to."""
    if current is None or not current.verified_name or not full_name:
        return True
    return same_person(current.verified_name, full_name)


async def _store(
    session: AsyncSession,
    found: KycProfile,
    country: str,
    kind: IdentityKind,
    normalized: str,
    digest: str,
    full_name: str | None,
) -> UpgradeResult:
    """Write a verified number onto the locked profile, recompute the tier and audit it."""
    hash_column, last4_column = _slot(kind)
    setattr(found, hash_column, digest)
    setattr(found, last4_column, normalized[-4:])
    if not found.verified_name and full_name:
        found.verified_name = full_name[:128]
    now = utcnow()
    found.verified_at = found.updated_at = now
    before = found.tier
    found.tier = max(before, earned_tier(country, verified_kinds(found, country)))
    await audit.record(
        session,
        f"user:{found.user_id}",
        "kyc.verified",
        f"user:{found.user_id}",
        {"kind": kind.value, "country": country, "last4": normalized[-4:], "from": before, "to": found.tier},
    )
    outcome = UpgradeOutcome.UPGRADED if found.tier > before else UpgradeOutcome.VERIFIED
    return UpgradeResult(outcome, found.tier, before, full_name=full_name)
