"""The whole web app with every channel and gateway mounted, and a count of what the database holds.

For tests that go over every route the app serves: whatever an outsider sends, the row counts
must not move.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from domain.database import Database
from domain.models import Base
from sandbox.graph import start_graph_sandbox
from tests.integration.telegram_harness import Harness, telegram_app
from tests.integration.whatsapp_harness import APP_SECRET, PHONE_ID, TOKEN, VERIFY_TOKEN


@asynccontextmanager
async def every_route_app(pg_url: str) -> AsyncIterator[Harness]:
    """The demo app on PostgreSQL with Telegram, WhatsApp and the four gateways' webhooks."""
    graph = await start_graph_sandbox(token=TOKEN, app_secret=APP_SECRET, phone_id=PHONE_ID)
    try:
        async with telegram_app(
            pg_url,
            whatsapp_phone_id=PHONE_ID,
            whatsapp_token=SecretStr(TOKEN),
            whatsapp_app_secret=SecretStr(APP_SECRET),
            whatsapp_verify_token=SecretStr(VERIFY_TOKEN),
            whatsapp_api_base=graph.base_url,
        ) as h:
            yield h
    finally:
        await graph.close()


def routes(client: TestClient) -> list[tuple[str, str]]:
    """Every (method, path) the app mounts, static files and HEAD aside."""
    app: web.Application = client.server.app  # type: ignore[assignment]
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix")
        if path is None or route.method == "HEAD" or "directory" in info:
            continue
        found.add((route.method, str(path)))
    return sorted(found)


async def row_counts(db: Database) -> dict[str, int]:
    """How many rows each table holds."""
    async with db.transaction() as session:
        return {
            table.name: int(await session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }
