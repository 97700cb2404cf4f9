"""Conversation-turn throughput and latency of ``conversations.engine.Engine`` with state in PostgreSQL.

Run with no arguments: ``.venv/bin/python bench/engine.py``. It creates a throwaway database on the
server behind NEXUSTOP_BENCH_PG (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
migrates it with ``nexustop.db.upgrade`` and simulates U users (channel ``bench``, distinct
``channel_user_id``/``chat_id``, phones from NG/GH/SN/CI/CV so onboarding is instant, ``demo=True``
so wallets are funded). Every user's first turn onboards them; that warm-up is not measured.

Turn mix (per user, in its own language — English/Pidgin, French, Portuguese): balance, help,
history, cancel, "buy <amount> airtime for <number>" and "1GB data for <number>" (both quote); after
a quote the user usually presses the reply's ``confirm:<quote id>`` button (places the order, money
reserved), else types cancel. Fulfilment is not part of a turn: a bench-local queue records ids.

Measurements (turns whose ``Engine.handle`` finished inside the window count; latency is the
wall time of one ``handle`` call):

* closed loop: C conversations in flight (asyncio tasks over one ``Database`` pool per process;
  a conversation's turns strictly in order) for T seconds, with 1 process and with 2 processes
  (spawned, each with its own loop and pool, users split between them, C split between them).
  The better of the two is the headline unless NEXUSTOP_BENCH_PROCS fixes the process count
  (then only that one runs).
* open loop: a fixed offered load R turns/s for T_open seconds, spread over the headline's
  processes; latency is measured from each turn's scheduled arrival, so queueing counts. Each
  process has a pool of 8 steady connections (NEXUSTOP_BENCH_OPEN_IN_FLIGHT) and runs at most
  that many turns at once, the rest queue: letting them into the pool's overflow only adds
  PostgreSQL backends fighting for the same two cores (at 500/s offered, p99 290 ms with 16 in
  flight per process against 83 ms with 8), while 4 queue the bursts of random arrivals (p99
  147 ms). Arrivals not started within another T_open
  seconds are abandoned and count as infinitely late (p99 = inf when over 1 % are). When R is more
  than 70 % of the closed-loop headline, a second open loop offers ~70 % of the headline too.
* a short sequential diagnostic (one conversation at a time) counting SQL statements per turn kind
  (SQLAlchemy's ``before_cursor_execute`` plus asyncpg's query logger for the statements run
  straight on the driver; BEGIN and COMMIT are extra round trips) and the client CPU per turn.
* client CPU per turn (``time.process_time`` of the bench processes over the window) and the local
  PostgreSQL processes' CPU per turn (from /proc), which tell where the two cores go.

Afterwards the invariants are checked: every currency sums to zero (posted and pending), no wallet
is overdrawn, and the orders table holds exactly the orders the queue was handed. The database is
dropped at the end.

Environment (all optional): NEXUSTOP_BENCH_PG (admin DSN), NEXUSTOP_BENCH_USERS (U, 2000),
NEXUSTOP_BENCH_CLIENTS (C, 8), NEXUSTOP_BENCH_SECONDS (T, 20), NEXUSTOP_BENCH_PROCS (1 or 2;
default: run both, headline the better), NEXUSTOP_BENCH_RATE (R, 500; 0 skips the open loop),
NEXUSTOP_BENCH_OPEN_SECONDS (T_open, 10), NEXUSTOP_BENCH_OPEN_IN_FLIGHT (the open loop's
turns in flight and pool size per process, 8), NEXUSTOP_BENCH_PROFILE (a path: cProfile the
single-process closed loop into it and print the top functions; forces one process).

The last three lines printed are ``turns_per_second=<n>``, ``p50_ms=<n>`` and ``p99_ms=<n>``.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import random
import statistics
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from bench_kit import (
    env_float,
    env_int,
    ledger_problems,
    machine_cpu_ticks,
    migrated_database,
    server_cpu_seconds,
)
from sqlalchemy import event, func, select

from conversations.engine import Engine
from conversations.messages import InboundMessage, Reply
from domain.database import Database
from domain.models import Order
from domain.phones import guess_network, normalize_phone
from nexustop import event_loop

CHANNEL = "bench"
COUNTRIES = ("NG", "GH", "SN", "CI", "CV")
#: Airtime amount typed per country (major units), small enough for many orders per demo wallet.
AIRTIME = {"NG": 500, "GH": 5, "SN": 500, "CI": 500, "CV": 100}
#: Phrasebooks: (language, templates by turn kind). ``{a}`` amount, ``{p}`` number as typed locally.
PHRASES: dict[str, list[dict[str, list[str]]]] = {
    "NG": [
        {
            "hello": ["hi", "hello"],
            "balance": ["balance", "my balance"],
            "help": ["help"],
            "history": ["history"],
            "cancel": ["cancel"],
            "airtime": ["buy {a} airtime for {p}", "{a} airtime for {p}"],
            "data": ["1GB data for {p}", "buy 1GB data for {p}"],
        },
        {
            "hello": ["how far"],
            "balance": ["wetin be my balance"],
            "help": ["help"],
            "history": ["history"],
            "cancel": ["cancel"],
            "airtime": ["abeg load my line {a} for {p}"],
            "data": ["1GB data for {p}"],
        },
    ],
    "GH": [
        {
            "hello": ["hello"],
            "balance": ["balance"],
            "help": ["help"],
            "history": ["history"],
            "cancel": ["cancel"],
            "airtime": ["buy GH₵{a} airtime for {p}", "buy {a} airtime for {p}"],
            "data": ["1GB data for {p}", "1gig data {p}"],
        }
    ],
    "SN": [
        {
            "hello": ["bonjour"],
            "balance": ["solde"],
            "help": ["aide"],
            "history": ["historique"],
            "cancel": ["annuler"],
            "airtime": ["recharge {a} F pour {p}", "je veux du crédit {a}F pour {p}"],
            "data": ["1 Go internet pour {p}", "1 Go pour {p}"],
        }
    ],
    "CI": [
        {
            "hello": ["bonjour"],
            "balance": ["solde"],
            "help": ["aide"],
            "history": ["historique"],
            "cancel": ["annuler"],
            "airtime": ["recharge {a} F pour {p}", "envoyer du crédit {a} F au {p}"],
            "data": ["pass internet 1 Go pour {p}", "1 Go pour {p}"],
        }
    ],
    "CV": [
        {
            "hello": ["olá"],
            "balance": ["saldo"],
            "help": ["ajuda"],
            "history": ["histórico"],
            "cancel": ["cancelar"],
            "airtime": ["quero recarregar {a} escudos para {p}", "recarregar {a} para {p}"],
            "data": ["1GB dados para {p}"],
        }
    ],
}
#: Idle-state turn mix (a quote is followed by Confirm with CONFIRM_SHARE, else by cancel).
MIX = (("balance", 20), ("help", 10), ("history", 15), ("airtime", 35), ("data", 15), ("cancel", 5))
CONFIRM_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Config:
    """Run parameters, from the environment."""

    users: int
    clients: int
    seconds: float
    procs: int | None
    rate: float
    open_seconds: float
    open_in_flight: int
    profile: str | None

    @classmethod
    def from_env(cls) -> Config:
        """Read NEXUSTOP_BENCH_* variables."""
        procs = os.environ.get("NEXUSTOP_BENCH_PROCS", "").strip()
        return cls(
            users=env_int("NEXUSTOP_BENCH_USERS", 2000),
            # 8 in flight carry as many turns/s as 16 here, at half the latency: with the turn's
            # statements this short, more only adds PostgreSQL backends competing for two cores.
            clients=env_int("NEXUSTOP_BENCH_CLIENTS", 8),
            seconds=env_float("NEXUSTOP_BENCH_SECONDS", 20.0),
            procs=int(procs) if procs else None,
            rate=env_float("NEXUSTOP_BENCH_RATE", 500.0),
            open_seconds=env_float("NEXUSTOP_BENCH_OPEN_SECONDS", 10.0),
            open_in_flight=env_int("NEXUSTOP_BENCH_OPEN_IN_FLIGHT", 8),
            profile=os.environ.get("NEXUSTOP_BENCH_PROFILE") or None,
        )


# --- simulated users -------------------------------------------------------------------------


@dataclass(slots=True)
class SimUser:
    """One simulated chat user; holds what it needs to send its next message."""

    index: int
    country: str
    phone: str
    typed_phone: str
    phrases: dict[str, list[str]]
    pending_quote: str | None = None

    def message(self, text: str | None = None, payload: str | None = None) -> InboundMessage:
        """An inbound message from this user."""
        return InboundMessage(
            CHANNEL,
            f"u{self.index}",
            f"c{self.index}",
            text=text,
            payload=payload,
            country_hint=self.country,
            phone=self.phone,
        )

    def next_turn(self, rng: random.Random) -> tuple[str, InboundMessage]:
        """The kind and message of this user's next turn, given the last reply."""
        if self.pending_quote is not None:
            quote, self.pending_quote = self.pending_quote, None
            if rng.random() < CONFIRM_SHARE:
                return "confirm", self.message(payload=f"confirm:{quote}")
            return "cancel_quote", self.message(text=rng.choice(self.phrases["cancel"]))
        kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
        text = rng.choice(self.phrases[kind]).format(a=AIRTIME[self.country], p=self.typed_phone)
        return kind, self.message(text=text)

    def hello(self, rng: random.Random) -> InboundMessage:
        """A first-contact greeting (onboards the user)."""
        return self.message(text=rng.choice(self.phrases["hello"]))

    def absorb(self, replies: list[Reply]) -> None:
        """Remember the Confirm button of a quote, if the bot sent one."""
        for reply in replies:
            for button in reply.buttons:
                if button.id.startswith("confirm:"):
                    self.pending_quote = button.id.removeprefix("confirm:")


