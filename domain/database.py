"""Database engine and sessions for PostgreSQL (asyncpg) and the embedded SQLite file (aiosqlite)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def _serialize_sqlite_writers(engine: AsyncEngine) -> None:
    """Make every SQLite transaction ``BEGIN IMMEDIATE``.

    SQLite has no ``SELECT … FOR UPDATE``; taking the write lock at BEGIN gives the same
    guarantee the ledger relies on in PostgreSQL: no two transactions read-then-write at once.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(session: AsyncSession) -> type[postgresql.Insert] | type[sqlite.Insert]:
    """The session's dialect's ``INSERT`` construct, for ``ON CONFLICT`` clauses on either backend."""
    return sqlite.Insert if session.get_bind().dialect.name == "sqlite" else postgresql.Insert


#: Pooled connections older than this are replaced before use.
POOL_RECYCLE_SECONDS = 300


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine for ``url``, configured for the ledger's locking needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _serialize_sqlite_writers(engine)
        return engine
    # No pre-ping (a round trip per transaction): connections are recycled before servers or
    # proxies drop idle ones, and a connection found dead mid-use is invalidated with its pool.
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=POOL_RECYCLE_SECONDS
    )


class Database:
    """An engine plus a session factory: the one handle services get to reach storage."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: one session in one transaction, committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
