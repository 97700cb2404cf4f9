"""The web app: ``/healthz`` answers 200 when the database does, 503 when it does not."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from nexustop.bootstrap import demo_settings
from nexustop.settings import Settings
from nexustop.web import create_app


async def test_healthz_is_ok_on_the_demo_database(sqlite_url: str) -> None:
    settings = demo_settings(Settings(database_url=sqlite_url))
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable() -> None:
    settings = Settings(database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")
    async with TestClient(TestServer(create_app(settings))) as client:
        response = await client.get("/healthz")
        assert response.status == 503
