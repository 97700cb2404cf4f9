"""P2P transfers per second end to end through ``domain.transfers.TransferService`` on PostgreSQL.

Run with no arguments: ``.venv/bin/python bench/transfers.py``. It creates a throwaway database on
the server behind NEXUSTOP_BENCH_PG (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
migrates it, and prepares U Nigerian users: KYC tier 3 (the ₦5,000,000 daily limit), a
transaction PIN each (argon2id of the peppered PIN, exactly as in production) and a funded wallet,
with accounts old enough not to be in cooling-off.

Every transfer goes through the full send path: PIN verified against its argon2 hash (and the
lockout row locked and updated), KYC tier and daily limit, the recipient looked up by phone and
their balance cap checked, the four velocity counters locked and bumped, the fraud rules of the
shipped ``domain/data/risk.json``, the ledger transfer from wallet to wallet, the transfer row and
its history, the recipient's notification and the hash-chained audit line. Senders and recipients
are drawn at random from the U users.

Two ways of sending are measured, each with C clients (asyncio tasks) over P spawned processes for
T seconds; transfers whose transaction committed inside the window count:

* ``single``: one transaction per transfer (``TransferService.send``), as a chat turn makes it;
* ``batched``: group commit (``domain.transfer_batcher.TransferBatcher``): concurrent sends share
  a transaction, up to B per transaction, L transactions in flight per process. This is the
  headline figure.

Afterwards: every currency sums to zero, no wallet is overdrawn, the transfers table holds exactly
the transfers made (warm-up included), and the audit chain verifies. The database is dropped.

Environment (all optional): NEXUSTOP_BENCH_PG, NEXUSTOP_BENCH_USERS (U, 20000),
NEXUSTOP_BENCH_CLIENTS (C for single, 32), NEXUSTOP_BENCH_BATCH_CLIENTS (C for batched, 256),
NEXUSTOP_BENCH_SECONDS (T, 10), NEXUSTOP_BENCH_PROCS (P, 2), NEXUSTOP_BENCH_BATCH (B, 64),
NEXUSTOP_BENCH_LANES (L, 2), NEXUSTOP_BENCH_MODES (``single,batched``), NEXUSTOP_BENCH_REPEAT
(how many times the batched mode is measured, 3; the median run is the headline, since figures on
a shared 2-core machine move by ±15 % from one run to the next). The velocity counters are cleared
before every run, as a new day would clear them, so each run meets the same fraud rules.

The last lines printed are ``single_transaction_transfers_per_second=<n>`` (when measured),
``transfers_per_second=<n>``, ``p50_ms=<n>`` and ``p99_ms=<n>`` (of the batched run).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench_kit import env_int, ledger_problems, migrated_database
from sqlalchemy import delete, func, insert, select

from domain import audit, ledger, pins
from domain.database import Database
from domain.models import Credential, Identity, KycProfile, MoneyTransfer, User, VelocityCounter, utcnow
from domain.money import Money
from domain.transfer_batcher import TransferBatcher
from domain.transfers import Recipient, SendRequest, Sent, TransferService, new_reference
from nexustop import event_loop

PEPPER = b"bench-pepper"
PIN = "2580"
OPENING = Money.of(1_000_000, "NGN")
AMOUNTS = (500, 1000, 2000, 5000)
MODES = ("single", "batched")
BATCH_SIZE = env_int("NEXUSTOP_BENCH_BATCH", 64)
BATCH_LANES = env_int("NEXUSTOP_BENCH_LANES", 2)


@dataclass(frozen=True)
class Config:
    """The knobs."""

    users: int
    clients: int
    batch_clients: int
    seconds: float
    procs: int
    modes: tuple[str, ...]
    repeat: int
    """How many times the batched mode is measured (the median run is the headline)."""

    def clients_for(self, mode: str) -> int:
        """Clients in all for ``mode``: group commit needs enough of them waiting to fill batches."""
        return self.clients if mode == "single" else self.batch_clients

    @classmethod
    def from_env(cls) -> Config:
        return cls(
            users=env_int("NEXUSTOP_BENCH_USERS", 20000),
            clients=env_int("NEXUSTOP_BENCH_CLIENTS", 32),
            batch_clients=env_int("NEXUSTOP_BENCH_BATCH_CLIENTS", 256),
            seconds=float(env_int("NEXUSTOP_BENCH_SECONDS", 10)),
            procs=env_int("NEXUSTOP_BENCH_PROCS", 2),
            modes=tuple(os.environ.get("NEXUSTOP_BENCH_MODES", ",".join(MODES)).split(",")),
            repeat=env_int("NEXUSTOP_BENCH_REPEAT", 3),
        )


@dataclass
class Stats:
    """What one process measured."""

    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0
    cpu: float = 0.0
    rows: int = 0
    """Transfers made (completed or held), inside the window or not: what the table must hold."""


def phone(index: int) -> str:
    return f"+234803{index:07d}"


async def prepare(url: str, count: int) -> list[int]:
    """U tier-3 users with a PIN and a funded wallet; returns their ids."""
    db = Database(url, pool_size=2)
    long_ago = utcnow() - timedelta(days=90)
    pin_hash = pins.hash_pin(PIN, PEPPER)
    try:
        async with db.transaction() as session:
            ids = list(
                (
                    await session.scalars(
                        insert(User).returning(User.id),
                        [
                            {"phone": phone(n), "country": "NG", "language": "en", "created_at": long_ago}
                            for n in range(count)
                        ],
                    )
                ).all()
            )
            await session.execute(
                insert(Identity),
                [
                    {
                        "user_id": user_id,
                        "channel": "bench",
                        "channel_user_id": str(user_id),
                        "created_at": long_ago,
                    }
                    for user_id in ids
                ],
            )
            await session.execute(
                insert(Credential),
                [
                    {"user_id": user_id, "pin_hash": pin_hash, "failed_attempts": 0, "updated_at": long_ago}
                    for user_id in ids
                ],
            )
            await session.execute(insert(KycProfile), [{"user_id": user_id, "tier": 3} for user_id in ids])
            promo = await ledger.open_system_account(session, "promo", "NGN")
            wallets = [await ledger.open_wallet(session, user_id, "NGN") for user_id in ids]
            await ledger.create_transfers(
                session,
                [ledger.NewTransfer(f"promo:{w}", promo, w, OPENING.minor, "NGN", "promo") for w in wallets],
            )
        return ids
    finally:
        await db.dispose()


#: Sends one request and returns its ``Sent``: in its own transaction, or through the batcher.
Sender = Callable[[SendRequest], Awaitable[Sent]]


def single_sender(db: Database, service: TransferService) -> Sender:
    """Each send in a transaction of its own, as a chat turn makes it."""

    async def send(request: SendRequest) -> Sent:
        async with db.transaction() as session:
            return await service.send(session, request)

    return send


def _request(ids: list[int], rng: random.Random) -> SendRequest:
    sender, recipient = rng.sample(ids, 2)
    return SendRequest(
        reference=new_reference(),
        sender_user_id=sender,
        country="NG",
        amount=Money.of(rng.choice(AMOUNTS), "NGN"),
        pin=PIN,
        recipient=Recipient(phone=phone(recipient)),
    )


async def run_clients(send: Sender, ids: list[int], clients: int, seconds: float, seed: int) -> Stats:
    """C clients sending back to back for ``seconds``."""
    stats = Stats()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds

    async def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        while loop.time() < deadline:
            began = loop.time()
            sent = await send(_request(ids, rng))
            ended = loop.time()
            outcome = str(sent.transfer.state if sent.transfer is not None else sent.refusal)
            stats.rows += sent.created
            if ended <= deadline:  # committed after the window: in the table, not in the figure
                stats.latencies.append(ended - began)
                stats.outcomes[outcome] += 1

    cpu = time.process_time()
    await asyncio.gather(*(client(n) for n in range(clients)))
    stats.elapsed = seconds
    stats.cpu = time.process_time() - cpu
    return stats


@dataclass(frozen=True)
class Phase:
    """One measurement: how sends are made, by how many clients per process, for how long."""

    mode: str
    """``single`` (a transaction per send) or ``batched`` (``TransferBatcher``)."""
    url: str
    ids: list[int]
    clients: int
    seconds: float
    seed: int


async def _phase(phase: Phase, barrier: Any) -> Stats:
    pool = max(phase.clients, 2) if phase.mode == "single" else BATCH_LANES + 1
    db = Database(phase.url, pool_size=pool)
    service = TransferService(PEPPER)
    if phase.mode == "single":
        send = single_sender(db, service)
    else:
        send = TransferBatcher(db, service, max_batch=BATCH_SIZE, lanes=BATCH_LANES).send
    try:
        warm = await run_clients(send, phase.ids, phase.clients, 1.0, phase.seed + 1)
        await asyncio.to_thread(barrier.wait)
        stats = await run_clients(send, phase.ids, phase.clients, phase.seconds, phase.seed)
        stats.rows += warm.rows
        return stats
    finally:
        await db.dispose()


def _process(phase: Phase, barrier: Any, out: Any) -> None:
    out.put(event_loop.run(_phase(phase, barrier)))


def measure(url: str, ids: list[int], config: Config, mode: str) -> list[Stats]:
    """Run the clients over P spawned processes; return each one's figures."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(config.procs)
    out = context.Queue()
    clients = max(1, config.clients_for(mode) // config.procs)
    workers = [
        context.Process(
            target=_process,
            args=(Phase(mode, url, ids, clients, config.seconds, 7 + slot + 100 * len(mode)), barrier, out),
        )
        for slot in range(config.procs)
    ]
    for worker in workers:
        worker.start()
    stats = [out.get() for _ in workers]
    for worker in workers:
        worker.join()
    return stats


async def check(url: str, made: int) -> list[str]:
    """The ledger balances, no wallet is overdrawn, every transfer is there once, the audit chain holds."""
    db = Database(url, pool_size=1)
    problems = []
    try:
        async with db.transaction() as session:
            problems.extend(await ledger_problems(session))
            rows = int(await session.scalar(select(func.count(MoneyTransfer.id))) or 0)
            if rows != made:
                problems.append(f"{rows} transfer rows but {made} transfers made")
            verdict = await audit.verify(session)
            if not verdict.ok:
                problems.append(f"audit chain broken at {verdict.first_bad_id}")
    finally:
        await db.dispose()
    return problems


def _ms(ordered: list[float], quantile: float) -> float:
    return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000 if ordered else float("nan")


def describe(mode: str, config: Config, stats: list[Stats]) -> tuple[float, tuple[float, float], int]:
    """Print one mode's figures; return (transfers/s, (p50, p99) ms, rows made)."""
    outcomes = sum((s.outcomes for s in stats), Counter())
    latencies = sorted(x for s in stats for x in s.latencies)
    sends = len(latencies)
    cpu = sum(s.cpu for s in stats)
    label = "a transaction per send" if mode == "single" else f"group commit (batches of up to {BATCH_SIZE})"
    print(f"{mode}: {label}, {config.clients_for(mode)} clients over {config.procs} processes")
    print(
        f"    {sends} sends in {config.seconds:g} s: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    per_transfer, busy = cpu / max(sends, 1) * 1000, cpu / config.seconds
    print(f"    client CPU {per_transfer:.2f} ms/transfer ({busy:.2f} cores busy in the bench processes)")
    quantiles = ", ".join(f"p{int(q * 100)} {_ms(latencies, q):.1f} ms" for q in (0.5, 0.9, 0.99))
    print(f"    latency {quantiles}")
    return sends / config.seconds, (_ms(latencies, 0.5), _ms(latencies, 0.99)), sum(s.rows for s in stats)


async def new_day(url: str) -> None:
    """Clear the velocity counters, as a new day would, so every run meets the same fraud rules."""
    db = Database(url, pool_size=1)
    try:
        async with db.transaction() as session:
            await session.execute(delete(VelocityCounter))
    finally:
        await db.dispose()


def measured(url: str, ids: list[int], config: Config, mode: str) -> tuple[float, tuple[float, float], int]:
    """A mode's figures: the median of ``repeat`` runs for the group-commit headline, one run otherwise."""
    runs = []
    for _ in range(config.repeat if mode == "batched" else 1):
        asyncio.run(new_day(url))
        runs.append(describe(mode, config, measure(url, ids, config, mode)))
    if len(runs) > 1:
        rates = ", ".join(f"{rate:.0f}" for rate, _, _ in runs)
        print(f"{mode}: {len(runs)} runs at {rates} transfers/s; the median run is the figure")
    median = sorted(runs)[len(runs) // 2]
    return median[0], median[1], sum(rows for _, _, rows in runs)


def main() -> int:
    """Create, migrate and fill the database, measure, check, print; drop the database."""
    config = Config.from_env()
    with migrated_database("nexustop_bench_transfers") as url:
        print(
            f"users={config.users} clients={config.clients} seconds={config.seconds:g}"
            f" procs={config.procs} cpus={os.cpu_count()}"
        )
        ids = asyncio.run(prepare(url, config.users))
        figures = {mode: measured(url, ids, config, mode) for mode in config.modes}
        problems = asyncio.run(check(url, sum(rows for _, _, rows in figures.values())))
        print(
            "invariants: "
            + (
                "OK (currencies sum to zero, no overdrawn wallet, rows match, audit chain intact)"
                if not problems
                else "; ".join(problems)
            )
        )
        if "single" in figures:
            print(f"single_transaction_transfers_per_second={figures['single'][0]:.0f}")
        headline = figures.get("batched") or figures["single"]
        print(f"transfers_per_second={headline[0]:.0f}")
        print(f"p50_ms={headline[1][0]:.1f}")
        print(f"p99_ms={headline[1][1]:.1f}")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
