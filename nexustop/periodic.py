"""In-process periodic jobs for runs without Celery beat (the demo, eager mode)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

log = logging.getLogger(__name__)


async def _repeat(name: str, job: Callable[[], Awaitable[object]], every_seconds: float) -> None:
    while True:
        try:
            result = await job()
            if result:
                log.info("%s: %s", name, result)
        except Exception:  # one failed pass must not stop the job
            log.exception("%s pass failed", name)
        await asyncio.sleep(every_seconds)


def run_every(
    stack: AsyncExitStack, name: str, every_seconds: float, job: Callable[[], Awaitable[object]]
) -> None:
    """Run ``job`` every ``every_seconds`` until ``stack`` closes."""
    task = asyncio.create_task(_repeat(name, job, every_seconds), name=name)

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    stack.push_async_callback(stop)
