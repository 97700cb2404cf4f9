"""Our processes run on uvloop when it is installed, and the fallback behaves as asyncio.run."""

from __future__ import annotations

import asyncio

import pytest

from nexustop import event_loop


async def _loop_kind() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_run_returns_the_coroutines_result_on_uvloop() -> None:
    pytest.importorskip("uvloop")
    assert event_loop.run(_loop_kind()).startswith("uvloop")


def test_without_uvloop_the_loop_is_asyncios_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "uvloop", None)
    assert event_loop.run(_loop_kind()).startswith("asyncio")
    loop = event_loop.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()
