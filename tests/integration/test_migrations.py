"""Alembic migrations build exactly the schema the models describe, on PostgreSQL and on SQLite."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from domain.database import create_engine
from domain.models import Base


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


async def test_postgresql_schema_matches_the_models(pg_url: str) -> None:
    assert await _diff(pg_url) == []


async def test_sqlite_schema_matches_the_models(sqlite_url: str) -> None:
    assert await _diff(sqlite_url) == []
