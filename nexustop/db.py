"""Schema management: run Alembic migrations programmatically against any database URL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from domain.database import Database

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaNotReady(Exception):
    """The database is not at the schema this code needs; the message says what to do (one line)."""


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations and at ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` up to ``revision`` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str, revision: str = "head") -> None:
    """Run ``upgrade`` from async code without blocking the event loop."""
    await asyncio.to_thread(upgrade, url, revision)


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    assert head is not None
    return head


def _revision_of(connection: Connection) -> str | None:
    # Read alembic_version directly: Alembic's MigrationContext would log two INFO lines per call.
    if not inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return None if found is None else str(found)


async def current_revision(url: str) -> str | None:
    """The revision the database at ``url`` is at (None: never migrated)."""
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            return await connection.run_sync(_revision_of)
    finally:
        await db.dispose()


async def require_schema(url: str) -> None:
    """Raise ``SchemaNotReady`` unless the database at ``url`` is reachable and at the newest revision."""
    try:
        found = await current_revision(url)
    except (SQLAlchemyError, OSError) as error:
        raise SchemaNotReady(
            f"cannot reach the database ({type(error).__name__}); check DATABASE_URL"
        ) from None
    needed = head_revision()
    if found is None:
        raise SchemaNotReady(
            f"the database was never migrated (it needs revision {needed}): run `nexustop db upgrade`"
        )
    if found != needed:
        raise SchemaNotReady(
            f"the database is at revision {found}, this code needs {needed}: run `nexustop db upgrade`"
        )
