"""Each payout adapter against its sandbox over loopback HTTP: names, outcomes, idempotency, webhooks.

For every gateway and kind of destination: a name found and not found; a payout that succeeds,
fails, stays pending until queried, is reversed, or times out (and is found by a query); the
same reference sent twice (in a row and at once) pays once; webhooks as delivered (authentic,
forged, twice, never) and a funding webhook, which is not a payout's.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import pytest_asyncio
from aiohttp import web

from domain.ports import LookupStatus, PayoutCheck, PayoutRequest, PayoutStatus, WebhookNotice
from sandbox.transfers import account_name
from tests.integration.payout_kits import KITS, PayoutKit

Delivered = list[tuple[bytes, dict[str, str]]]


@pytest_asyncio.fixture(scope="module", params=sorted(KITS))
async def kit(request: pytest.FixtureRequest) -> AsyncIterator[PayoutKit]:
    async with KITS[request.param]() as built:
        yield built


@pytest_asyncio.fixture(scope="module")
async def receiver() -> AsyncIterator[tuple[str, Delivered]]:
    """A web app that records every webhook posted to it."""
    received: Delivered = []

    async def record(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_route("*", "/hook", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}/hook", received
    await runner.cleanup()


@pytest.fixture(autouse=True)
def _default_knobs(kit: PayoutKit, receiver: tuple[str, Delivered]) -> None:
    url, received = receiver
    received.clear()
    kit.sandbox.set_knobs({"webhook_url": url, "copies": 1, "delay": 0})


def _request(kit: PayoutKit, last4: str) -> PayoutRequest:
    destination = kit.destination(last4)
    name = account_name(destination.account_number) or "UNKNOWN"
    return PayoutRequest(str(uuid.uuid4()), kit.amount, destination, name, "NexusTop transfer")


def _assert_paid(kit: PayoutKit, check: PayoutCheck, request: PayoutRequest, status: PayoutStatus) -> None:
    assert check.status is status, check
    assert check.reference == request.reference
    assert (check.amount_minor, check.currency) == (kit.amount.minor, kit.amount.currency)


async def _query_until_it_changes(kit: PayoutKit, reference: str, start: PayoutStatus) -> list[PayoutStatus]:
    seen = []
    for _ in range(6):
        seen.append((await kit.gateway.query_payout(reference)).status)
        if seen[-1] is not start:
            break
    return seen


def _notices(kit: PayoutKit, delivered: Delivered, reference: str) -> list[WebhookNotice]:
    notices = [kit.gateway.parse_payout_webhook(body, headers) for body, headers in delivered]
    return [n for n in notices if n is not None and n.reference == reference]


async def test_lookup_finds_the_account_holder(kit: PayoutKit) -> None:
    destination = kit.destination("5678")
    found = await kit.gateway.lookup_account(destination)
    assert found.status is LookupStatus.FOUND
    if kit.names_accounts:
        assert found.account_name == account_name(destination.account_number)
        assert found.account_name and found.account_name.isupper()
    else:  # no name service: the user confirms the number
        assert found.account_name is None


async def test_lookup_of_an_unknown_account_finds_nothing(kit: PayoutKit) -> None:
    if not kit.names_accounts:
        pytest.skip("this gateway has no name service for these accounts")
    found = await kit.gateway.lookup_account(kit.destination("0000"))
    assert found.status is LookupStatus.NOT_FOUND and found.account_name is None


async def test_lookup_when_the_gateway_is_down_is_unavailable(kit: PayoutKit) -> None:
    if not kit.names_accounts:
        pytest.skip("this gateway has no name service for these accounts")
    down = type(kit.gateway)
    args = {
        "paystack": ("http://127.0.0.1:9", "sk"),
        "flutterwave": ("http://127.0.0.1:9", "sk", "hash"),
        "momo": ("http://127.0.0.1:9", "k", "u", "s"),
    }[kit.name]
    gateway = down(*args, timeout=1.0)
    try:
        assert (await gateway.lookup_account(kit.destination("5678"))).status is LookupStatus.UNAVAILABLE
    finally:
        await gateway.close()


async def test_payout_succeeds(kit: PayoutKit) -> None:
    request = _request(kit, "5678")
    _assert_paid(kit, await kit.gateway.send_payout(request), request, PayoutStatus.SUCCEEDED)
    _assert_paid(kit, await kit.gateway.query_payout(request.reference), request, PayoutStatus.SUCCEEDED)
    transfer = kit.book.transfers[request.reference]
    assert transfer.account_number.endswith("5678")


async def test_payout_fails(kit: PayoutKit) -> None:
    request = _request(kit, "1111")
    check = await kit.gateway.send_payout(request)
    assert check.status is PayoutStatus.FAILED
    assert (await kit.gateway.query_payout(request.reference)).status is PayoutStatus.FAILED


async def test_payout_to_an_unknown_account_fails(kit: PayoutKit) -> None:
    request = _request(kit, "0000")
    assert (await kit.gateway.send_payout(request)).status is PayoutStatus.FAILED


async def test_pending_payout_succeeds_on_a_later_query(kit: PayoutKit) -> None:
    request = _request(kit, "2222")
    assert (await kit.gateway.send_payout(request)).status is PayoutStatus.PENDING
    seen = await _query_until_it_changes(kit, request.reference, PayoutStatus.PENDING)
    assert seen[0] is PayoutStatus.PENDING and seen[-1] is PayoutStatus.SUCCEEDED, seen
    _assert_paid(kit, await kit.gateway.query_payout(request.reference), request, PayoutStatus.SUCCEEDED)


async def test_pending_payout_settles_by_itself_and_sends_its_webhook(
    kit: PayoutKit, receiver: tuple[str, Delivered]
) -> None:
    kit.book.set_knobs({"settle_after": 0.1})
    try:
        request = _request(kit, "2222")
        assert (await kit.gateway.send_payout(request)).status is PayoutStatus.PENDING
        await asyncio.sleep(0.3)
        await kit.sandbox.idle()
    finally:
        kit.book.set_knobs({"settle_after": 60.0})
    assert kit.book.transfers[request.reference].status == "success"
    notices = _notices(kit, receiver[1], request.reference)
    assert len(notices) == 1 and notices[0].authentic is not False


async def test_reversed_payout(kit: PayoutKit, receiver: tuple[str, Delivered]) -> None:
    request = _request(kit, "3333")
    _assert_paid(kit, await kit.gateway.send_payout(request), request, PayoutStatus.SUCCEEDED)
    seen = await _query_until_it_changes(kit, request.reference, PayoutStatus.SUCCEEDED)
    assert seen[-1] is kit.reversal, seen
    await kit.sandbox.idle()
    notices = _notices(kit, receiver[1], request.reference)
    assert len(notices) == 2 and len({n.key for n in notices}) == 2  # paid, then reversed: two events


async def test_timed_out_payout_is_found_by_a_query(kit: PayoutKit) -> None:
    request = _request(kit, "4444")
    check = await kit.gateway.send_payout(request)
    assert check.status is PayoutStatus.PENDING, check
    assert request.reference in kit.book.transfers  # created although the answer never came
    _assert_paid(kit, await kit.gateway.query_payout(request.reference), request, PayoutStatus.SUCCEEDED)


async def test_the_same_reference_sent_twice_pays_once(kit: PayoutKit) -> None:
    request = _request(kit, "5678")
    first = await kit.gateway.send_payout(request)
    again = await kit.gateway.send_payout(request)
    retried = await kit.gateway.send_payout(replace(request, narration="a retry"))
    for check in (first, again, retried):
        _assert_paid(kit, check, request, PayoutStatus.SUCCEEDED)
    assert sum(t.reference == request.reference for t in kit.book.transfers.values()) == 1


async def test_the_same_reference_sent_twice_at_once_pays_once(kit: PayoutKit) -> None:
    request = _request(kit, "6789")
    before = len(kit.book.transfers)
    checks = await asyncio.gather(*(kit.gateway.send_payout(request) for _ in range(3)))
    assert {c.status for c in checks} == {PayoutStatus.SUCCEEDED}
    assert len(kit.book.transfers) == before + 1


async def test_a_failed_payout_sent_again_is_still_failed(kit: PayoutKit) -> None:
    request = _request(kit, "1111")
    await kit.gateway.send_payout(request)
    assert (await kit.gateway.send_payout(request)).status is PayoutStatus.FAILED
    assert sum(t.reference == request.reference for t in kit.book.transfers.values()) == 1


async def test_query_of_an_unknown_reference_is_not_found(kit: PayoutKit) -> None:
    assert (await kit.gateway.query_payout(str(uuid.uuid4()))).status is PayoutStatus.NOT_FOUND


async def test_webhook_is_authentic_and_names_the_payout(
    kit: PayoutKit, receiver: tuple[str, Delivered]
) -> None:
    request = _request(kit, "5678")
    await kit.gateway.send_payout(request)
    await kit.sandbox.idle()
    notices = _notices(kit, receiver[1], request.reference)
    assert len(notices) == 1
    notice = notices[0]
    assert notice.authentic is (True if kit.sign else None)
    assert notice.key and request.reference in notice.key


async def test_webhook_twice_has_one_key_and_never_is_found_by_query(
    kit: PayoutKit, receiver: tuple[str, Delivered]
) -> None:
    kit.sandbox.set_knobs({"copies": 2})
    twice = _request(kit, "5678")
    await kit.gateway.send_payout(twice)
    await kit.sandbox.idle()
    notices = _notices(kit, receiver[1], twice.reference)
    assert len(notices) == 2 and notices[0].key == notices[1].key  # a store deduplicates them
    kit.sandbox.set_knobs({"copies": 0})
    never = _request(kit, "5678")
    await kit.gateway.send_payout(never)
    await kit.sandbox.idle()
    assert _notices(kit, receiver[1], never.reference) == []
    assert (await kit.gateway.query_payout(never.reference)).status is PayoutStatus.SUCCEEDED


async def test_forged_webhook_is_refused_without_blocking_the_real_one(
    kit: PayoutKit, receiver: tuple[str, Delivered]
) -> None:
    request = _request(kit, "5678")
    await kit.gateway.send_payout(request)
    await kit.sandbox.idle()
    body, _ = next((b, h) for b, h in receiver[1] if request.reference.encode() in b)
    for headers in ({}, {"x-paystack-signature": "00", "verif-hash": "guessed"}):
        notice = kit.gateway.parse_payout_webhook(body, headers)
        assert notice is not None
        if kit.sign is None:  # unsigned gateway: only ever a hint, confirmed by the status query
            assert notice.authentic is None
        else:
            assert notice.authentic is False and notice.key.startswith("forged:")
            assert notice.reference is None
    if kit.sign is not None:
        tampered = body.replace(request.reference.encode(), str(uuid.uuid4()).encode())
        assert kit.gateway.parse_payout_webhook(tampered, kit.sign(body)).authentic is False


async def test_funding_webhooks_are_not_payouts_and_payouts_are_not_funding(
    kit: PayoutKit, receiver: tuple[str, Delivered]
) -> None:
    body, headers = kit.charge
    assert kit.gateway.parse_payout_webhook(body, headers) is None
    assert kit.gateway.parse_payout_webhook(b"not json", {}) is None
    assert kit.gateway.parse_payout_webhook(b"[1, 2]", {}) is None
    if kit.name == "momo":
        return  # the disbursement adapter is not the funding one
    request = _request(kit, "5678")
    await kit.gateway.send_payout(request)
    await kit.sandbox.idle()
    transfer_body, transfer_headers = next((b, h) for b, h in receiver[1] if request.reference.encode() in b)
    as_funding = kit.gateway.parse_webhook(transfer_body, transfer_headers)
    assert as_funding.authentic is True and as_funding.reference is None  # funding ignores it
