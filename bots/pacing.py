"""A rate limiter shared by every process through Redis: one atomic check over several limits at once.

Each limit is a GCRA (generic cell rate algorithm) cell with no burst: a key holds the earliest
time the next message may go, and a send pushes it one interval further. A Lua script checks all
of a message's keys (overall, per chat, per group) against Redis's own clock and takes a slot in
all of them, or in none and says how long to wait.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: KEYS: the limit keys; ARGV: the interval of each key in microseconds. Returns 0 (taken) or the wait in µs.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local due = tonumber(redis.call('GET', key) or '0')
  if due - now > wait then wait = due - now end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i])
  redis.call('SET', key, now + interval, 'PX', math.floor(interval / 1000) + 1000)
end
return 0
"""
#: KEYS[1]: a limit key; ARGV[1]: microseconds during which it must take nothing (the channel said wait).
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local due = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if due > current then
  redis.call('SET', KEYS[1], due, 'PX', math.floor(tonumber(ARGV[1]) / 1000) + 1000)
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """At most one message per ``interval`` seconds under ``key``."""

    key: str
    interval: float


class Pacer:
    """Takes send slots from Redis limits that every process shares."""

    def __init__(self, redis: Redis, prefix: str = "pace") -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(_TAKE)
        self._hold = redis.register_script(_HOLD)

    async def try_take(self, limits: list[Limit]) -> float:
        """Take a slot in every limit at once and return 0.0, or take none and return the seconds to wait."""
        keys = [f"{self.prefix}:{limit.key}" for limit in limits]
        intervals = [max(1, round(limit.interval * 1_000_000)) for limit in limits]
        try:
            wait = int(await self._take(keys=keys, args=intervals))
        except RedisError as error:
            log.warning("pacing: Redis unavailable (%s); holding sends", type(error).__name__)
            return 1.0
        return wait / 1_000_000

    async def take(self, limits: list[Limit], max_wait: float) -> float:
        """Wait up to ``max_wait`` seconds for a slot: 0.0 when taken, else how much longer to wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while True:
            wait = await self.try_take(limits)
            if wait <= 0:
                return 0.0
            if loop.time() + wait > deadline:
                return wait
            await asyncio.sleep(wait)

    async def hold(self, limit: Limit, seconds: float) -> None:
        """Let nothing go under ``limit`` for ``seconds`` (the channel asked us to retry after them)."""
        try:
            await self._hold(keys=[f"{self.prefix}:{limit.key}"], args=[max(1, round(seconds * 1_000_000))])
        except RedisError as error:
            log.warning("pacing: could not record a hold (%s)", type(error).__name__)


class LocalPacer:
    """The same limits kept in this process only (the embedded demo without Redis)."""

    def __init__(self) -> None:
        self._due: dict[str, float] = {}

    async def try_take(self, limits: list[Limit]) -> float:
        """Take a slot in every limit at once and return 0.0, or take none and return the seconds to wait."""
        now = asyncio.get_running_loop().time()
        wait = max((self._due.get(limit.key, 0.0) - now for limit in limits), default=0.0)
        if wait > 0:
            return wait
        for limit in limits:
            self._due[limit.key] = now + limit.interval
        return 0.0

    async def take(self, limits: list[Limit], max_wait: float) -> float:
        """Wait up to ``max_wait`` seconds for a slot: 0.0 when taken, else how much longer to wait."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while True:
            wait = await self.try_take(limits)
            if wait <= 0:
                return 0.0
            if loop.time() + wait > deadline:
                return wait
            await asyncio.sleep(wait)

    async def hold(self, limit: Limit, seconds: float) -> None:
        """Let nothing go under ``limit`` for ``seconds``."""
        due = asyncio.get_running_loop().time() + seconds
        self._due[limit.key] = max(self._due.get(limit.key, 0.0), due)
