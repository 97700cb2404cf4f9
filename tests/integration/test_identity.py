"""The Dojah-shaped identity adapter over HTTP against the in-process sandbox registry.

Sandbox magic numbers (``sandbox.identity``): ending ``000`` not found, ``999`` HTTP 503,
``888`` answers after the sandbox's ``delay``; anything else matches a holder picked from the
last six digits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from pydantic import SecretStr

from domain.kyc import same_person
from domain.ports import IdentityKind, IdentityStatus
from nexustop.bootstrap import _start_sandbox, demo_settings
from nexustop.identity import build_identity_verifier, kyc_pepper
from nexustop.settings import Settings
from payments.identity import DojahIdentityVerifier, check_from_reply
from sandbox.identity import (
    APP_ID,
    SECRET_KEY,
    identity_sandbox_of,
    start_identity_sandbox,
)

CLIENT_TIMEOUT = 1.0
SANDBOX_DELAY = 2.5


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[tuple[web.AppRunner, str]]:
    runner, base_url = await start_identity_sandbox(delay=SANDBOX_DELAY)
    yield runner, base_url
    await runner.cleanup()


@pytest_asyncio.fixture
async def verifier(sandbox: tuple[web.AppRunner, str]) -> AsyncIterator[DojahIdentityVerifier]:
    client = DojahIdentityVerifier(sandbox[1], APP_ID, SECRET_KEY, timeout=CLIENT_TIMEOUT)
    yield client
    await client.close()


async def test_a_bvn_matches_with_the_holders_name_and_phone(verifier: DojahIdentityVerifier) -> None:
    check = await verifier.verify(IdentityKind.BVN, "22212345678", "NG")
    assert check.status is IdentityStatus.MATCHED
    assert check.full_name is not None and len(check.full_name.split()) == 3
    assert check.phone is not None and check.phone.startswith("+234803")
    again = await verifier.verify(IdentityKind.BVN, "22212345678", "NG")
    assert again == check  # deterministic


async def test_a_nin_ending_like_the_bvn_belongs_to_the_same_person(verifier: DojahIdentityVerifier) -> None:
    bvn = await verifier.verify(IdentityKind.BVN, "22200345678", "NG")
    nin = await verifier.verify(IdentityKind.NIN, "70100345678", "NG")
    other = await verifier.verify(IdentityKind.NIN, "70100345679", "NG")
    assert bvn.status is nin.status is IdentityStatus.MATCHED
    assert bvn.full_name == nin.full_name and bvn.phone == nin.phone
    assert other.full_name is not None and bvn.full_name is not None
    assert not same_person(bvn.full_name, other.full_name)  # another ending, another holder


async def test_a_national_id_card_matches_in_its_country(verifier: DojahIdentityVerifier) -> None:
    check = await verifier.verify(IdentityKind.NATIONAL_ID, "GHA1234567890", "GH")
    assert check.status is IdentityStatus.MATCHED
    assert check.full_name and check.phone and check.phone.startswith("+233")
    senegal = await verifier.verify(IdentityKind.NATIONAL_ID, "1234567890123", "SN")
    assert senegal.status is IdentityStatus.MATCHED and senegal.phone and senegal.phone.startswith("+221")


async def test_numbers_ending_000_are_not_found(verifier: DojahIdentityVerifier) -> None:
    for kind, number, country in (
        (IdentityKind.BVN, "22212345000", "NG"),
        (IdentityKind.NIN, "70123456000", "NG"),
        (IdentityKind.NATIONAL_ID, "CI0012345000", "CI"),
    ):
        check = await verifier.verify(kind, number, country)
        assert check.status is IdentityStatus.NOT_FOUND
        assert check.full_name is None and check.phone is None


async def test_a_registry_answering_503_is_unavailable(verifier: DojahIdentityVerifier) -> None:
    check = await verifier.verify(IdentityKind.BVN, "22212345999", "NG")
    assert check.status is IdentityStatus.UNAVAILABLE


async def test_a_slow_registry_is_unavailable_not_an_exception(verifier: DojahIdentityVerifier) -> None:
    check = await verifier.verify(IdentityKind.NIN, "70123456888", "NG")
    assert check.status is IdentityStatus.UNAVAILABLE


async def test_wrong_credentials_are_unavailable(sandbox: tuple[web.AppRunner, str]) -> None:
    client = DojahIdentityVerifier(sandbox[1], APP_ID, "wrong-key", timeout=CLIENT_TIMEOUT)
    try:
        check = await client.verify(IdentityKind.BVN, "22212345678", "NG")
    finally:
        await client.close()
    assert check.status is IdentityStatus.UNAVAILABLE


async def test_nothing_listening_is_unavailable() -> None:
    client = DojahIdentityVerifier("http://127.0.0.1:9", APP_ID, SECRET_KEY, timeout=CLIENT_TIMEOUT)
    try:
        check = await client.verify(IdentityKind.BVN, "22212345678", "NG")
    finally:
        await client.close()
    assert check.status is IdentityStatus.UNAVAILABLE


async def test_the_sandbox_speaks_dojahs_shape(sandbox: tuple[web.AppRunner, str]) -> None:
    headers = {"AppId": APP_ID, "Authorization": SECRET_KEY}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{sandbox[1]}/api/v1/kyc/bvn/full", params={"bvn": "22212345678"}) as response:
            assert response.status == 401
        url = f"{sandbox[1]}/api/v1/kyc/bvn/full"
        async with http.get(url, params={"bvn": "22212345678"}, headers=headers) as response:
            entity = (await response.json())["entity"]
        assert entity["bvn"] == "22212345678"
        assert {"first_name", "middle_name", "last_name", "phone_number1", "date_of_birth"} <= set(entity)
        async with http.get(url, params={"bvn": "12345"}, headers=headers) as response:
            assert response.status == 400 and (await response.json()) == {"error": "Invalid BVN"}
        async with http.get(
            f"{sandbox[1]}/api/v1/kyc/nin", params={"nin": "70123456000"}, headers=headers
        ) as r:
            assert r.status == 400 and (await r.json()) == {"error": "NIN not found"}
    assert identity_sandbox_of(sandbox[0]).lookups > 0


def test_replies_map_to_statuses() -> None:
    matched = check_from_reply(
        200, {"entity": {"firstname": "John", "surname": "Doe", "mobile": "08031234567"}}, "NG"
    )
    assert (matched.status, matched.full_name, matched.phone) == (
        IdentityStatus.MATCHED,
        "John Doe",
        "+2348031234567",
    )
    assert check_from_reply(404, {"message": "Passport not found"}, "GH").status is IdentityStatus.NOT_FOUND
    assert check_from_reply(400, {"error": "missing parameter"}, "NG").status is IdentityStatus.UNAVAILABLE
    assert check_from_reply(200, {"status": "ok"}, "NG").status is IdentityStatus.UNAVAILABLE
    assert check_from_reply(429, {"error": "Too many requests"}, "NG").status is IdentityStatus.UNAVAILABLE
    assert check_from_reply(500, None, "NG").status is IdentityStatus.UNAVAILABLE


async def test_the_demo_runs_the_sandbox_and_the_verifier_reaches_it() -> None:
    bare = Settings(
        database_url="sqlite+aiosqlite:///:memory:",
        identity_app_id="",
        identity_secret_key=SecretStr(""),
        kyc_pepper=SecretStr(""),
    )
    assert build_identity_verifier(bare) is None  # no credentials: identity checks are off
    with pytest.raises(RuntimeError):
        kyc_pepper(bare)
    settings = demo_settings(bare)
    assert kyc_pepper(settings)
    async with AsyncExitStack() as stack:
        settings = await _start_sandbox(stack, settings)
        verifier = build_identity_verifier(settings)
        assert verifier is not None
        try:
            check = await verifier.verify(IdentityKind.NIN, "70123456789", "NG")
        finally:
            await verifier.close()
    assert check.status is IdentityStatus.MATCHED
