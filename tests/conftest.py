"""Shared fixtures: a PostgreSQL database of this test run's own, migrated to head."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from domain.database import Database
from nexustop.db import upgrade

ADMIN_DSN = os.environ.get("NEXUSTOP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
# The suite posts many refused webhooks, all from 127.0.0.1: the webhook guard's own tests use a
# low limit of their own, every other app a high one (subprocesses inherit it).
os.environ.setdefault("WEBHOOK_STRIKES_PER_MINUTE", "1000000")


def _async_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(ADMIN_DSN)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database for this run (so parallel runs never collide), dropped at the end."""
    import asyncio

    name = f"nexustop_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _async_url(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    upgrade(url)
    os.environ["NEXUSTOP_TEST_DATABASE_URL"] = url
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
async def db(pg_url: str) -> AsyncIterator[Database]:
    """A connection pool on the run's PostgreSQL database."""
    database = Database(pg_url, pool_size=20)
    yield database
    await database.dispose()


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    """A migrated SQLite file, as the embedded demo uses."""
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'nexustop.db'}"
    upgrade(url)
    return url
