"""Live inbox updates: events published on Redis pub/sub so every web process sees every event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

#: The Redis pub/sub channel carrying inbox events.
TOPIC = "nexustop:inbox"


class LiveBus:
    """Publish inbox events and stream them to browsers; falls back to this process without Redis."""

    def __init__(self, redis_url: str, topic: str = TOPIC) -> None:
        self.redis: Redis = Redis.from_url(redis_url)
        self.topic = topic
        self._local: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis_ok = True

    async def publish(self, conversation_id: int, kind: str) -> None:
        """Tell every web process that a conversation changed (``kind``: its mode or an action)."""
        event = {"conversation_id": conversation_id, "kind": kind}
        try:
            await self.redis.publish(self.topic, json.dumps(event))
            return
        except (RedisError, OSError) as error:
            if self._redis_ok:
                log.warning("Redis unreachable (%s): live updates stay in this process", type(error).__name__)
            self._redis_ok = False
        for queue in list(self._local):
            queue.put_nowait(event)

    async def events(self, keepalive: float = 15.0) -> AsyncIterator[dict[str, Any] | None]:
        """Events as they come; None every ``keepalive`` seconds of silence (to ping the browser)."""
        pubsub = self.redis.pubsub()
        local: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._local.add(local)
        try:
            try:
                await pubsub.subscribe(self.topic)
                subscribed = True
            except (RedisError, OSError):
                subscribed = False
            while True:
                if subscribed:
                    try:
                        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=keepalive)
                    except (RedisError, OSError):
                        subscribed = False
                        continue
                    if message is None:
                        yield None
                        continue
                    try:
                        yield json.loads(message["data"])
                    except (ValueError, TypeError):
                        continue
                else:
                    try:
                        yield await asyncio.wait_for(local.get(), keepalive)
                    except TimeoutError:
                        yield None
        finally:
            self._local.discard(local)
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.redis.aclose()
