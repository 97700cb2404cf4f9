"""Ledger throughput against pgbench on the same PostgreSQL server.

Run with no arguments: ``.venv/bin/python bench/ledger.py``. It creates two throwaway databases
(one migrated with ``nexustop.db.upgrade`` for the ledger, one initialised by ``pgbench -i``),
funds N wallets through the ledger, then measures in the same run:

(a) ``pgbench`` tpcb-like, ``-M prepared -n``, C clients for T seconds → tps;
(b) ``domain.ledger.create_transfers`` with the same C clients, each committing batches of B
    random transfers (wallet → wallet, or wallet → a system account) for T seconds → created
    transfers per second; plus the same with B = 1, for honesty.

Clients: C asyncio workers spread over P processes (default P = number of cores, capped at C).
One Python process cannot keep C busy connections fed on SQLAlchemy alone, and pgbench itself uses
``-j P`` threads, so both sides get the same client count and the same number of driver cores.
All processes pass a barrier after warming their pools, then run for exactly T seconds; only
transfers whose transaction committed inside the window count.

Afterwards the invariants are checked: every currency sums to zero (posted and pending), no wallet
is overdrawn, every account's balance equals the net of the transfers this run saw created, and
the transfers table holds exactly those transfers. Both databases are dropped at the end.

Environment (all optional): NEXUSTOP_BENCH_PG (admin DSN), NEXUSTOP_BENCH_CLIENTS (C),
NEXUSTOP_BENCH_SECONDS (T), NEXUSTOP_BENCH_BATCH (B), NEXUSTOP_BENCH_PROCS (P),
NEXUSTOP_BENCH_WALLETS (N), NEXUSTOP_BENCH_SINGLE_SECONDS (batch-1 duration),
NEXUSTOP_BENCH_SYSTEM_SHARE (fraction of transfers to a system account), NEXUSTOP_BENCH_SCALE
(pgbench scale), NEXUSTOP_BENCH_PROFILE (a path: cProfile the first ledger process there).

The last line printed is exactly ``ratio_vs_pgbench=<ledger transfers/s ÷ pgbench tps>``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from bench_kit import ADMIN_DSN, admin, async_url, database_dsn, env_float, env_int, ledger_problems
from sqlalchemy import func, insert, select
from sqlalchemy.exc import DBAPIError

from domain import ledger
from domain.database import Database
from domain.ledger import NewTransfer, TransferResult
from domain.models import Account, Transfer, User
from nexustop import event_loop
from nexustop.db import upgrade

CURRENCY = "NGN"
FUNDING = 1_000_000
"""Minor units each wallet starts with: far more than T seconds of random debits can take."""
MAX_AMOUNT = 1_000


@dataclass(frozen=True, slots=True)
class Config:
    """Every knob of a run, read from the environment."""

    admin_dsn: str
    clients: int
    seconds: int
    batch: int
    procs: int
    wallets: int
    single_seconds: int
    system_share: float
    scale: int
    profile: str | None

    @classmethod
    def from_env(cls) -> Config:
        """The defaults (C=8, T=15 s, B=100, N=10,000), overridden by NEXUSTOP_BENCH_* variables."""
        clients = env_int("NEXUSTOP_BENCH_CLIENTS", 8)
        seconds = env_int("NEXUSTOP_BENCH_SECONDS", 15)
        procs = env_int("NEXUSTOP_BENCH_PROCS", os.cpu_count() or 1)
        return cls(
            admin_dsn=ADMIN_DSN,
            clients=clients,
            seconds=seconds,
            batch=env_int("NEXUSTOP_BENCH_BATCH", 100),
            procs=max(1, min(procs, clients)),
            wallets=env_int("NEXUSTOP_BENCH_WALLETS", 10_000),
            single_seconds=env_int("NEXUSTOP_BENCH_SINGLE_SECONDS", max(5, seconds // 2)),
            system_share=env_float("NEXUSTOP_BENCH_SYSTEM_SHARE", 0.1),
            scale=env_int("NEXUSTOP_BENCH_SCALE", 10),
            profile=os.environ.get("NEXUSTOP_BENCH_PROFILE") or None,
        )


# --------------------------------------------------------------------------------------------- setup


@dataclass(slots=True)
class Fixture:
    """The accounts a run moves money between."""

    wallets: list[int]
    systems: list[int]
    topups: int
    funded_net: dict[int, int]
    funded_total: int
    funded_count: int


async def _setup(url: str, count: int) -> Fixture:
    """Create ``count`` users with wallets and fund every wallet through the ledger."""
    db = Database(url, pool_size=4)
    try:
        async with db.transaction() as session:
            topups = await ledger.open_system_account(session, "topups", CURRENCY)
            systems = [
                await ledger.open_system_account(session, name, CURRENCY) for name in ("fees", "airtime")
            ]
            user_ids: list[int] = []
            for start in range(0, count, 2_000):
                rows = [
                    {"phone": f"+234800{n:07d}", "country": "NG"}
                    for n in range(start, min(count, start + 2_000))
                ]
                user_ids += (await session.scalars(insert(User).values(rows).returning(User.id))).all()

        async def open_some(chunk: list[int]) -> list[int]:
            async with db.transaction() as session:
                return [await ledger.open_wallet(session, uid, CURRENCY) for uid in chunk]

        chunks = [user_ids[i::4] for i in range(4)]
        wallets = sorted(w for ids in await asyncio.gather(*(open_some(c) for c in chunks)) for w in ids)

        funded_net: dict[int, int] = defaultdict(int)
        for start in range(0, len(wallets), 1_000):
            batch = [
                NewTransfer(uuid.uuid4().hex, topups, wallet, FUNDING, CURRENCY, "funding")
                for wallet in wallets[start : start + 1_000]
            ]
            async with db.transaction() as session:
                results = await ledger.create_transfers(session, batch)
            if any(r is not TransferResult.CREATED for r in results):
                raise RuntimeError(f"funding failed: {set(results)}")
            for transfer in batch:
                funded_net[transfer.credit_account_id] += transfer.amount
                funded_net[transfer.debit_account_id] -= transfer.amount
        return Fixture(wallets, systems, topups, dict(funded_net), FUNDING * len(wallets), len(wallets))
    finally:
        await db.dispose()


# ------------------------------------------------------------------------------------------- pgbench


def _pgbench_args(dsn: str) -> tuple[list[str], dict[str, str]]:
    """Connection flags and environment for pgbench from a libpq URL."""
    parts = urlsplit(dsn)
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", unquote(parts.username)]
    env = dict(os.environ)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    return args, env


def _pgbench_binary() -> str:
    return shutil.which("pgbench") or "/usr/bin/pgbench"


def pgbench_init(admin_dsn: str, name: str, scale: int) -> None:
    """``pgbench -i`` a database (already created) at ``scale``."""
    conn_args, env = _pgbench_args(admin_dsn)
    subprocess.run(
        [_pgbench_binary(), *conn_args, "-i", "-q", "-s", str(scale), name],
        check=True,
        env=env,
        capture_output=True,
        text=True,
    )


def pgbench_run(admin_dsn: str, name: str, clients: int, threads: int, seconds: int) -> float:
    """Run pgbench tpcb-like (prepared, no vacuum) and return its tps."""
    conn_args, env = _pgbench_args(admin_dsn)
    command = [
        _pgbench_binary(),
        *conn_args,
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        str(threads),
        "-T",
        str(seconds),
        name,
    ]
    done = subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout) or re.search(
        r"tps = ([0-9.]+)", done.stdout
    )
    if match is None:
        raise RuntimeError(f"no tps in pgbench output:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


# -------------------------------------------------------------------------------------- ledger phase


@dataclass(slots=True)
class PhaseStats:
    """What one process saw during a ledger phase."""

    created_in_window: int = 0
    created_total: int = 0
    amount_total: int = 0
    insufficient: int = 0
    batches: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    net: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """A ledger phase as a process runs it: its share of the workers and the common settings."""

    url: str
    wallets: list[int]
    systems: list[int]
    workers: int
    batch: int
    seconds: int
    system_share: float
    seed: int


def _random_batch(rng: random.Random, spec: PhaseSpec) -> list[NewTransfer]:
    transfers = []
    wallets, systems = spec.wallets, spec.systems
    for _ in range(spec.batch):
        debit = rng.choice(wallets)
        if rng.random() < spec.system_share:
            credit = rng.choice(systems)
        else:
            credit = rng.choice(wallets)
            while credit == debit:
                credit = rng.choice(wallets)
        transfers.append(
            NewTransfer(uuid.uuid4().hex, debit, credit, rng.randint(1, MAX_AMOUNT), CURRENCY, "purchase")
        )
    return transfers


async def _worker(db: Database, spec: PhaseSpec, seed: int, deadline: float, stats: PhaseStats) -> None:
    rng = random.Random(seed)
    while time.monotonic() < deadline:
        batch = _random_batch(rng, spec)
        began = time.monotonic()
        try:
            async with db.transaction() as session:
                results = await ledger.create_transfers(session, batch)
        except DBAPIError:
            stats.errors += 1  # rolled back as a whole: nothing of the batch moved
            continue
        committed = time.monotonic()
        stats.batches += 1
        stats.latencies.append(committed - began)
        created = 0
        for transfer, result in zip(batch, results, strict=True):
            if result is TransferResult.CREATED:
                created += 1
                stats.amount_total += transfer.amount
                stats.net[transfer.credit_account_id] += transfer.amount
                stats.net[transfer.debit_account_id] -= transfer.amount
            elif result is TransferResult.INSUFFICIENT_FUNDS:
                stats.insufficient += 1
        stats.created_total += created
        if committed <= deadline:
            stats.created_in_window += created


async def _phase(spec: PhaseSpec, barrier: Any) -> PhaseStats:
    try:
        import uvloop  # optional: used only when installed (it is not, by default)

        uvloop.install()
    except ImportError:
        pass
    db = Database(spec.url, pool_size=spec.workers)
    stats = PhaseStats()
    try:
        # Warm the pool so connecting is not measured, then start together with the other processes.
        async def ping() -> None:
            async with db.transaction() as session:
                await session.execute(select(1))
                await asyncio.sleep(0.05)

        await asyncio.gather(*(ping() for _ in range(spec.workers)))
        await asyncio.to_thread(barrier.wait)
        start = time.monotonic()
        deadline = start + spec.seconds
        await asyncio.gather(
            *(_worker(db, spec, spec.seed * 1_000 + w, deadline, stats) for w in range(spec.workers))
        )
        stats.elapsed = time.monotonic() - start
    finally:
        await db.dispose()
    stats.net = dict(stats.net)
    return stats


def _phase_process(spec: PhaseSpec, barrier: Any, results: Any, profile: str | None) -> None:
    """Entry point of one ledger process: run the phase, put its stats (or an error) on the queue."""
    try:
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            stats = profiler.runcall(event_loop.run, _phase(spec, barrier))
            profiler.dump_stats(profile)
        else:
            stats = event_loop.run(_phase(spec, barrier))
        results.put(("ok", stats))
    except BaseException as error:
        barrier.abort()
        results.put(("error", repr(error)))


@dataclass(slots=True)
class PhaseResult:
    """A ledger phase summed over its processes."""

    batch: int
    seconds: int
    per_process: list[PhaseStats]

    @property
    def tps(self) -> float:
        """Created transfers per second, committed inside the window."""
        return sum(s.created_in_window for s in self.per_process) / self.seconds

    @property
    def batches_per_second(self) -> float:
        """Committed database transactions per second."""
        return sum(s.batches for s in self.per_process) / max(s.elapsed for s in self.per_process)

    def latency_ms(self, quantile: float) -> float:
        """A quantile of commit latency per batch, in milliseconds."""
        latencies = sorted(x for s in self.per_process for x in s.latencies)
        if not latencies:
            return 0.0
        return 1_000 * latencies[min(len(latencies) - 1, int(quantile * len(latencies)))]


def run_phase(config: Config, url: str, fixture: Fixture, batch: int, seconds: int, tag: int) -> PhaseResult:
    """Run C ledger workers over P processes for ``seconds`` with batches of ``batch``."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(config.procs)
    queue = context.Queue()
    shares = [
        config.clients // config.procs + (i < config.clients % config.procs) for i in range(config.procs)
    ]
    processes = []
    for index, workers in enumerate(shares):
        spec = PhaseSpec(
            url,
            fixture.wallets,
            fixture.systems,
            workers,
            batch,
            seconds,
            config.system_share,
            tag * 100 + index,
        )
        profile = config.profile if index == 0 and batch == config.batch else None
        process = context.Process(target=_phase_process, args=(spec, barrier, queue, profile))
        process.start()
        processes.append(process)
    try:
        outcomes = [queue.get(timeout=seconds + 120) for _ in processes]
        for process in processes:
            process.join(timeout=30)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join()
    errors = [detail for kind, detail in outcomes if kind == "error"]
    if errors:
        raise RuntimeError(f"ledger process failed: {errors}")
    return PhaseResult(batch, seconds, [detail for _kind, detail in outcomes])


