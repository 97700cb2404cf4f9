"""The gate in front of every ``/webhook/*`` route: body size per sender, strikes per source, a bounded log.

A request that fails its signature (401/403), any other refusal (4xx), and every request to an
unsigned route (MTN, Orange: only hints) is a *strike* against its source address. A source with
``strikes_per_minute`` strikes in the current minute is answered 429 before anything else runs,
so it reaches neither the handler nor PostgreSQL. Strikes are counted in Redis (shared by every
web process); while Redis is unreachable, in this process. A refused request is logged as a
bounded summary (route, size, a hash, the source); its body is stored nowhere.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

PREFIX = "/webhook/"
#: The largest body each sender really posts, with room to spare (bytes). Paystack and
#: Flutterwave events are a few KB; MoMo and Orange callbacks under 1 KB; a Telegram update
#: (a 4096-character message quoting another) stays far below 256 KB; Meta batches WhatsApp
#: changes and documents payloads of up to 1 MB here (3 MB at most for media-heavy batches).
BODY_LIMITS = {
    "/webhook/paystack": 32 * 1024,
    "/webhook/flutterwave": 32 * 1024,
    "/webhook/mtn": 8 * 1024,
    "/webhook/orange": 8 * 1024,
    "/webhook/telegram": 256 * 1024,
    "/webhook/whatsapp": 1024 * 1024,
}
#: Any other webhook route.
DEFAULT_LIMIT = 16 * 1024
#: Routes whose requests carry no signature: every request is a strike.
UNSIGNED = frozenset({"/webhook/mtn", "/webhook/orange"})
WINDOW_SECONDS = 60

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal(status: int, code: str, **extra: object) -> web.Response:
    """A JSON error with a stable code."""
    return web.json_response({"error": code, **extra}, status=status)


def source_of(request: web.Request, trusted_proxies: frozenset[str]) -> str:
    """The client's address: the peer, or the last ``X-Forwarded-For`` hop when a trusted proxy sent it."""
    peer = request.remote or "unknown"
    if peer in trusted_proxies:
        hops = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",") if hop.strip()]
        if hops:
            try:
                return str(ipaddress.ip_address(hops[-1]))
            except ValueError:
                return peer
    return peer


@dataclass
class Strikes:
    """Per-source strike counters for the current minute: Redis, else this process."""

    redis: Redis | None
    per_minute: int
    _local: dict[str, int] = field(default_factory=dict)
    _local_window: int = 0

    def _key(self, source: str) -> str:
        return f"nexustop:webhook-strikes:{int(time.time()) // WINDOW_SECONDS}:{source}"

    async def blocked(self, source: str) -> bool:
        """True when ``source`` has used up its strikes this minute."""
        return await self._count(source) >= self.per_minute

    async def strike(self, source: str) -> None:
        """Count one failing or unsigned request against ``source``."""
        key = self._key(source)
        if self.redis is not None:
            try:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.incr(key)
                    pipe.expire(key, WINDOW_SECONDS * 2)
                    await pipe.execute()
                return
            except (RedisError, OSError):
                self._fall_back()
        self._roll()
        self._local[key] = self._local.get(key, 0) + 1

    async def _count(self, source: str) -> int:
        key = self._key(source)
        if self.redis is not None:
            try:
                return int(await self.redis.get(key) or 0)
            except (RedisError, OSError):
                self._fall_back()
        self._roll()
        return self._local.get(key, 0)

    def _fall_back(self) -> None:
        log.warning("Redis unreachable: webhook strikes are counted in this process only")
        self.redis = None

    def _roll(self) -> None:
        window = int(time.time()) // WINDOW_SECONDS
        if window != self._local_window:
            self._local.clear()
            self._local_window = window


def _limit(path: str) -> int:
    return BODY_LIMITS.get(path, DEFAULT_LIMIT)


async def _bounded_body(request: web.Request) -> bytes | None:
    """The body (cached for the handler), or None when it is over the route's limit."""
    limit = _limit(request.path)
    if request.content_length is not None and request.content_length > limit:
        return None
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return None
    return None if len(body) > limit else body


def guard(strikes: Strikes, trusted_proxies: Iterable[str] = ()) -> Middleware:
    """The aiohttp middleware guarding ``/webhook/*``."""
    proxies = frozenset(trusted_proxies)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(PREFIX):
            return await handler(request)
        source = source_of(request, proxies)
        if await strikes.blocked(source):
            return refusal(429, "rate_limited", retry_after=WINDOW_SECONDS)
        body = await _bounded_body(request)
        if body is None:
            await strikes.strike(source)
            return refusal(413, "body_too_large", limit=_limit(request.path))
        try:
            response = await handler(request)
        except web.HTTPException as error:  # unknown route or method: a refusal like any other
            response = error
        if request.path in UNSIGNED or 400 <= response.status < 500:
            await strikes.strike(source)
        if response.status in (401, 403):
            digest = hashlib.sha256(body).hexdigest()[:16]
            log.warning(
                "webhook refused: %s %s status=%d size=%d sha256=%s source=%s",
                request.method,
                request.path,
                response.status,
                len(body),
                digest,
                source,
            )
        if isinstance(response, web.HTTPException):
            raise response
        return response

    return middleware
