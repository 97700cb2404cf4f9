"""In-process periodic jobs for runs without Celery beat (the demo, eager mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from bots.duties import run_forever

log = logging.getLogger(__name__)


def _logging(name: str, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    async def tick() -> None:
        if result := await job():
            log.info("%s: %s", name, result)

    return tick


def run_every(
    stack: AsyncExitStack, name: str, every_seconds: float, job: Callable[[], Awaitable[object]]
) -> None:
    """Run ``job`` every ``every_seconds`` until ``stack`` closes."""
    task = asyncio.create_task(run_forever(name, _logging(name, job), every_seconds), name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