def _phone_for(country: str, index: int) -> tuple[str, str]:
    """A valid mobile number of ``country`` whose network can be guessed: (E.164, as typed locally)."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None, country
    national = phonenumbers.national_significant_number(example)
    for attempt in range(50):
        tail = f"{(index * 7919 + attempt * 104729) % 10000:04d}"
        e164 = f"+{example.country_code}{national[:-4]}{tail}"
        if normalize_phone(e164, country) == e164 and guess_network(e164, country):
            break
    else:
        e164 = f"+{example.country_code}{national}"
    number = phonenumbers.parse(e164, None)
    typed = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return e164, typed


def make_users(count: int, seed: int = 11) -> list[SimUser]:
    """The simulated users, reproducibly spread over the countries and their languages."""
    rng = random.Random(seed)
    users = []
    for index in range(count):
        country = COUNTRIES[index % len(COUNTRIES)]
        phone, typed = _phone_for(country, index)
        users.append(SimUser(index, country, phone, typed, rng.choice(PHRASES[country])))
    return users


class RecordingQueue:
    """A FulfilmentQueue that only records the ids it is handed."""

    def __init__(self) -> None:
        self.ids: list[int] = []

    async def enqueue(self, order_id: int) -> None:
        """Record ``order_id``; fulfilment is not part of a turn."""
        self.ids.append(order_id)


# --- measurement -----------------------------------------------------------------------------


@dataclass
class Stats:
    """What one process measured."""

    latencies: list[float] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    enqueued: int = 0
    elapsed: float = 0.0
    max_in_flight: int = 0
    cpu: float = 0.0
    """CPU seconds this (client) process spent during the window."""
    server_cpu: float = 0.0
    """CPU seconds the local PostgreSQL processes spent during the window (all clients' turns)."""
    machine: tuple[int, int, int] = (0, 0, 0)
    """The machine's busy, stolen and total CPU ticks during the window."""
    abandoned: int = 0
    """Open loop only: arrivals still waiting when the grace period ran out (count as infinitely late)."""


def _engine(db: Database, queue: RecordingQueue) -> Engine:
    return Engine(db, queue, quote_ttl_seconds=600.0, demo=True)


async def _turn(engine: Engine, user: SimUser, message: InboundMessage, stats: Stats) -> bool:
    try:
        replies = await engine.handle(message)
    except Exception as error:  # count and carry on: the bench reports errors
        stats.errors[type(error).__name__] += 1
        return False
    user.absorb(replies)
    return True


class IdlePool:
    """Users not in a turn; a user holding a fresh quote answers it next (as real users do)."""

    def __init__(self, users: list[SimUser], rng: random.Random) -> None:
        shuffled = list(users)
        rng.shuffle(shuffled)
        self.cold: deque[SimUser] = deque(shuffled)
        self.hot: deque[SimUser] = deque()
        self.freed = asyncio.Event()

    async def take(self) -> SimUser:
        """The next user to play a turn (waits while every user is busy)."""
        while not (self.hot or self.cold):
            self.freed.clear()
            await self.freed.wait()
        return self.hot.popleft() if self.hot else self.cold.popleft()

    def release(self, user: SimUser) -> None:
        """Give a user back after its turn."""
        (self.hot if user.pending_quote else self.cold).append(user)
        self.freed.set()


async def run_closed(engine: Engine, users: list[SimUser], clients: int, seconds: float, seed: int) -> Stats:
    """C workers, each taking the next idle user and playing one turn, for ``seconds``."""
    stats = Stats()
    rng = random.Random(seed)
    idle = IdlePool(users, rng)
    cpu, server_cpu, machine = time.process_time(), server_cpu_seconds(), machine_cpu_ticks()
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        while True:
            user = await idle.take()
            kind, message = user.next_turn(rng)
            began = time.perf_counter()
            if began >= deadline:
                idle.release(user)
                return
            ok = await _turn(engine, user, message, stats)
            ended = time.perf_counter()
            if ok and ended <= deadline:
                stats.latencies.append(ended - began)
                stats.kinds[kind] += 1
            idle.release(user)

    await asyncio.gather(*(worker() for _ in range(clients)))
    stats.elapsed = seconds
    stats.cpu = time.process_time() - cpu
    stats.server_cpu = server_cpu_seconds() - server_cpu
    stats.machine = tuple(b - a for a, b in zip(machine, machine_cpu_ticks(), strict=True))  # type: ignore[assignment]
    return stats


async def run_open(
    engine: Engine, users: list[SimUser], rate: float, seconds: float, seed: int, limit: int
) -> Stats:
    """Offer ``rate`` turns/s for ``seconds``; latency from each turn's scheduled arrival.

    Arrivals go to the next idle user; if every user is busy the arrival waits for one (and that
    wait counts in its latency), so a conversation never has two turns in flight. At most ``limit``
    turns run at once (the pool's connections; the rest queue here rather than time out in the
    pool). Arrivals not started within another ``seconds`` after the window are abandoned and
    count as infinitely late.
    """
    stats = Stats()
    rng = random.Random(seed)
    idle = IdlePool(users, rng)
    total = int(rate * seconds)
    in_flight = 0
    tasks: set[asyncio.Task[None]] = set()
    slots = asyncio.Semaphore(limit)

    async def one(scheduled: float) -> None:
        nonlocal in_flight
        user = await idle.take()
        kind, message = user.next_turn(rng)
        async with slots:
            if time.perf_counter() > give_up:
                stats.abandoned += 1
                idle.release(user)
                return
            in_flight += 1
            stats.max_in_flight = max(stats.max_in_flight, in_flight)
            ok = await _turn(engine, user, message, stats)
            in_flight -= 1
        if ok:
            stats.latencies.append(time.perf_counter() - scheduled)
            stats.kinds[kind] += 1
        idle.release(user)

    cpu, server_cpu, machine = time.process_time(), server_cpu_seconds(), machine_cpu_ticks()
    start = time.perf_counter() + 0.01
    give_up = start + 2 * seconds
    sent = 0
    while sent < total:
        now = time.perf_counter()
        while sent < total and start + sent / rate <= now:
            task = asyncio.create_task(one(start + sent / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            sent += 1
        if sent < total:
            await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter()))
    while tasks:
        await asyncio.gather(*list(tasks))
    stats.elapsed = time.perf_counter() - start
    stats.cpu = time.process_time() - cpu
    stats.server_cpu = server_cpu_seconds() - server_cpu
    stats.machine = tuple(b - a for a, b in zip(machine, machine_cpu_ticks(), strict=True))  # type: ignore[assignment]
    return stats


@dataclass(frozen=True, slots=True)
class PhaseSpec:
    """What one worker process runs."""

    url: str
    user_count: int
    procs: int
    slot: int
    clients: int
    seconds: float
    rate: float
    seed: int


async def _phase(spec: PhaseSpec, barrier: Any, mode: str) -> Stats:
    users = [u for u in make_users(spec.user_count) if u.index % spec.procs == spec.slot]
    pool = max(spec.clients, 2)
    db = Database(spec.url, pool_size=pool)
    queue = RecordingQueue()
    engine = _engine(db, queue)
    try:
        # Warm this process's caches (parser, Babel locales, catalogs) and its pool: not measured.
        await run_closed(engine, users, spec.clients, 2.0, spec.seed + 1)
        if barrier is not None:
            await asyncio.to_thread(barrier.wait)
        if mode == "open":
            stats = await run_open(engine, users, spec.rate, spec.seconds, spec.seed, pool)
        else:
            stats = await run_closed(engine, users, spec.clients, spec.seconds, spec.seed)
    finally:
        await db.dispose()
    stats.enqueued = len(queue.ids)
    return stats


def _phase_process(spec: PhaseSpec, barrier: Any, mode: str, results: Any) -> None:
    stats = event_loop.run(_phase(spec, barrier, mode))
    results.put(stats)


@dataclass
class Result:
    """A phase's figures, merged over its processes."""

    label: str
    procs: int
    stats: list[Stats]

    @property
    def latencies(self) -> list[float]:
        return sorted(x for s in self.stats for x in s.latencies)

    @property
    def turns(self) -> int:
        return sum(len(s.latencies) for s in self.stats)

    @property
    def tps(self) -> float:
        return self.turns / max(s.elapsed for s in self.stats)

    def ms(self, quantile: float) -> float:
        ordered = self.latencies + [float("inf")] * sum(s.abandoned for s in self.stats)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


def run_phase(config: Config, url: str, procs: int, mode: str, seed: int, rate: float = 0.0) -> Result:
    """Run one phase over ``procs`` spawned processes and merge what they measured."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(procs)
    results = context.Queue()
    seconds = config.open_seconds if mode == "open" else config.seconds
    workers = [
        context.Process(
            target=_phase_process,
            args=(
                PhaseSpec(
                    url,
                    config.users,
                    procs,
                    slot,
                    config.open_in_flight if mode == "open" else max(1, config.clients // procs),
                    seconds,
                    rate / procs,
                    seed + 100 * slot,
                ),
                barrier,
                mode,
                results,
            ),
        )
        for slot in range(procs)
    ]
    for worker in workers:
        worker.start()
    stats = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    label = f"open loop {rate:g} turns/s offered" if mode == "open" else f"closed loop C={config.clients}"
    return Result(f"{label}, {procs} process{'es' if procs > 1 else ''}", procs, stats)


def profile_phase(config: Config, url: str, path: str) -> Result:
    """The single-process closed loop under cProfile (warm-up excluded); prints the top functions."""
    import cProfile
    import pstats

    async def body(profiler: cProfile.Profile) -> Stats:
        users = make_users(config.users)
        db = Database(url, pool_size=config.clients)
        queue = RecordingQueue()
        engine = _engine(db, queue)
        try:
            await run_closed(engine, users, config.clients, 2.0, 5)
            profiler.enable()
            stats = await run_closed(engine, users, config.clients, config.seconds, 6)
            profiler.disable()
        finally:
            await db.dispose()
        stats.enqueued = len(queue.ids)
        return stats

    profiler = cProfile.Profile()
    stats = event_loop.run(body(profiler))
    profiler.dump_stats(path)
    report = pstats.Stats(path)
    report.sort_stats("cumulative").print_stats(45)
    report.sort_stats("tottime").print_stats(30)
    return Result(f"closed loop C={config.clients}, 1 process, under cProfile", 1, [stats])


# --- setup, diagnostics, invariants ----------------------------------------------------------


async def onboard(url: str, config: Config) -> tuple[float, int]:
    """Every user's first turn (onboarding, demo wallet funded): returns (turns/s, enqueued)."""
    users = make_users(config.users)
    db = Database(url, pool_size=config.clients)
    queue = RecordingQueue()
    engine = _engine(db, queue)
    rng = random.Random(3)
    pending: deque[SimUser] = deque(users)
    failures: Counter[str] = Counter()

    async def worker() -> None:
        while pending:
            user = pending.popleft()
            try:
                await engine.handle(user.hello(rng))
            except Exception as error:
                failures[type(error).__name__] += 1

    start = time.perf_counter()
    try:
        await asyncio.gather(*(worker() for _ in range(config.clients)))
    finally:
        await db.dispose()
    if failures:
        raise SystemExit(f"onboarding failed: {dict(failures)}")
    return len(users) / (time.perf_counter() - start), len(queue.ids)


async def diagnose(
    url: str, config: Config, turns: int = 400
) -> tuple[dict[str, tuple[int, float, float, float, float]], int]:
    """One conversation at a time, per turn kind: count, SQL statements, ms, client and PostgreSQL CPU ms."""
    users = make_users(min(config.users, 200))
    db = Database(url, pool_size=2)
    queue = RecordingQueue()
    engine = _engine(db, queue)
    executed = 0

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        nonlocal executed
        executed += 1

    def _count_on_driver(query: Any) -> None:
        nonlocal executed
        if query.query not in ("BEGIN;", "COMMIT;", "ROLLBACK;"):
            executed += 1

    # Statements the turn path runs straight on asyncpg (domain.database.DriverStatement).
    @event.listens_for(db.engine.sync_engine, "connect")
    def _watch_driver(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(_count_on_driver)

    rng = random.Random(9)
    per_kind: dict[str, list[tuple[int, float, float, float]]] = {}
    stats = Stats()
    try:
        for step in range(turns):
            user = users[step % len(users)]
            kind, message = user.next_turn(rng)
            server = server_cpu_seconds()
            before, began, cpu = executed, time.perf_counter(), time.process_time()
            await _turn(engine, user, message, stats)
            took, cpu = time.perf_counter() - began, time.process_time() - cpu
            server = server_cpu_seconds() - server
            per_kind.setdefault(kind, []).append((executed - before, took, cpu, server))
    finally:
        await db.dispose()
    summary = {
        kind: (
            len(rows),
            statistics.fmean(r[0] for r in rows),
            statistics.fmean(r[1] for r in rows) * 1000,
            statistics.fmean(r[2] for r in rows) * 1000,
            statistics.fmean(r[3] for r in rows) * 1000,
        )
        for kind, rows in sorted(per_kind.items())
    }
    return summary, len(queue.ids)


async def check_invariants(url: str, enqueued: int) -> list[str]:
    """Ledger sums to zero per currency, no overdrawn wallet, one queued id per order."""
    db = Database(url, pool_size=1)
    problems = []
    try:
        async with db.transaction() as session:
            problems.extend(await ledger_problems(session))
            orders = int(await session.scalar(select(func.count(Order.id))) or 0)
            if orders != enqueued:
                problems.append(f"{orders} orders but {enqueued} handed to the queue")
    finally:
        await db.dispose()
    return problems


def describe(result: Result) -> None:
    """Print one phase's figures."""
    errors = sum((s.errors for s in result.stats), Counter())
    kinds = sum((s.kinds for s in result.stats), Counter())
    print(
        f"{result.label}: {result.turns} turns, {result.tps:,.0f} turns/s,"
        f" p50 {result.ms(0.50):.1f} ms, p90 {result.ms(0.90):.1f} ms, p99 {result.ms(0.99):.1f} ms,"
        f" max {result.ms(1.0):.1f} ms"
    )
    print("    mix: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    cpu = sum(s.cpu for s in result.stats)
    elapsed = max(s.elapsed for s in result.stats)
    # Every process saw the same server over (nearly) the same window: count it once.
    server = statistics.median(s.server_cpu for s in result.stats)
    if result.turns:
        print(
            f"    client CPU: {cpu / result.turns * 1000:.2f} ms/turn"
            f" ({cpu / elapsed:.2f} cores busy in the bench processes);"
            f" PostgreSQL CPU: {server / result.turns * 1000:.2f} ms/turn ({server / elapsed:.2f} cores)"
        )
    busy, stolen, total = result.stats[0].machine
    if total:
        print(f"    machine: {busy / total:.0%} busy, {stolen / total:.0%} stolen by the host")
    in_flight = max(s.max_in_flight for s in result.stats)
    if in_flight:
        print(f"    most turns in flight at once: {in_flight}")
    if errors:
        print(f"    ERRORS: {dict(errors)}")


def main() -> int:
    """Create and migrate the database, onboard, measure, check, print; drop the database."""
    config = Config.from_env()
    with migrated_database("nexustop_bench_engine") as url:
        print(
            f"users={config.users} clients={config.clients} seconds={config.seconds:g}"
            f" procs={config.procs or '1 and 2'} cpus={os.cpu_count()}"
        )
        onboard_tps, enqueued = asyncio.run(onboard(url, config))
        print(f"warm-up: {config.users} users onboarded at {onboard_tps:,.0f} turns/s (not measured)")
        summary, queued = asyncio.run(diagnose(url, config))
        enqueued += queued
        print("sequential diagnostic (one conversation at a time, not in the figures):")
        for kind, (count, statements, mean_ms, cpu_ms, server_ms) in summary.items():
            print(
                f"    {kind:<13} {count:4d} turns, {statements:4.1f} SQL statements/turn,"
                f" {mean_ms:5.2f} ms/turn, CPU ms/turn: client {cpu_ms:4.2f}, PostgreSQL {server_ms:4.2f}"
            )

        results: list[Result] = []
        if config.profile:
            results.append(profile_phase(config, url, config.profile))
        else:
            for procs in [config.procs] if config.procs else [1, 2]:
                results.append(run_phase(config, url, procs, "closed", seed=20 + procs))
        for result in results:
            describe(result)
            enqueued += sum(s.enqueued for s in result.stats)
        headline = max(results, key=lambda r: r.tps)
        if len(results) > 1:
            print(f"headline: {headline.label} (the better of the runs; set NEXUSTOP_BENCH_PROCS to fix it)")

        rates = [config.rate] if config.rate > 0 and not config.profile else []
        carried = float(max(10, round(headline.tps * 0.7, -1)))  # a load it can carry
        if rates and carried < config.rate:
            rates.append(carried)
        for seed, rate in enumerate(rates, start=40):
            opened = run_phase(config, url, headline.procs, "open", seed=seed, rate=rate)
            describe(opened)
            enqueued += sum(s.enqueued for s in opened.stats)
            achieved = opened.turns / max(s.elapsed for s in opened.stats)
            abandoned = sum(s.abandoned for s in opened.stats)
            print(f"    completed {achieved:,.0f} turns/s; {abandoned} arrivals abandoned (overload)")

        problems = asyncio.run(check_invariants(url, enqueued))
        print(
            "invariants: "
            + (
                "OK (currencies sum to zero, no overdrawn wallet, orders queued once)"
                if not problems
                else "; ".join(problems)
            )
        )
        print(f"turns_per_second={headline.tps:.0f}")
        print(f"p50_ms={headline.ms(0.50):.1f}")
        print(f"p99_ms={headline.ms(0.99):.1f}")
        return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
