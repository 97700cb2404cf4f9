"""Serve a sandbox app on a loopback port, the way every sandbox starts, and check its control knobs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from aiohttp import web


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (0 = any free port); return its runner and base URL."""
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"


def refuse_unknown_knobs(raw: dict[str, Any], known: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the knobs in ``raw`` that a sandbox does not have."""
    if unknown := set(raw) - set(known):
        raise ValueError(f"unknown knobs: {sorted(unknown)}")
