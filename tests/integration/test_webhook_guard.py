"""What an unsigned request may write through ``/webhook/*``: nothing. Bodies are bounded per sender,
and a source that keeps failing is answered 429 before the handler (and PostgreSQL) is reached."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from domain.database import Database
from domain.funding import FundingService
from nexustop.funding import add_webhook_routes
from nexustop.webhook_guard import BODY_LIMITS, UNSIGNED, Strikes, guard
from payments.paystack import PaystackGateway
from tests.integration.every_route import every_route_app, routes, row_counts

REDIS_URL = "redis://127.0.0.1:6379/0"


def _event(size: int = 0) -> bytes:
    """A plausible gateway event naming a payment reference, padded to ``size`` bytes."""
    body = {"event": "charge.success", "data": {"reference": str(uuid.uuid4()), "status": "success"}}
    raw = json.dumps(body).encode()
    return raw if size <= len(raw) else json.dumps({**body, "pad": "x" * (size - len(raw) - 12)}).encode()


def _source() -> str:
    """A fresh documentation-range address, so runs sharing Redis never share a counter."""
    return f"2001:db8::{random.randint(1, 0xFFFF):x}:{random.randint(1, 0xFFFF):x}"


async def test_forged_paystack_webhooks_store_nothing_whatever_their_size(pg_url: str) -> None:
    """The reported attack: 60 KB POSTs with ``x-paystack-signature: 00`` each added a row."""
    async with every_route_app(pg_url) as h:
        db = h.app.db
        before = await row_counts(db)
        for size in (60_000, 60_000, 60_000):
            response = await h.client.post(
                "/webhook/paystack", data=_event(size), headers={"x-paystack-signature": "00"}
            )
            assert response.status == 413
            assert (await response.json())["error"] == "body_too_large"
        for size in (20_000, 100):
            response = await h.client.post(
                "/webhook/paystack", data=_event(size), headers={"x-paystack-signature": "00"}
            )
            assert response.status == 401
        assert await row_counts(db) == before


async def test_no_webhook_route_stores_anything_from_a_request_that_fails_its_signature(pg_url: str) -> None:
    async with every_route_app(pg_url) as h:
        hooks = [(method, path) for method, path in routes(h.client) if path.startswith("/webhook/")]
        assert {path for _, path in hooks} == set(BODY_LIMITS)  # every sender has its own limit
        before = await row_counts(h.app.db)
        for method, path in hooks:
            for headers in (
                {},
                {"x-paystack-signature": "0" * 128, "verif-hash": "nope", "flutterwave-signature": "AAAA"},
                {"X-Hub-Signature-256": "sha256=" + "0" * 64, "X-Telegram-Bot-Api-Secret-Token": "guess"},
            ):
                response = await h.client.request(
                    method, path, data=_event(), headers={**headers, "Content-Type": "application/json"}
                )
                expected = (200, 400, 401, 403, 405) if path in UNSIGNED or method == "GET" else (401, 403)
                assert response.status in expected, (method, path, headers, response.status)
        await h.settle()
        assert await row_counts(h.app.db) == before


@pytest_asyncio.fixture
async def guarded(db: Database) -> AsyncIterator[tuple[TestClient, list[str]]]:
    """The gateway webhooks behind the guard (3 strikes a minute), noting each time a handler runs."""
    reached: list[str] = []
    paystack = PaystackGateway("http://127.0.0.1:9", "sk_test_guard", callback_url="http://127.0.0.1:9/x")
    service = FundingService(db, {"paystack": paystack})  # type: ignore[dict-item]

    def funding(request: web.Request) -> FundingService:
        reached.append(request.path)
        return service

    redis = Redis.from_url(REDIS_URL)
    app = web.Application(middlewares=[guard(Strikes(redis, 3), trusted_proxies=["127.0.0.1"])])
    add_webhook_routes(app, funding)
    async with TestClient(TestServer(app)) as client:
        yield client, reached
    await redis.aclose()
    await paystack.close()


async def test_a_failing_source_gets_429_without_reaching_the_handler(
    guarded: tuple[TestClient, list[str]],
) -> None:
    client, reached = guarded
    attacker, gateway = {"X-Forwarded-For": _source()}, {"X-Forwarded-For": _source()}
    forged = {**attacker, "x-paystack-signature": "00"}
    for _ in range(3):
        assert (await client.post("/webhook/paystack", data=_event(), headers=forged)).status == 401
    assert len(reached) == 3
    for _ in range(5):
        refused = await client.post("/webhook/paystack", data=_event(), headers=forged)
        assert refused.status == 429 and (await refused.json())["error"] == "rate_limited"
    assert len(reached) == 3  # the handler, and so PostgreSQL, never saw them
    # Another source is not affected.
    other = await client.post(
        "/webhook/paystack", data=_event(), headers={**gateway, "x-paystack-signature": "0"}
    )
    assert other.status == 401


async def test_unsigned_routes_count_every_request(guarded: tuple[TestClient, list[str]]) -> None:
    client, reached = guarded
    source = {"X-Forwarded-For": _source()}
    statuses = [(await client.post("/webhook/mtn", data=_event(), headers=source)).status for _ in range(5)]
    assert statuses[3:] == [429, 429] and 429 not in statuses[:3]
    assert len(reached) == 3


async def test_each_route_refuses_a_body_over_its_limit(guarded: tuple[TestClient, list[str]]) -> None:
    client, reached = guarded
    for path in ("/webhook/paystack", "/webhook/flutterwave", "/webhook/mtn", "/webhook/orange"):
        limit = BODY_LIMITS[path]
        big = await client.post(path, data=b"x" * (limit + 1), headers={"X-Forwarded-For": _source()})
        assert big.status == 413 and (await big.json()) == {"error": "body_too_large", "limit": limit}
    assert reached == []
