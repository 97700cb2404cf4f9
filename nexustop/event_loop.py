"""The event loop our processes run on: uvloop where it is installed, else asyncio's own.

uvloop (libuv under asyncio's API, by asyncpg's authors) cuts the loop's and the sockets' share
of a chat turn; ``bench/engine.py`` measures it. Windows has no uvloop, so the fallback stays.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

try:
    import uvloop
except ImportError:  # pragma: no cover - only where uvloop cannot be installed
    uvloop = None  # type: ignore[assignment]

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop of the fastest kind available here."""
    return uvloop.new_event_loop() if uvloop is not None else asyncio.new_event_loop()


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` to completion on a new loop of the fastest kind available, as ``asyncio.run`` does."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