# ---------------------------------------------------------------------------------------- invariants


async def check_invariants(url: str, fixture: Fixture, phases: list[PhaseResult]) -> list[str]:
    """Every way the ledger could be wrong after the run; empty means all invariants hold."""
    expected: dict[int, int] = defaultdict(int, fixture.funded_net)
    expected_amount = fixture.funded_total
    expected_count = fixture.funded_count
    for phase in phases:
        for stats in phase.per_process:
            expected_amount += stats.amount_total
            expected_count += stats.created_total
            for account_id, net in stats.net.items():
                expected[account_id] += net
    problems: list[str] = []
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            if await session.scalar(select(func.count()).select_from(Account)) == 0:
                problems.append("the ledger holds no currency at all")
            problems.extend(await ledger_problems(session))
            rows = await session.execute(
                select(
                    Account.id,
                    Account.credits_posted - Account.debits_posted,
                    Account.debits_pending + Account.credits_pending,
                )
            )
            wrong = [
                (account_id, posted, expected.get(account_id, 0))
                for account_id, posted, pending in rows.all()
                if posted != expected.get(account_id, 0) or pending != 0
            ]
            if wrong:
                problems.append(f"{len(wrong)} balances differ from created transfers, e.g. {wrong[:3]}")
            count, amount, credited = (
                await session.execute(
                    select(
                        func.count(Transfer.id),
                        func.coalesce(func.sum(Transfer.amount), 0),
                        select(func.sum(Account.credits_posted)).scalar_subquery(),
                    )
                )
            ).one()
            if (count, amount, credited) != (expected_count, expected_amount, expected_amount):
                problems.append(
                    f"transfers table holds {count} transfers / {amount} units, accounts credited {credited};"
                    f" created results say {expected_count} / {expected_amount}"
                )
    finally:
        await db.dispose()
    return problems


