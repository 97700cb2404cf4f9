"""Wiring: build the database, provider, fulfilment queue and engine from settings (demo or real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from conversations.engine import Engine
from domain.database import Database
from domain.ports import FulfilmentQueue
from nexustop.db import upgrade_async
from nexustop.providers import build_topup_provider
from nexustop.queues import InProcessQueue, build_queue
from nexustop.settings import Settings
from payments.sandbox.vtpass import start_vtpass_sandbox
from payments.vtpass import VTpassProvider

#: Requery backoff in the demo: short, so a pending order settles while you watch.
DEMO_REQUERY_DELAYS = (1.0, 2.0, 3.0, 5.0, 8.0)


def demo_settings(base: Settings) -> Settings:
    """Embedded defaults: SQLite (unless DATABASE_URL says otherwise), in-process tasks, sandbox."""
    return base.model_copy(
        update={"demo": True, "celery_task_always_eager": True, "requery_delays_seconds": DEMO_REQUERY_DELAYS}
    )


@dataclass
class App:
    """Everything a channel needs at run time."""

    settings: Settings
    db: Database
    provider: VTpassProvider
    queue: FulfilmentQueue
    engine: Engine

    async def drain(self, timeout: float) -> None:
        """Let in-process fulfilment finish (no-op when Celery workers do it)."""
        if isinstance(self.queue, InProcessQueue):
            await self.queue.drain(timeout)


async def _start_sandbox(stack: AsyncExitStack, settings: Settings) -> Settings:
    """Run the VTpass sandbox on a loopback port in this process and point the provider at it."""
    runner, base_url = await start_vtpass_sandbox()
    stack.push_async_callback(runner.cleanup)
    return settings.model_copy(update={"vtpass_base_url": base_url})


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[App]:
    """Build the app; in demo mode also migrate the database and start the in-process sandbox."""
    async with AsyncExitStack() as stack:
        if settings.demo:
            await upgrade_async(settings.database_url)
            settings = await _start_sandbox(stack, settings)
        db = Database(settings.database_url)
        stack.push_async_callback(db.dispose)
        provider = build_topup_provider(settings)
        stack.push_async_callback(provider.close)
        queue = build_queue(settings, db, provider)
        if isinstance(queue, InProcessQueue):
            stack.push_async_callback(queue.close)
        engine = Engine(db, queue, quote_ttl_seconds=settings.quote_ttl_seconds, demo=settings.demo)
        yield App(settings, db, provider, queue, engine)


def sandbox_app() -> web.Application:
    """An aiohttp app that serves every sandbox under one port (``nexustop sandbox``)."""
    from payments.sandbox.vtpass import create_vtpass_sandbox

    app = web.Application()
    app.add_subapp("/vtpass/", create_vtpass_sandbox())
    return app
