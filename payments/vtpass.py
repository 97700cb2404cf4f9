"""VTpass adapter: the ``TopupProvider`` port over VTpass's HTTP API (``/api/pay``, ``/api/requery``).

Request IDs: VTpass wants ``request_id`` to start with ``YYYYMMDDHHII`` in Africa/Lagos time and
refuses reuse, so our order reference *is* the request ID; mint references with
:func:`new_request_id`. A reference in any other shape is refused by VTpass (code ``011``) and
reported as ``FAILED``.

Outcome rule (from VTpass's docs): anything unexpected — timeout, connection error, 5xx,
non-JSON, unknown code — is ``PENDING`` and must be requeried, never treated as a failure.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from domain.money import Money, to_major
from domain.phones import mask_phone
from domain.ports import TopupRequest, TopupResult, TopupStatus

log = logging.getLogger(__name__)

#: VTpass dates request IDs in Nigerian time.
LAGOS = ZoneInfo("Africa/Lagos")

#: Outer codes that mean the request was definitely refused or definitely failed.
FAILED_CODES: dict[str, str] = {
    "016": "transaction failed",
    "011": "invalid arguments",
    "012": "product does not exist",
    "013": "amount below minimum",
    "017": "amount above maximum",
}

#: Outer codes that leave the outcome unknown for now.
PENDING_CODES: dict[str, str] = {
    "099": "transaction processing",
    "030": "biller not reachable",
    "018": "low wallet balance at provider",
}

_DELIVERED = frozenset({"delivered", "successful"})
_REVERSED = frozenset({"reversed", "failed", "refunded"})
_SUFFIX = re.compile(r"[A-Za-z0-9]*")


def new_request_id(suffix: str | None = None, now: datetime | None = None) -> str:
    """Mint a VTpass request ID: ``YYYYMMDDHHII`` in Lagos time plus an alphanumeric suffix."""
    moment = (now or datetime.now(LAGOS)).astimezone(LAGOS)
    tail = suffix if suffix is not None else secrets.token_hex(8)
    if not _SUFFIX.fullmatch(tail):
        raise ValueError("request ID suffix must be alphanumeric")
    return moment.strftime("%Y%m%d%H%M") + tail


def major_string(amount: Money) -> str:
    """Render ``amount`` in exact major units without exponent, e.g. ``"1500.00"`` or ``"1000"``."""
    return f"{to_major(amount.minor, amount.currency):f}"


@dataclass(frozen=True, slots=True)
class Variation:
    """One product variation (data bundle) VTpass lists for a service."""

    code: str
    name: str
    amount: Decimal
    fixed_price: bool


class VTpassError(Exception):
    """A catalog call (not a top-up) that VTpass did not answer usefully."""


class _Reply(BaseModel):
    """What VTpass sends back, read leniently: fields it omits take their defaults, numbers read
    as strings; field names are VTpass's own (``transactionId``, ``fixedPrice``)."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)


class _Transaction(_Reply):
    status: str = ""
    transactionId: str | None = None


class _Content(_Reply):
    transactions: _Transaction | None = None


class TopupReply(_Reply):
    """A ``/api/pay`` or ``/api/requery`` reply: the outer code and, on ``000``, the transaction."""

    code: str = ""
    response_description: str = ""
    transactionId: str | None = None
    content: _Content | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _content_or_none(cls, value: Any) -> Any:
        """Error replies carry ``content`` as a list or a string: no transaction, then."""
        return value if isinstance(value, dict) else None

    @property
    def transaction(self) -> _Transaction:
        """The transaction the reply describes (empty when it describes none)."""
        return self.content.transactions if self.content and self.content.transactions else _Transaction()

    @property
    def description(self) -> str:
        """The reply's description, cut to what a log line and an order event hold."""
        return self.response_description[:200]

    @property
    def provider_reference(self) -> str | None:
        """VTpass's own transaction id, if the reply carries one."""
        return self.transactionId or self.transaction.transactionId or None


class _VariationRow(_Reply):
    variation_code: str
    name: str
    variation_amount: Decimal
    fixedPrice: str = ""


class _VariationsContent(_Reply):
    variations: list[_VariationRow]


class VariationsReply(_Reply):
    """A ``/api/service-variations`` reply."""

    response_description: str
    content: _VariationsContent


