"""A channel's background duties (retries, receipts, paced sends), run in a loop until cancelled."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_forever(name: str, tick: Callable[[], Awaitable[object]], every_seconds: float) -> None:
    """Call ``tick`` every ``every_seconds`` until cancelled; a failed pass is logged, not fatal."""
    while True:
        try:
            await tick()
        except Exception:  # one bad pass must not stop the channel's duties
            log.exception("%s background pass failed", name)
        await asyncio.sleep(every_seconds)
