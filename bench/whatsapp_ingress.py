"""WhatsApp webhook ingress: signed POSTs per second on loopback (signature check + durable insert + ack).

Run with no arguments: ``.venv/bin/python bench/whatsapp_ingress.py``. It creates a throwaway
PostgreSQL database on the server behind NEXUSTOP_BENCH_PG (default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, and starts the real web app
(``nexustop.web.create_app`` with the WhatsApp channel) in a separate process on a loopback port.
Processing after the ack (engine turns, sends) is switched off in that process so the figures are
the ingress path alone: read body, HMAC-SHA256 over the raw bytes, one INSERT … ON CONFLICT DO
NOTHING RETURNING in its own transaction, 200.

Bodies are Meta-shaped text-message webhooks with a fresh wamid each, signed in advance (so the
client's CPU goes to sending). Measurements:

* closed loop: C requests in flight for T seconds → the maximum rate;
* open loop: a fixed offered load R requests/s for T_open seconds; latency is measured from each
  request's scheduled time, so queueing counts.

Afterwards it checks that every acked update is in ``inbound_updates`` exactly once, and that a
re-delivered body is acked without a new row. The database is dropped at the end.

Environment (all optional): NEXUSTOP_BENCH_PG, NEXUSTOP_BENCH_CLIENTS (C, 32),
NEXUSTOP_BENCH_SECONDS (T, 10), NEXUSTOP_BENCH_RATE (R, 1000), NEXUSTOP_BENCH_OPEN_SECONDS (10).

The last three lines printed are ``updates_per_second=<closed-loop n>``, ``p50_ms=<open loop>`` and
``p99_ms=<open loop>``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import multiprocessing as mp
import socket
import time
import uuid
from typing import Any

import asyncpg
from aiohttp import ClientSession, ClientTimeout, TCPConnector, web
from bench_kit import admin, async_url, database_dsn, env_float, env_int

SECRET = "bench-app-secret"
PHONE_ID = "100000000000777"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(url: str, port: int, ready: Any) -> None:
    """The server process: the real web app, with processing after the ack switched off."""
    from pydantic import SecretStr

    from bots.whatsapp.channel import WhatsAppChannel
    from nexustop.settings import Settings
    from nexustop.web import create_app

    WhatsAppChannel.process_later = lambda self, ids: None  # type: ignore[method-assign,assignment]
    settings = Settings(
        database_url=url,
        whatsapp_phone_id=PHONE_ID,
        whatsapp_token=SecretStr("bench-token"),
        whatsapp_app_secret=SecretStr(SECRET),
        whatsapp_verify_token=SecretStr("bench"),
        whatsapp_poll_seconds=3600.0,
        celery_task_always_eager=True,
    )

    async def started(_: web.Application) -> None:
        ready.set()

    app = create_app(settings)
    app.on_startup.append(started)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _body(index: int) -> tuple[bytes, str]:
    wa_id = f"23480{index % 100_000_000:08d}"
    message = {
        "from": wa_id,
        "id": f"wamid.BENCH{uuid.uuid4().hex.upper()}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "buy 500 airtime for 08031234567"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_ID},
        "contacts": [{"profile": {"name": "Bench"}, "wa_id": wa_id}],
        "messages": [message],
    }
    envelope = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(envelope).encode()
    return body, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


async def _post(session: ClientSession, url: str, body: bytes, signature: str) -> int:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": signature}
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


Signed = list[tuple[bytes, str]]


async def _closed(url: str, clients: int, seconds: float, bodies: Signed) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    cursor = iter(bodies)

    async def worker(session: ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            body, signature = next(cursor)
            start = time.perf_counter()
            status = await _post(session, url, body, signature)
            latencies.append(time.perf_counter() - start)
            errors += status != 200

    connector = TCPConnector(limit=clients)
    async with ClientSession(connector=connector, timeout=ClientTimeout(total=30)) as session:
        await asyncio.gather(*(worker(session) for _ in range(clients)))
    return errors, latencies


async def _open(url: str, rate: float, seconds: float, bodies: Signed) -> tuple[int, list[float]]:
    latencies: list[float] = []
    errors = 0
    count = int(rate * seconds)
    tasks = []

    async def one(session: ClientSession, when: float, body: bytes, signature: str) -> None:
        nonlocal errors
        delay = when - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        status = await _post(session, url, body, signature)
        latencies.append(time.perf_counter() - when)
        errors += status != 200

    async with ClientSession(connector=TCPConnector(limit=256), timeout=ClientTimeout(total=30)) as session:
        start = time.perf_counter() + 0.2
        for index in range(count):
            body, signature = bodies[index]
            tasks.append(asyncio.create_task(one(session, start + index / rate, body, signature)))
        await asyncio.gather(*tasks)
    return errors, latencies


async def main() -> None:
    """Run the benchmark and print the figures."""
    from nexustop.db import upgrade_async

    clients = env_int("NEXUSTOP_BENCH_CLIENTS", 32)
    seconds = env_float("NEXUSTOP_BENCH_SECONDS", 10)
    rate = env_float("NEXUSTOP_BENCH_RATE", 1000)
    open_seconds = env_float("NEXUSTOP_BENCH_OPEN_SECONDS", 10)
    name = f"nexustop_bench_wa_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    url = async_url(database_dsn(name))
    server = None
    try:
        await upgrade_async(url)
        port = _free_port()
        ready = mp.get_context("spawn").Event()
        server = mp.get_context("spawn").Process(target=_serve, args=(url, port, ready), daemon=True)
        server.start()
        if not await asyncio.to_thread(ready.wait, 60):
            raise SystemExit("the server did not start")
        endpoint = f"http://127.0.0.1:{port}/webhook/whatsapp"
        print(f"server: nexustop web app (1 process) on 127.0.0.1:{port}, PostgreSQL database {name}")
        bodies = [_body(i) for i in range(int(max(seconds * 6000, rate * open_seconds)) + 1000)]

        warm_errors, _ = await _open(endpoint, 200, 1, bodies[-1000:])
        closed_errors, closed = await _closed(endpoint, clients, seconds, bodies)
        closed_rate = len(closed) / seconds
        print(
            f"closed loop, {clients} in flight, {seconds:.0f} s: {closed_rate:,.0f} updates/s, "
            f"p50 {_pct(closed, 0.5):.1f} ms, p99 {_pct(closed, 0.99):.1f} ms, errors {closed_errors}"
        )
        used = len(closed)
        fresh = bodies[used : used + int(rate * open_seconds)]
        open_errors, opened = await _open(endpoint, rate, open_seconds, fresh)
        print(
            f"open loop, offered {rate:,.0f}/s for {open_seconds:.0f} s: p50 {_pct(opened, 0.5):.1f} ms, "
            f"p99 {_pct(opened, 0.99):.1f} ms, max {_pct(opened, 1.0):.1f} ms, errors {open_errors}"
        )
        replay_status = await _replay(endpoint, bodies[0])
        check = await asyncpg.connect(database_dsn(name))
        try:
            stored = await check.fetchval("SELECT count(*) FROM inbound_updates")
            distinct = await check.fetchval("SELECT count(DISTINCT update_key) FROM inbound_updates")
        finally:
            await check.close()
        acked = 200 + len(closed) + len(opened) - warm_errors - closed_errors - open_errors
        print(
            f"durability: {stored} rows stored, {distinct} distinct keys, {acked} acked; "
            f"a re-delivery → HTTP {replay_status}, no new row"
        )
        if stored != distinct or stored != acked:
            print("WARNING: stored rows do not match acked updates")
        print(f"updates_per_second={closed_rate:.0f}")
        print(f"p50_ms={_pct(opened, 0.5):.1f}")
        print(f"p99_ms={_pct(opened, 0.99):.1f}")
    finally:
        if server is not None:
            server.terminate()
            server.join(10)
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _replay(url: str, item: tuple[bytes, str]) -> int:
    async with ClientSession() as session:
        return await _post(session, url, *item)


if __name__ == "__main__":
    asyncio.run(main())