class VTpassProvider:
    """``TopupProvider`` backed by VTpass (or the sandbox in ``sandbox.vtpass``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        public_key: str,
        secret_key: str,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._public_key = public_key
        self._secret_key = secret_key
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = session
        # A caller-supplied session belongs to the caller; only close the one we open.
        self._owns_session = session is None

    def __repr__(self) -> str:
        return f"VTpassProvider(base_url={self._base_url!r})"

    async def __aenter__(self) -> VTpassProvider:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session if this provider opened it."""
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._owns_session = True
        return self._session

    def _post_headers(self) -> dict[str, str]:
        return {"api-key": self._api_key, "secret-key": self._secret_key}

    def _get_headers(self) -> dict[str, str]:
        return {"api-key": self._api_key, "public-key": self._public_key}

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        """Buy airtime (``bundle_code`` None) or a data bundle; a reused reference never re-buys."""
        phone = request.phone.lstrip("+")
        body: dict[str, Any] = {
            "request_id": request.reference,
            "amount": major_string(request.amount),
            "phone": phone,
        }
        if request.bundle_code is None:
            body["serviceID"] = request.service_id
        else:
            body["serviceID"] = f"{request.service_id}-data"
            body["billersCode"] = phone
            body["variation_code"] = request.bundle_code
        log.info(
            "vtpass pay ref=%s service=%s phone=%s amount=%s",
            request.reference,
            body["serviceID"],
            mask_phone(phone),
            request.amount,
        )
        reply, trouble = await self._post("/api/pay", body)
        if reply is None:
            return self._pending(request.reference, f"pay: {trouble}")
        if reply.code == "014":
            # VTpass already holds this reference: report what became of it, never buy again.
            log.info("vtpass pay ref=%s duplicate request_id; requerying", request.reference)
            stored = await self.query_topup(request.reference)
            if stored.status is TopupStatus.NOT_FOUND:
                return TopupResult(
                    TopupStatus.PENDING,
                    None,
                    "014 request id already exists but requery cannot find it",
                )
            return stored
        if reply.code == "087":
            # Refused at the door: nothing was created, so this is a definite failure.
            log.error("vtpass pay ref=%s refused: invalid credentials", request.reference)
            return TopupResult(TopupStatus.FAILED, None, f"087 {reply.description}")
        return self._interpret(request.reference, "pay", reply)

    async def query_topup(self, reference: str) -> TopupResult:
        """Requery VTpass about ``reference``; unknown references are ``NOT_FOUND``."""
        reply, trouble = await self._post("/api/requery", {"request_id": reference})
        if reply is None:
            return self._pending(reference, f"requery: {trouble}")
        if reply.code == "015":
            log.info("vtpass requery ref=%s not found", reference)
            return TopupResult(TopupStatus.NOT_FOUND, None, f"015 {reply.description}")
        if reply.code == "087":
            log.error("vtpass requery ref=%s refused: invalid credentials", reference)
            return self._pending(reference, f"requery: 087 {reply.description}")
        return self._interpret(reference, "requery", reply)

    async def service_variations(self, service_id: str) -> tuple[Variation, ...]:
        """List the variations (bundles) VTpass sells under ``service_id``, e.g. ``mtn-data``."""
        url = f"{self._base_url}/api/service-variations"
        try:
            async with self._http().get(
                url,
                params={"serviceID": service_id},
                headers=self._get_headers(),
                timeout=self._timeout,
            ) as response:
                if response.status != 200:
                    raise VTpassError(f"HTTP {response.status}")
                raw = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise VTpassError(f"service-variations {service_id}: {exc!r}") from exc
        try:
            reply = VariationsReply.model_validate_json(raw)
        except ValidationError as exc:
            raise VTpassError(f"service-variations {service_id}: {raw[:200]!r}") from exc
        if reply.response_description != "000":
            raise VTpassError(f"service-variations {service_id}: {reply.response_description[:200]}")
        return tuple(
            Variation(v.variation_code, v.name, v.variation_amount, v.fixedPrice.lower() == "yes")
            for v in reply.content.variations
        )

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[TopupReply | None, str]:
        """POST and return the reply, or ``None`` with why the outcome is unknown."""
        url = f"{self._base_url}{path}"
        try:
            async with self._http().post(
                url, json=body, headers=self._post_headers(), timeout=self._timeout
            ) as response:
                if response.status >= 500:
                    return None, f"HTTP {response.status}"
                raw = await response.read()
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as exc:
            return None, f"connection error: {type(exc).__name__}"
        try:
            return TopupReply.model_validate_json(raw), ""
        except ValidationError:
            return None, f"HTTP {response.status} reply is not a VTpass JSON object"

    def _pending(self, reference: str, detail: str, provider_ref: str | None = None) -> TopupResult:
        log.warning("vtpass ref=%s outcome unknown (%s); will requery", reference, detail)
        return TopupResult(TopupStatus.PENDING, provider_ref, detail)

    def _interpret(self, reference: str, call: str, reply: TopupReply) -> TopupResult:
        """Map a VTpass reply to a result, leaning to PENDING whenever unsure."""
        code, description, provider_ref = reply.code, reply.description, reply.provider_reference
        if code == "000":
            inner = reply.transaction.status.lower()
            if inner in _DELIVERED:
                log.info("vtpass %s ref=%s delivered txn=%s", call, reference, provider_ref)
                return TopupResult(TopupStatus.DELIVERED, provider_ref, f"000 {inner}")
            if inner in _REVERSED:
                log.info("vtpass %s ref=%s reversed txn=%s", call, reference, provider_ref)
                return TopupResult(TopupStatus.FAILED, provider_ref, f"000 {inner}: {description}")
            return self._pending(reference, f"{call}: 000 status={inner!r}", provider_ref)
        if code in FAILED_CODES:
            log.info("vtpass %s ref=%s failed: %s %s", call, reference, code, description)
            return TopupResult(
                TopupStatus.FAILED, provider_ref, f"{code} {FAILED_CODES[code]}: {description}"
            )
        if code in PENDING_CODES:
            return self._pending(
                reference, f"{call}: {code} {PENDING_CODES[code]}: {description}", provider_ref
            )
        return self._pending(reference, f"{call}: unexpected {code!r}", provider_ref)
