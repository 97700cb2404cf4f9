"""How long one durable commit takes on the bench server's disk, and how often it stalls.

Run with no arguments: ``.venv/bin/python bench/commits.py``. It creates a throwaway database on
the server behind NEXUSTOP_BENCH_PG, then for T seconds (NEXUSTOP_BENCH_SECONDS, 20) commits a
one-row INSERT every 2 ms from one connection, so the server is otherwise idle and the figure is
the WAL flush the disk gives every commit (``synchronous_commit=on``). The open-loop latency
tails of ``engine.py`` and ``whatsapp_ingress.py`` are bounded below by this: while the disk
stalls, every commit waits, whatever the application does.

The last lines are ``commit_p50_ms``, ``commit_p99_ms``, ``commit_max_ms`` and ``stalls_over_50ms``.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import asyncpg
from bench_kit import admin, database_dsn, env_float

#: What counts as a stall: longer than any commit of an idle server with a healthy disk.
STALL_SECONDS = 0.05


async def commit_latencies(dsn: str, seconds: float) -> list[float]:
    """Seconds each autocommitted one-row INSERT took, for ``seconds``."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("CREATE TABLE commits (id bigserial PRIMARY KEY, at timestamptz)")
        latencies: list[float] = []
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await connection.execute("INSERT INTO commits (at) VALUES (now())")
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.002)
        return latencies
    finally:
        await connection.close()


async def main() -> None:
    """Measure on a throwaway database and print the figures last."""
    seconds = env_float("NEXUSTOP_BENCH_SECONDS", 20.0)
    name = f"nexustop_bench_commits_{uuid.uuid4().hex[:10]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        latencies = sorted(await commit_latencies(database_dsn(name), seconds))
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stalls = [x for x in latencies if x > STALL_SECONDS]
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"{len(latencies)} commits in {seconds:.0f} s, one connection, server otherwise idle")
    print(f"stalls over {STALL_SECONDS * 1000:.0f} ms: {len(stalls)}, longest {latencies[-1] * 1000:.0f} ms")
    print(f"commit_p50_ms={statistics.median(latencies) * 1000:.2f}")
    print(f"commit_p99_ms={p99 * 1000:.2f}")
    print(f"commit_max_ms={latencies[-1] * 1000:.0f}")
    print(f"stalls_over_50ms={len(stalls)}")


if __name__ == "__main__":
    asyncio.run(main())
