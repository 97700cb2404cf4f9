"""What the gateway adapters share: an owned-or-borrowed aiohttp session, amounts, webhooks, refusals."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

from domain.money import MINOR_DIGITS, MoneyError, to_minor
from domain.ports import PaymentGatewayError, PayoutCheck, PayoutStatus, WebhookNotice


class HttpClient:
    """An aiohttp session opened on first use; a caller-supplied one belongs to the caller."""

    def __init__(self, timeout: float, session: aiohttp.ClientSession | None = None) -> None:
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        self._owns_session = session is None

    def http(self) -> aiohttp.ClientSession:
        """The session to send requests on."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
            self._owns_session = True
        return self._session

    async def json_call(self, who: str, method: str, url: str, **options: Any) -> tuple[int, Any]:
        """Send a request; return its status and decoded JSON body.

        Raises ``PaymentGatewayError`` when ``who`` (the gateway) cannot be reached or does not
        answer JSON, so every adapter treats transport trouble the same way.
        """
        try:
            async with self.http().request(method, url, **options) as response:
                return response.status, await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as error:
            raise PaymentGatewayError(f"{who} unreachable: {type(error).__name__}") from error

    async def close(self) -> None:
        """Close the session if this client opened it."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        if self._owns_session:
            self._session = None


class GatewayClient:
    """What every gateway adapter holds: its API base URL and an HTTP client it may own."""

    def __init__(self, base_url: str, timeout: float, session: aiohttp.ClientSession | None) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = HttpClient(timeout, session)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r})"

    async def close(self) -> None:
        """Close the HTTP session if this gateway opened it."""
        await self._client.close()


class BearerToken:
    """An OAuth client-credentials token (Basic auth), reused until a minute before it expires."""

    def __init__(
        self,
        who: str,
        url: str,
        user: str,
        secret: str,
        *,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
    ) -> None:
        self._who, self._url, self._form = who, url, dict(form) if form else None
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
        self._headers = {"Authorization": f"Basic {basic}", **(headers or {})}
        self._token: str | None = None
        self._expires = 0.0

    async def get(self, client: HttpClient) -> str:
        """The current token, fetching a new one when there is none or it is about to expire."""
        if self._token is not None and time.monotonic() < self._expires:
            return self._token
        status, reply = await client.json_call(
            self._who, "POST", self._url, data=self._form, headers=self._headers
        )
        if status != 200 or not isinstance(reply, dict) or not reply.get("access_token"):
            raise PaymentGatewayError(f"{self._who} token refused: HTTP {status}")
        self._token = str(reply["access_token"])
        expires_in = float(reply.get("expires_in", 3600) or 3600)
        self._expires = time.monotonic() + max(expires_in - 60.0, 1.0)
        return self._token


def header(headers: Mapping[str, str], name: str) -> str:
    """A header's value, case-insensitively ('' when absent)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def forged(body: bytes, why: str) -> WebhookNotice:
    """A notice for a body that failed verification, keyed by its hash so it blocks no real event."""
    return WebhookNotice(
        key="forged:" + hashlib.sha256(body).hexdigest(), reference=None, authentic=False, detail=why
    )


def major_to_minor(amount: object, currency: object) -> int | None:
    """A gateway's major-unit amount (number or string) in minor units; None if unusable."""
    if not isinstance(currency, str) or currency not in MINOR_DIGITS or isinstance(amount, bool):
        return None
    if not isinstance(amount, int | float | str | Decimal):
        return None
    try:
        return to_minor(Decimal(str(amount)), currency)
    except (MoneyError, InvalidOperation):
        return None


def text_or_none(value: object) -> str | None:
    """A string field, or a number rendered as one; None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        return str(value)
    return None


def customer_email(customer_id: int) -> str:
    """Gateways require an email; chat users have none, so each gets a stable placeholder."""
    return f"user{customer_id}@customers.nexustop.app"


def refused(status: int) -> bool:
    """True for an HTTP status that is a definite "no": a 4xx other than timeouts and rate limits."""
    return 400 <= status < 500 and status not in (408, 425, 429)


async def settle_refusal(
    query: Callable[[str], Awaitable[PayoutCheck]], reference: str, why: str
) -> PayoutCheck:
    """What a refused transfer request means: the gateway's transfer under ``reference`` if it has
    one (the refusal was "duplicate reference"), else ``FAILED`` since nothing was paid.

    Never sends again: a second send is exactly what a duplicate answer forbids.
    """
    check = await query(reference)
    if check.status is PayoutStatus.NOT_FOUND:
        return PayoutCheck(PayoutStatus.FAILED, reference=reference, detail=why[:200])
    return check
