"""The real VTpass adapter driven over HTTP against the in-process VTpass sandbox.

The sandbox (``sandbox.vtpass``) picks an outcome from the last 4 digits of the
recipient's number:

====  ======================================================================
0000  definite failure (pay: ``016``; requery: ``000`` + inner ``reversed``)
2222  ``099`` pending for ``pending_requeries`` requeries, then delivered
4444  ``099`` pending likewise, then reversed
3333  delivered, but the reply is held past the client timeout
5555  delivered, but the reply is HTTP 500 with an HTML body
7777  never received: nothing stored, connection dropped (requery: ``015``)
else  delivered immediately
====  ======================================================================

Knobs (``pending_requeries``, ``pending_seconds``, ``timeout_delay``, ``force``,
``wallet_balance``) go to ``create_vtpass_sandbox``/``start_vtpass_sandbox`` or
``POST /sandbox/control``; ``GET /sandbox/transactions`` lists what the sandbox recorded.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import unused_port

from domain.money import Money
from domain.ports import TopupRequest, TopupStatus
from payments.vtpass import LAGOS, VTpassError, VTpassProvider, new_request_id
from sandbox.vtpass import start_vtpass_sandbox

API_KEY = "test-api-key"
PUBLIC_KEY = "PK_test"
SECRET_KEY = "SK_test"
CLIENT_TIMEOUT = 0.3
SANDBOX_DELAY = 1.0


@pytest_asyncio.fixture(scope="module")
async def sandbox() -> AsyncIterator[str]:
    runner, base_url = await start_vtpass_sandbox(
        api_key=API_KEY,
        public_key=PUBLIC_KEY,
        secret_key=SECRET_KEY,
        pending_requeries=2,
        timeout_delay=SANDBOX_DELAY,
    )
    yield base_url
    await runner.cleanup()


@pytest_asyncio.fixture
async def provider(sandbox: str) -> AsyncIterator[VTpassProvider]:
    async with VTpassProvider(sandbox, API_KEY, PUBLIC_KEY, SECRET_KEY, timeout=CLIENT_TIMEOUT) as vtpass:
        yield vtpass


@pytest_asyncio.fixture
async def knobs(sandbox: str) -> AsyncIterator[Any]:
    """Set sandbox knobs for one test, restoring the module defaults afterwards."""
    async with aiohttp.ClientSession() as http:

        async def set_knobs(**values: Any) -> dict[str, Any]:
            async with http.post(f"{sandbox}/sandbox/control", json=values) as response:
                assert response.status == 200, await response.text()
                result: dict[str, Any] = await response.json()
                return result

        yield set_knobs
        await set_knobs(
            pending_requeries=2,
            pending_seconds=None,
            timeout_delay=SANDBOX_DELAY,
            force=None,
            wallet_balance=None,
        )


async def recorded(sandbox: str) -> dict[str, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{sandbox}/sandbox/transactions") as response,
    ):
        body = await response.json()
    return {t["request_id"]: t for t in body["transactions"]}


def ng(last4: str, *, amount: str = "100", bundle: str | None = None) -> TopupRequest:
    return TopupRequest(
        reference=new_request_id(),
        country="NG",
        service_id="mtn",
        phone=f"+234803123{last4}",
        amount=Money.of(amount, "NGN"),
        bundle_code=bundle,
    )


async def test_airtime_delivered(provider: VTpassProvider, sandbox: str) -> None:
    request = ng("4567", amount="150")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.DELIVERED
    assert result.provider_reference
    stored = (await recorded(sandbox))[request.reference]
    assert stored["amount"] == "150.00"
    assert stored["serviceID"] == "mtn"
    assert stored["status"] == "delivered"


async def test_data_bundle_delivered(provider: VTpassProvider, sandbox: str) -> None:
    request = ng("4567", amount="800", bundle="mtn-ng-1gb-7d")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.DELIVERED
    stored = (await recorded(sandbox))[request.reference]
    assert stored["serviceID"] == "mtn-data"
    assert stored["variation_code"] == "mtn-ng-1gb-7d"
    assert stored["amount"] == "800.00"


async def test_zero_decimal_currency_is_sent_exactly(provider: VTpassProvider, sandbox: str) -> None:
    request = TopupRequest(
        reference=new_request_id(),
        country="SN",
        service_id="orange-sn",
        phone="+221771234567",
        amount=Money.of("1000", "XOF"),
    )
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.DELIVERED
    stored = (await recorded(sandbox))[request.reference]
    assert (stored["amount"], stored["currency"]) == ("1000", "XOF")


async def test_definite_failure(provider: VTpassProvider) -> None:
    request = ng("0000")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.FAILED
    assert "016" in result.detail
    later = await provider.query_topup(request.reference)
    assert later.status is TopupStatus.FAILED
    assert "reversed" in later.detail


async def test_pending_then_delivered(provider: VTpassProvider) -> None:
    request = ng("2222")
    first = await provider.send_topup(request)
    assert first.status is TopupStatus.PENDING
    assert "099" in first.detail
    assert (await provider.query_topup(request.reference)).status is TopupStatus.PENDING
    assert (await provider.query_topup(request.reference)).status is TopupStatus.PENDING
    assert (await provider.query_topup(request.reference)).status is TopupStatus.DELIVERED


async def test_pending_then_reversed(provider: VTpassProvider) -> None:
    request = ng("4444")
    assert (await provider.send_topup(request)).status is TopupStatus.PENDING
    assert (await provider.query_topup(request.reference)).status is TopupStatus.PENDING
    assert (await provider.query_topup(request.reference)).status is TopupStatus.PENDING
    final = await provider.query_topup(request.reference)
    assert final.status is TopupStatus.FAILED
    assert "reversed" in final.detail


async def test_pending_resolves_by_time(provider: VTpassProvider, knobs: Any) -> None:
    await knobs(pending_requeries=100, pending_seconds=0.1)
    request = ng("2222")
    assert (await provider.send_topup(request)).status is TopupStatus.PENDING
    await asyncio.sleep(0.15)
    assert (await provider.query_topup(request.reference)).status is TopupStatus.DELIVERED


async def test_timeout_is_pending_then_delivered(provider: VTpassProvider) -> None:
    request = ng("3333")
    started = time.monotonic()
    result = await provider.send_topup(request)
    assert time.monotonic() - started < SANDBOX_DELAY
    assert result.status is TopupStatus.PENDING
    assert "timeout" in result.detail
    assert (await provider.query_topup(request.reference)).status is TopupStatus.DELIVERED


async def test_http_500_html_is_pending_then_delivered(provider: VTpassProvider) -> None:
    request = ng("5555")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.PENDING
    assert "500" in result.detail
    assert (await provider.query_topup(request.reference)).status is TopupStatus.DELIVERED


async def test_never_received_is_pending_then_not_found(provider: VTpassProvider, sandbox: str) -> None:
    request = ng("7777")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.PENDING
    assert (await provider.query_topup(request.reference)).status is TopupStatus.NOT_FOUND
    assert request.reference not in await recorded(sandbox)


async def test_dropped_connection_is_pending(provider: VTpassProvider, knobs: Any) -> None:
    await knobs(timeout_delay=0.01)
    request = ng("7777")
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.PENDING
    assert "timeout" not in result.detail
    assert (await provider.query_topup(request.reference)).status is TopupStatus.NOT_FOUND


async def test_duplicate_reference_returns_stored_outcome(provider: VTpassProvider, sandbox: str) -> None:
    request = ng("4567")
    first = await provider.send_topup(request)
    again = await provider.send_topup(request)
    assert first.status is again.status is TopupStatus.DELIVERED
    assert again.provider_reference == first.provider_reference
    assert [r for r in await recorded(sandbox) if r == request.reference] == [request.reference]

    failed = ng("0000")
    assert (await provider.send_topup(failed)).status is TopupStatus.FAILED
    assert (await provider.send_topup(failed)).status is TopupStatus.FAILED


async def test_duplicate_of_unknown_outcome_requeries(provider: VTpassProvider) -> None:
    request = ng("3333")
    assert (await provider.send_topup(request)).status is TopupStatus.PENDING
    again = await provider.send_topup(request)
    assert again.status is TopupStatus.DELIVERED


async def test_wrong_keys(sandbox: str) -> None:
    async with VTpassProvider(sandbox, API_KEY, PUBLIC_KEY, "wrong", timeout=CLIENT_TIMEOUT) as bad:
        request = ng("4567")
        result = await bad.send_topup(request)
        assert result.status is TopupStatus.FAILED
        assert "087" in result.detail
        assert "INVALID CREDENTIALS" in result.detail
        query = await bad.query_topup(request.reference)
        assert query.status is TopupStatus.PENDING
        assert "087" in query.detail
    assert request.reference not in await recorded(sandbox)
    async with VTpassProvider(sandbox, API_KEY, "wrong", SECRET_KEY) as bad_public:
        with pytest.raises(VTpassError):
            await bad_public.service_variations("mtn-data")


@pytest.mark.parametrize(
    "reference",
    ["ORDER-123456789", "20251301120012ab", "2025010112", "202501011200-x", "202501011200 "],
)
async def test_bad_request_id_format(provider: VTpassProvider, reference: str) -> None:
    request = TopupRequest(reference, "NG", "mtn", "+2348031234567", Money.of("100", "NGN"))
    result = await provider.send_topup(request)
    assert result.status is TopupStatus.FAILED
    assert "011" in result.detail


@pytest.mark.parametrize(("amount", "code"), [("49.99", "013"), ("50000.01", "017"), ("1000000", "017")])
async def test_amount_limits(provider: VTpassProvider, amount: str, code: str) -> None:
    result = await provider.send_topup(ng("4567", amount=amount))
    assert result.status is TopupStatus.FAILED
    assert code in result.detail


async def test_amount_limits_are_inclusive(provider: VTpassProvider) -> None:
    for amount in ("50", "50000"):
        assert (await provider.send_topup(ng("4567", amount=amount))).status is (TopupStatus.DELIVERED)


async def test_unknown_service_and_variation(provider: VTpassProvider) -> None:
    unknown = TopupRequest(new_request_id(), "NG", "nosuchnet", "+2348031234567", Money.of("100", "NGN"))
    result = await provider.send_topup(unknown)
    assert result.status is TopupStatus.FAILED
    assert "012" in result.detail
    bundle = await provider.send_topup(ng("4567", amount="800", bundle="mtn-ng-999gb"))
    assert bundle.status is TopupStatus.FAILED
    assert "012" in bundle.detail


async def test_low_wallet_and_unreachable_biller_are_pending(provider: VTpassProvider, knobs: Any) -> None:
    await knobs(wallet_balance="120")
    low = await provider.send_topup(ng("4567", amount="150"))
    assert low.status is TopupStatus.PENDING
    assert "018" in low.detail
    assert (await provider.send_topup(ng("4567", amount="100"))).status is TopupStatus.DELIVERED
    assert (await provider.send_topup(ng("4567", amount="100"))).status is TopupStatus.PENDING

    await knobs(wallet_balance=None, force="unreachable")
    unreachable = await provider.send_topup(ng("4567"))
    assert unreachable.status is TopupStatus.PENDING
    assert "030" in unreachable.detail


async def test_force_overrides_magic_numbers(provider: VTpassProvider, knobs: Any) -> None:
    assert (await knobs(force="delivered"))["force"] == "delivered"
    assert (await provider.send_topup(ng("0000"))).status is TopupStatus.DELIVERED
    await knobs(force="failed")
    assert (await provider.send_topup(ng("4567"))).status is TopupStatus.FAILED


async def test_service_variations(provider: VTpassProvider) -> None:
    variations = await provider.service_variations("mtn-data")
    codes = {v.code: v for v in variations}
    assert "mtn-ng-1gb-7d" in codes
    assert codes["mtn-ng-1gb-7d"].amount == Decimal("800")
    assert codes["mtn-ng-1gb-7d"].fixed_price
    with pytest.raises(VTpassError):
        await provider.service_variations("nosuch-data")


async def test_raw_protocol_phone_forms_and_numeric_amounts(sandbox: str) -> None:
    headers = {"api-key": API_KEY, "secret-key": SECRET_KEY}
    async with aiohttp.ClientSession() as http:

        async def pay(phone: str, amount: Any = 100) -> dict[str, Any]:
            body = {"request_id": new_request_id(), "serviceID": "mtn", "amount": amount}
            async with http.post(
                f"{sandbox}/api/pay", json={**body, "phone": phone}, headers=headers
            ) as response:
                result: dict[str, Any] = await response.json()
                return result

        assert (await pay("08031234567"))["code"] == "000"
        assert (await pay("8031234567", amount="100.50"))["code"] == "000"
        assert (await pay("2348031234567", amount=100.5))["code"] == "000"
        assert (await pay("+2348031234567"))["code"] == "011"
        assert (await pay("0803"))["code"] == "011"
        assert (await pay("08031234567", amount="100.001"))["code"] == "011"
        assert (await pay("08031234567", amount=True))["code"] == "011"
        async with http.post(
            f"{sandbox}/api/requery", json={"request_id": "nope"}, headers=headers
        ) as response:
            assert (await response.json())["code"] == "015"


def test_request_id_is_lagos_time() -> None:
    utc_evening = datetime(2025, 3, 1, 22, 30, tzinfo=UTC)
    assert new_request_id("abc", now=utc_evening) == "202503012330abc"
    assert new_request_id().startswith(datetime.now(LAGOS).strftime("%Y%m%d"))
    with pytest.raises(ValueError):
        new_request_id("not-alnum")


async def test_logs_mask_phone_and_hide_keys(
    provider: VTpassProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="payments.vtpass")
    await provider.send_topup(ng("5555"))
    text = caplog.text
    assert "******5555" in text
    assert "2348031235555" not in text
    for secret in (API_KEY, PUBLIC_KEY, SECRET_KEY):
        assert secret not in text


async def _fake_provider(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/api/pay", handler)
    app.router.add_post("/api/requery", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        ({"code": "000", "content": {"transactions": {"status": "initiated"}}}, 200),
        ({"code": "000", "content": {"transactions": {"status": "pending"}}}, 200),
        ({"code": "000"}, 200),
        ({"code": "999", "response_description": "WHAT"}, 200),
        ({"code": "016"}, 502),
        ("<html>maintenance</html>", 200),
        (["not", "an", "object"], 200),
    ],
)
async def test_unexpected_replies_are_pending(reply: Any, status: int) -> None:
    async def handler(request: web.Request) -> web.Response:
        if isinstance(reply, str):
            return web.Response(text=reply, status=status, content_type="text/html")
        return web.json_response(reply, status=status)

    runner, base_url = await _fake_provider(handler)
    try:
        async with VTpassProvider(base_url, "k", "p", "s", timeout=CLIENT_TIMEOUT) as vtpass:
            assert (await vtpass.send_topup(ng("4567"))).status is TopupStatus.PENDING
            assert (await vtpass.query_topup("202501011200x")).status is TopupStatus.PENDING
    finally:
        await runner.cleanup()


async def test_connection_refused_is_pending() -> None:
    base_url = f"http://127.0.0.1:{unused_port()}"
    async with VTpassProvider(base_url, "k", "p", "s", timeout=CLIENT_TIMEOUT) as vtpass:
        result = await vtpass.send_topup(ng("4567"))
        assert result.status is TopupStatus.PENDING
        assert "connection" in result.detail
        assert (await vtpass.query_topup("202501011200x")).status is TopupStatus.PENDING


async def test_caller_owned_session_stays_open(sandbox: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with VTpassProvider(
            sandbox, API_KEY, PUBLIC_KEY, SECRET_KEY, timeout=CLIENT_TIMEOUT, session=http
        ) as vtpass:
            assert (await vtpass.send_topup(ng("4567"))).status is TopupStatus.DELIVERED
        assert not http.closed
