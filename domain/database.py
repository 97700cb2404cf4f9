"""Database engine and sessions for PostgreSQL (asyncpg) and the embedded SQLite file (aiosqlite)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, cast

from sqlalchemy import JSON, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable


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


class Row(Protocol):
    """A result row read by column name (an asyncpg record or a SQLAlchemy row mapping)."""

    def __getitem__(self, name: str, /) -> Any: ...


_ASYNCPG = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
#: Where ``driver_connection`` keeps its answer in ``Session.info``, with the transaction it is for.
_DRIVER = "nexustop.driver"


async def driver_connection(session: AsyncSession) -> Any | None:
    """The asyncpg connection under ``session``, inside the session's transaction; ``None`` on SQLite.

    For the statements every chat turn runs (see ``DriverStatement``). Whatever runs on it
    commits or rolls back with the session, like the session's own statements. Looked up once
    per transaction.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    cached = session.info.get(_DRIVER)
    if cached is not None and cached[0] in (_WHOLE_SESSION, session.sync_session.get_transaction()):
        return cached[1]
    driver = await _begun_driver(await session.connection())
    session.info[_DRIVER] = (session.sync_session.get_transaction(), driver)
    return driver


#: ``Session.info`` mark of a driver connection that serves the session for all its life.
_WHOLE_SESSION = "whole session"


async def _begun_driver(connection: AsyncConnection) -> Any:
    """The driver connection under a checked-out ``connection``, its transaction begun."""
    raw = connection.sync_connection.connection if connection.sync_connection else None
    assert raw is not None  # already checked out: reading it does no I/O
    adapted = raw.dbapi_connection
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement: statements sent
    # straight to the driver before that would each commit on their own.
    if adapted._transaction is None:  # type: ignore[union-attr]
        await adapted._start_transaction()  # type: ignore[union-attr]
    return raw.driver_connection


async def flush_pending(session: AsyncSession) -> None:
    """Flush the session's pending changes, as its autoflush would before a query it runs itself.

    Statements sent straight to the driver, or through a connection, do not autoflush.
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def _flushed_driver(session: AsyncSession) -> Any | None:
    await flush_pending(session)
    return await driver_connection(session)


class DriverStatement:
    """A Core statement compiled once for asyncpg, run on a session's driver connection.

    SQLAlchemy's per-execution work (cache key, parameter and result processing, the greenlet
    hop) costs the client about twice what asyncpg does for the same statement; on the turn path,
    where every chat message runs the same few statements, that is most of the client's time.
    Parameters are passed by name as to ``session.execute``; JSON ones are serialized here.
    ``first``, ``all`` and ``run`` flush the session's pending changes first, as its autoflush
    would, and fall back to ``session.execute`` on SQLite, for statements both dialects can run.
    """

    __slots__ = ("_json", "names", "sql", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        compiled = cast(SQLCompiler, statement.compile(dialect=_ASYNCPG))
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self._json = frozenset(name for name, bind in compiled.binds.items() if isinstance(bind.type, JSON))

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for ``params``."""
        return [json.dumps(params[name]) if name in self._json else params[name] for name in self.names]

    async def first(self, session: AsyncSession, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns in ``session``'s transaction, if any."""
        driver = await _flushed_driver(session)
        if driver is not None:
            row: Row | None = await driver.fetchrow(self.sql, *self.arguments(params))
            return row
        found = (await session.execute(cast(Executable, self.statement), params)).first()
        return None if found is None else found._mapping

    async def all(self, session: AsyncSession, params: Mapping[str, Any]) -> Sequence[Row]:
        """Every row the statement returns in ``session``'s transaction."""
        driver = await _flushed_driver(session)
        if driver is not None:
            rows: Sequence[Row] = await driver.fetch(self.sql, *self.arguments(params))
            return rows
        return (await session.execute(cast(Executable, self.statement), params)).mappings().all()

    async def run(self, session: AsyncSession, params: Mapping[str, Any]) -> None:
        """Run the statement for its effect in ``session``'s transaction."""
        driver = await _flushed_driver(session)
        if driver is not None:
            await driver.execute(self.sql, *self.arguments(params))
        else:
            await session.execute(cast(Executable, self.statement), params)

    async def fetchrow(self, driver: Any, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """Run it and return the first row, if any."""
        row: Sequence[Any] | None = await driver.fetchrow(self.sql, *self.arguments(params))
        return row

    async def fetch(self, driver: Any, params: Mapping[str, Any]) -> list[Sequence[Any]]:
        """Run it and return all rows."""
        rows: list[Sequence[Any]] = await driver.fetch(self.sql, *self.arguments(params))
        return rows

    async def execute(self, driver: Any, params: Mapping[str, Any]) -> None:
        """Run it for its effect."""
        await driver.execute(self.sql, *self.arguments(params))


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
        if self.is_sqlite:
            async with self.sessions() as session, session.begin():
                yield session
            return
        # PostgreSQL: the transaction belongs to a connection the session joins only if it is used.
        # Chat turns mostly run driver statements (see DriverStatement), and a session's own
        # begin, commit and close cost the client more than the connection's.
        async with self.engine.connect() as connection:
            await connection.begin()
            session = self.sessions(bind=connection)
            try:
                session.info[_DRIVER] = (_WHOLE_SESSION, await _begun_driver(connection))
                yield session
                await flush_pending(session)
                await connection.commit()
            finally:
                if session.sync_session.in_transaction() or session.sync_session.identity_map:
                    await session.close()

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
