"""What every benchmark shares: env knobs and throwaway PostgreSQL databases on the bench server."""

from __future__ import annotations

import asyncio
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from domain.ledger_invariants import invariant_problems

#: The server benchmarks create their databases on (NEXUSTOP_BENCH_PG may point elsewhere).
ADMIN_DSN = os.environ.get("NEXUSTOP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def env_int(name: str, default: int) -> int:
    """An integer knob from the environment."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_float(name: str, default: float) -> float:
    """A decimal knob from the environment."""
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def database_dsn(name: str, admin_dsn: str = ADMIN_DSN) -> str:
    """The admin DSN pointed at another database of the same server."""
    return urlsplit(admin_dsn)._replace(path=f"/{name}").geturl()


def async_url(dsn: str) -> str:
    """The SQLAlchemy asyncpg URL for a ``postgresql://`` DSN."""
    return re.sub(r"^postgres(ql)?://", "postgresql+asyncpg://", dsn, count=1)


async def admin(*statements: str, admin_dsn: str = ADMIN_DSN) -> None:
    """Run statements (CREATE/DROP DATABASE, CHECKPOINT) on the server's admin database."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def migrated_database(prefix: str) -> Iterator[str]:
    """A throwaway database on the bench server, migrated to head; yields its async URL, then drops it."""
    from nexustop.db import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = async_url(database_dsn(name))
        upgrade(url)
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def ledger_problems(session: AsyncSession) -> list[str]:
    """What breaks the ledger's invariants (domain.ledger_invariants), one line each."""
    return [str(problem) for problem in await invariant_problems(session)]


def server_cpu_seconds() -> float:
    """CPU seconds used so far by the PostgreSQL processes on this machine (0.0 if none are visible).

    Read from /proc (Linux); meaningful only when the server is local, as on the machines here.
    Backends that exit take their time with them, so compare readings over a window in which the
    measured pool's connections stay open.
    """
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, _, rest = stat.read_text().partition(") ")
        except OSError:
            continue  # the process exited while we looked
        if head.endswith("(postgres"):
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu_ticks() -> tuple[int, int, int]:
    """This machine's (busy, stolen, total) CPU ticks so far, from /proc/stat's first line.

    Stolen ticks are time the hypervisor gave our virtual CPUs to someone else: a window with
    many of them ran on a slower machine than its figures suggest.
    """
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq, steal, sum(fields)
