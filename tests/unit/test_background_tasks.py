"""Background work off the request path: bounded coroutines never exceed their slots."""

from __future__ import annotations

import asyncio
import inspect

from bots.ingress import BackgroundTasks


async def test_bounded_work_runs_at_most_limit_at_once_and_all_of_it_runs() -> None:
    tasks = BackgroundTasks(limit=3)
    running, most, done = 0, 0, []

    async def work(n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        done.append(n)

    for n in range(10):
        tasks.spawn(work(n), bounded=True)
    await tasks.idle()
    assert most == 3
    assert sorted(done) == list(range(10))


async def test_unbounded_work_does_not_wait_for_slots() -> None:
    tasks = BackgroundTasks(limit=1)
    gate = asyncio.Event()
    started = []

    async def hold() -> None:
        await gate.wait()

    async def quick() -> None:
        started.append(True)

    tasks.spawn(hold(), bounded=True)
    tasks.spawn(quick())
    await asyncio.sleep(0.01)
    assert started == [True]  # the one slot is taken, and the unbounded task ran anyway
    gate.set()
    await tasks.idle()


async def test_work_still_waiting_for_a_slot_is_closed_unstarted_on_close() -> None:
    tasks = BackgroundTasks(limit=1)
    ran = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def never() -> None:
        ran.append(True)

    waiting = never()
    tasks.spawn(forever(), bounded=True)
    tasks.spawn(waiting, bounded=True)
    await asyncio.sleep(0)
    await tasks.close(grace=0.01)
    assert ran == []
    # closed, not merely dropped: a dropped coroutine warns "was never awaited" when freed
    assert inspect.getcoroutinestate(waiting) == inspect.CORO_CLOSED
