"""Identity upgrades and staff tier changes on PostgreSQL, checked by the real adapter against the sandbox.

Sandbox numbers: ending ``000`` not found, ``999`` unavailable; a BVN and a NIN that share their
last six digits belong to one person (see ``sandbox.identity``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select, text

from domain import audit, kyc
from domain.database import Database
from domain.kyc import NumberProblem, UpgradeOutcome, UpgradeResult
from domain.models import AuditEntry, KycProfile, User
from domain.ports import IdentityKind
from payments.identity import DojahIdentityVerifier
from sandbox.identity import APP_ID, SECRET_KEY, identity_sandbox_of, start_identity_sandbox

PEPPER = "test-kyc-pepper"
BVN, NIN, NATIONAL_ID = IdentityKind.BVN, IdentityKind.NIN, IdentityKind.NATIONAL_ID
#: Every raw number this module sends, refused or not: none may ever reach the database.
SENT: set[str] = set()


def _tail() -> str:
    """Six random digits that are no sandbox magic ending."""
    while True:
        tail = f"{secrets.randbelow(10**6):06d}"
        if tail[-3:] not in ("000", "999", "888"):
            return tail


def _person() -> tuple[str, str]:
    """A BVN and a NIN of one sandbox holder (same last six digits)."""
    tail = _tail()
    return f"22{secrets.randbelow(1000):03d}{tail}", f"70{secrets.randbelow(1000):03d}{tail}"


@pytest_asyncio.fixture(scope="module")
async def registry() -> AsyncIterator[tuple[web.AppRunner, DojahIdentityVerifier]]:
    runner, base_url = await start_identity_sandbox()
    verifier = DojahIdentityVerifier(base_url, APP_ID, SECRET_KEY, timeout=5.0)
    yield runner, verifier
    await verifier.close()
    await runner.cleanup()


@pytest.fixture
def verifier(registry: tuple[web.AppRunner, DojahIdentityVerifier]) -> DojahIdentityVerifier:
    return registry[1]


def _lookups(registry: tuple[web.AppRunner, DojahIdentityVerifier]) -> int:
    return identity_sandbox_of(registry[0]).lookups


async def _user(db: Database, country: str = "NG") -> int:
    async with db.transaction() as session:
        user = User(country=country, language="en")
        session.add(user)
        await session.flush()
        return user.id


async def _upgrade(
    db: Database,
    verifier: DojahIdentityVerifier,
    user_id: int,
    kind: IdentityKind,
    number: str,
    country: str = "NG",
) -> UpgradeResult:
    SENT.add(number)
    return await kyc.upgrade(
        db, user_id=user_id, country=country, kind=kind, number=number, verifier=verifier, pepper=PEPPER
    )


async def _profile(db: Database, user_id: int) -> KycProfile | None:
    async with db.transaction() as session:
        return await kyc.profile(session, user_id)


async def _audit(db: Database, user_id: int) -> list[AuditEntry]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.subject == f"user:{user_id}").order_by(AuditEntry.id)
        )
        return list(rows.all())


async def _nothing_written(db: Database, user_id: int) -> None:
    assert await _profile(db, user_id) is None
    assert await _audit(db, user_id) == []


async def test_a_bvn_takes_an_unverified_user_to_tier_1(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    user_id = await _user(db)
    bvn, _ = _person()
    result = await _upgrade(db, verifier, user_id, BVN, f"{bvn[:3]} {bvn[3:7]} {bvn[7:]}")
    SENT.add(bvn)
    assert (result.outcome, result.previous_tier, result.tier, result.ok) == (
        UpgradeOutcome.UPGRADED,
        0,
        1,
        True,
    )
    assert result.full_name
    found = await _profile(db, user_id)
    assert found is not None
    assert found.tier == 1
    assert found.bvn_hash == kyc.identity_hash(BVN, "NG", bvn, PEPPER)
    assert found.bvn_last4 == bvn[-4:]
    assert (found.nin_hash, found.nin_last4) == (None, None)
    assert found.verified_name == result.full_name and found.verified_at is not None
    [entry] = await _audit(db, user_id)
    assert (entry.actor, entry.action) == (f"user:{user_id}", "kyc.verified")
    assert json.loads(entry.details) == {
        "kind": "bvn",
        "country": "NG",
        "last4": bvn[-4:],
        "from": 0,
        "to": 1,
    }
    async with db.transaction() as session:
        assert await kyc.tier_of(session, user_id) == 1


async def test_bvn_and_nin_of_one_person_reach_tier_2(db: Database, verifier: DojahIdentityVerifier) -> None:
    user_id = await _user(db)
    bvn, nin = _person()
    first = await _upgrade(db, verifier, user_id, NIN, nin)
    assert (first.outcome, first.tier) == (UpgradeOutcome.UPGRADED, 1)
    second = await _upgrade(db, verifier, user_id, BVN, bvn)
    assert (second.outcome, second.previous_tier, second.tier) == (UpgradeOutcome.UPGRADED, 1, 2)
    found = await _profile(db, user_id)
    assert found is not None and found.tier == 2
    assert found.bvn_last4 == bvn[-4:] and found.nin_last4 == nin[-4:]
    assert [json.loads(e.details)["to"] for e in await _audit(db, user_id)] == [1, 2]


async def test_a_nin_of_someone_else_is_a_name_mismatch(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    user_id = await _user(db)
    bvn, _ = _person()
    _, strangers_nin = _person()
    await _upgrade(db, verifier, user_id, BVN, bvn)
    result = await _upgrade(db, verifier, user_id, NIN, strangers_nin)
    assert (result.outcome, result.tier, result.ok) == (UpgradeOutcome.NAME_MISMATCH, 1, False)
    found = await _profile(db, user_id)
    assert found is not None and found.nin_hash is None and found.tier == 1
    assert len(await _audit(db, user_id)) == 1


@pytest.mark.parametrize(
    ("kind", "number", "problem"),
    [
        (BVN, "2221234567", NumberProblem.WRONG_LENGTH),
        (NIN, "7012345678X", NumberProblem.NOT_DIGITS),
        (BVN, "", NumberProblem.WRONG_LENGTH),
    ],
)
async def test_a_malformed_number_is_refused_before_asking_anyone(
    db: Database,
    registry: tuple[web.AppRunner, DojahIdentityVerifier],
    kind: IdentityKind,
    number: str,
    problem: NumberProblem,
) -> None:
    user_id = await _user(db)
    before = _lookups(registry)
    result = await _upgrade(db, registry[1], user_id, kind, number)
    assert (result.outcome, result.problem, result.tier) == (UpgradeOutcome.INVALID_NUMBER, problem, 0)
    assert _lookups(registry) == before
    await _nothing_written(db, user_id)


async def test_not_found_and_unavailable_are_distinct_refusals(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    user_id = await _user(db)
    missing = await _upgrade(db, verifier, user_id, BVN, "22212345000")
    down = await _upgrade(db, verifier, user_id, NIN, "70112345999")
    assert (missing.outcome, missing.tier, missing.ok) == (UpgradeOutcome.NOT_FOUND, 0, False)
    assert (down.outcome, down.tier, down.ok) == (UpgradeOutcome.UNAVAILABLE, 0, False)
    await _nothing_written(db, user_id)


async def test_a_number_linked_to_another_user_is_refused_without_a_lookup(
    db: Database, registry: tuple[web.AppRunner, DojahIdentityVerifier]
) -> None:
    owner, other = await _user(db), await _user(db)
    bvn, _ = _person()
    assert (await _upgrade(db, registry[1], owner, BVN, bvn)).outcome is UpgradeOutcome.UPGRADED
    before = _lookups(registry)
    result = await _upgrade(db, registry[1], other, BVN, bvn)
    assert (result.outcome, result.tier) == (UpgradeOutcome.ALREADY_LINKED, 0)
    assert _lookups(registry) == before
    await _nothing_written(db, other)


async def test_two_users_racing_with_one_number_get_it_once(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    first, second = await _user(db), await _user(db)
    _, nin = _person()
    results = await asyncio.gather(
        _upgrade(db, verifier, first, NIN, nin), _upgrade(db, verifier, second, NIN, nin)
    )
    assert sorted(r.outcome for r in results) == [UpgradeOutcome.ALREADY_LINKED, UpgradeOutcome.UPGRADED]
    async with db.transaction() as session:
        digest = kyc.identity_hash(NIN, "NG", nin, PEPPER)
        holders = await session.scalar(select(func.count()).where(KycProfile.nin_hash == digest))
    assert holders == 1


async def test_the_same_number_again_changes_nothing_and_another_one_is_refused(
    db: Database, registry: tuple[web.AppRunner, DojahIdentityVerifier]
) -> None:
    user_id = await _user(db)
    bvn, _ = _person()
    other_bvn, _ = _person()
    await _upgrade(db, registry[1], user_id, BVN, bvn)
    before = _lookups(registry)
    again = await _upgrade(db, registry[1], user_id, BVN, bvn)
    assert (again.outcome, again.tier, again.ok) == (UpgradeOutcome.ALREADY_VERIFIED, 1, True)
    changed = await _upgrade(db, registry[1], user_id, BVN, other_bvn)
    assert (changed.outcome, changed.ok) == (UpgradeOutcome.DIFFERENT_NUMBER, False)
    assert _lookups(registry) == before
    found = await _profile(db, user_id)
    assert found is not None and found.bvn_hash == kyc.identity_hash(BVN, "NG", bvn, PEPPER)
    assert len(await _audit(db, user_id)) == 1


async def test_a_bvn_does_not_count_outside_nigeria_but_an_id_card_does(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    user_id = await _user(db, "SN")
    bvn, _ = _person()
    refused = await _upgrade(db, verifier, user_id, BVN, bvn, country="SN")
    assert refused.outcome is UpgradeOutcome.NOT_ACCEPTED
    await _nothing_written(db, user_id)
    card = f"1{secrets.randbelow(10**6):06d}{_tail()}"
    result = await _upgrade(db, verifier, user_id, NATIONAL_ID, card, country="SN")
    assert (result.outcome, result.tier) == (UpgradeOutcome.UPGRADED, 1)
    found = await _profile(db, user_id)
    assert found is not None and found.nin_hash == kyc.identity_hash(NATIONAL_ID, "SN", card, PEPPER)
    assert kyc.verified_kinds(found, "SN") == {NATIONAL_ID}


async def test_staff_set_tier_is_audited_and_verifying_never_lowers_it(
    db: Database, verifier: DojahIdentityVerifier
) -> None:
    user_id = await _user(db)
    async with db.transaction() as session:
        previous = await kyc.set_tier(session, user_id, 3, staff_id=7, reason="address and ID checked")
    assert previous == 0
    [entry] = await _audit(db, user_id)
    assert (entry.actor, entry.action) == ("staff:7", "kyc.set_tier")
    assert json.loads(entry.details) == {"from": 0, "to": 3, "reason": "address and ID checked"}
    _, nin = _person()
    result = await _upgrade(db, verifier, user_id, NIN, nin)
    assert (result.outcome, result.previous_tier, result.tier) == (UpgradeOutcome.VERIFIED, 3, 3)
    async with db.transaction() as session:
        assert await kyc.tier_of(session, user_id) == 3
        assert await kyc.set_tier(session, user_id, 1, staff_id=7, reason="fraud review") == 3
        assert await kyc.tier_of(session, user_id) == 1
        assert (await audit.verify(session)).ok


async def test_set_tier_refuses_tiers_the_country_does_not_have(db: Database) -> None:
    nigerian, senegalese = await _user(db), await _user(db, "SN")
    async with db.transaction() as session:
        with pytest.raises(kyc.KycError):
            await kyc.set_tier(session, nigerian, 4, staff_id=1)
        with pytest.raises(kyc.KycError):
            await kyc.set_tier(session, senegalese, 2, staff_id=1)
        with pytest.raises(kyc.KycError):
            await kyc.set_tier(session, 10**12, 1, staff_id=1)
    await _nothing_written(db, nigerian)


async def test_an_upgrade_without_a_pepper_is_refused(db: Database, verifier: DojahIdentityVerifier) -> None:
    user_id = await _user(db)
    bvn, _ = _person()
    SENT.add(bvn)
    with pytest.raises(kyc.KycError):
        await kyc.upgrade(
            db, user_id=user_id, country="NG", kind=BVN, number=bvn, verifier=verifier, pepper=""
        )


async def _all_values(db: Database, table: str) -> list[str]:
    async with db.transaction() as session:
        rows = (await session.execute(text(f"SELECT * FROM {table}"))).mappings().all()
    return [str(value) for row in rows for value in row.values()]


async def test_no_raw_number_is_ever_stored(db: Database, verifier: DojahIdentityVerifier) -> None:
    user_id = await _user(db)
    bvn, nin = _person()
    await _upgrade(db, verifier, user_id, BVN, bvn)
    await _upgrade(db, verifier, user_id, NIN, nin)
    await _upgrade(db, verifier, await _user(db), BVN, bvn)  # refused: linked
    assert len(SENT) > 10  # every test of this module sent its numbers through here
    stored = await _all_values(db, "kyc_profiles") + await _all_values(db, "audit_log")
    assert stored
    for number in SENT:
        if len(number) >= 6:
            assert not any(number in value for value in stored), "a raw identity number reached the database"


async def test_number_on_file_recognises_a_verified_number_without_the_registry(
    db: Database, registry: tuple[web.AppRunner, DojahIdentityVerifier]
) -> None:
    user_id = await _user(db)
    bvn, nin = _person()
    await _upgrade(db, registry[1], user_id, BVN, bvn)
    before = _lookups(registry)
    async with db.transaction() as session:
        spaced = f"{bvn[:4]} {bvn[4:]}"
        assert await kyc.number_on_file(session, user_id, "NG", spaced, PEPPER) is BVN
        assert await kyc.number_on_file(session, user_id, "NG", nin, PEPPER) is None  # not verified
        assert await kyc.number_on_file(session, user_id, "NG", bvn, "another-pepper") is None
        assert await kyc.number_on_file(session, await _user(db), "NG", bvn, PEPPER) is None
    assert _lookups(registry) == before
