"""Commands that need a migrated PostgreSQL database say so in one line and exit 2, never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from alembic.script import ScriptDirectory

from nexustop.db import alembic_config, head_revision, upgrade
from tests.conftest import ADMIN_DSN, _admin, _async_url

NEXUSTOP = [sys.executable, "-m", "nexustop.cli"]


@pytest.fixture
def empty_pg() -> Iterator[str]:
    """A PostgreSQL database nobody ever migrated."""
    name = f"nexustop_empty_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield _async_url(ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}")
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _run(url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [*NEXUSTOP, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_staff_add_on_a_database_never_migrated_says_to_run_db_upgrade(empty_pg: str) -> None:
    refused = _run(empty_pg, "staff", "add", "ada@example.com", "--name", "Ada", stdin="a long passphrase\n")
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert "never migrated" in refused.stderr and "nexustop db upgrade" in refused.stderr
    upgrade(empty_pg)
    added = _run(empty_pg, "staff", "add", "ada@example.com", "--name", "Ada", stdin="a long passphrase\n")
    assert added.returncode == 0, added.stderr


def test_serve_refuses_an_old_schema_naming_both_revisions(empty_pg: str) -> None:
    head = head_revision()
    previous = ScriptDirectory.from_config(alembic_config(empty_pg)).get_revision(head).down_revision
    assert isinstance(previous, str)
    upgrade(empty_pg, previous)
    refused = _run(empty_pg, "serve", "--port", "9")
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    assert f"at revision {previous}, this code needs {head}" in refused.stderr
    assert "nexustop db upgrade" in refused.stderr
    audit = _run(empty_pg, "audit", "verify")
    assert audit.returncode == 2 and f"this code needs {head}" in audit.stderr