# ------------------------------------------------------------------------------------------------ main


def _describe(label: str, phase: PhaseResult) -> None:
    stats = phase.per_process
    print(
        f"{label}: {phase.tps:,.0f} transfers/s created"
        f" ({phase.batches_per_second:,.0f} commits/s, batch latency p50 {phase.latency_ms(0.5):.1f} ms"
        f" p99 {phase.latency_ms(0.99):.1f} ms, insufficient {sum(s.insufficient for s in stats)},"
        f" errors {sum(s.errors for s in stats)})"
    )


def main() -> int:
    """Run the whole benchmark and print its figures; the last line is the ratio to pgbench."""
    config = Config.from_env()
    suffix = uuid.uuid4().hex[:8]
    ledger_db, pgbench_db = f"nexustop_bench_{suffix}", f"nexustop_pgbench_{suffix}"
    url = async_url(database_dsn(ledger_db, config.admin_dsn))
    began = time.monotonic()
    created: list[str] = []
    try:
        for name in (ledger_db, pgbench_db):
            asyncio.run(admin(f'CREATE DATABASE "{name}"', admin_dsn=config.admin_dsn))
            created.append(name)
        upgrade(url)
        fixture = asyncio.run(_setup(url, config.wallets))
        setup_s = time.monotonic() - began
        print(f"setup: {len(fixture.wallets):,} wallets funded through the ledger ({setup_s:.1f} s)")

        pgbench_init(config.admin_dsn, pgbench_db, config.scale)
        asyncio.run(admin("CHECKPOINT", admin_dsn=config.admin_dsn))
        pgbench_tps = pgbench_run(config.admin_dsn, pgbench_db, config.clients, config.procs, config.seconds)
        print(
            f"pgbench tpcb-like: {pgbench_tps:,.0f} tps (scale {config.scale}, -M prepared -j {config.procs})"
        )

        asyncio.run(admin("CHECKPOINT", admin_dsn=config.admin_dsn))
        batched = run_phase(config, url, fixture, config.batch, config.seconds, tag=1)
        _describe(f"ledger batch {config.batch}", batched)
        asyncio.run(admin("CHECKPOINT", admin_dsn=config.admin_dsn))
        single = run_phase(config, url, fixture, 1, config.single_seconds, tag=2)
        _describe("ledger batch 1", single)

        problems = asyncio.run(check_invariants(url, fixture, [batched, single]))
        for problem in problems:
            print(f"INVARIANT VIOLATED: {problem}")
        ratio = batched.tps / pgbench_tps
        print(
            f"clients={config.clients} (over {config.procs} processes) batch={config.batch}"
            f" duration={config.seconds}s wallets={len(fixture.wallets)}"
            f" system_share={config.system_share:.0%} cores={os.cpu_count()}"
        )
        print(f"pgbench_tps={pgbench_tps:.2f}")
        print(f"ledger_transfers_per_s={batched.tps:.2f}")
        print(f"ledger_batch1_transfers_per_s={single.tps:.2f} (ratio {single.tps / pgbench_tps:.2f})")
        print(f"invariants {'OK' if not problems else 'FAILED'}; total {time.monotonic() - began:.1f} s")
        print(f"ratio_vs_pgbench={ratio:.2f}")
        return 0 if not problems else 1
    finally:
        for name in created:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', admin_dsn=config.admin_dsn))


if __name__ == "__main__":
    sys.exit(main())
