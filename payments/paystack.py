"""Paystack adapter (NG, GH): the ``PaymentGateway`` port over Paystack's transaction API.

- Start: ``POST /transaction/initialize`` ``{email, amount, currency, reference, callback_url}`` →
  ``data.authorization_url`` (the hosted checkout link we send the user).
- Status: ``GET /transaction/verify/{reference}`` → ``data{status, reference, amount, currency, id}``.
  ``success`` is paid; ``failed``/``reversed`` definitely not; anything else (``abandoned`` — the
  state of an initialised, unpaid transaction — ``ongoing``, ``pending``…) is still pending.
- Webhook: ``x-paystack-signature`` = hex HMAC-SHA512(secret key, raw body); body ``{event, data}``.
- Amounts are **subunits** (kobo, pesewas): two decimal places whatever the currency.
- Auth: ``Authorization: Bearer sk_…`` on every call. The secret key is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from domain.money import MINOR_DIGITS, Money
from domain.ports import (
    PaymentCheck,
    PaymentGatewayError,
    PaymentLink,
    PaymentRequest,
    PaymentStatus,
    WebhookNotice,
)
from payments.gateways import (
    GatewayClient,
    customer_email,
    forged,
    header,
    json_object,
    text_or_none,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-paystack-signature"
#: Paystack amounts always carry two decimal places (subunits).
SUBUNIT_DIGITS = 2
_STATUS = {
    "success": PaymentStatus.SUCCESSFUL,
    "failed": PaymentStatus.FAILED,
    "reversed": PaymentStatus.FAILED,
}


def to_subunits(amount: Money) -> int:
    """Our minor units as Paystack subunits (kobo, pesewas; ×100 for a zero-decimal currency)."""
    return int(amount.minor * 10 ** (SUBUNIT_DIGITS - MINOR_DIGITS[amount.currency]))


def from_subunits(subunits: object, currency: object) -> int | None:
    """Paystack subunits as our minor units; None when unusable (unknown currency, fraction)."""
    if not isinstance(currency, str) or currency not in MINOR_DIGITS:
        return None
    if isinstance(subunits, bool) or not isinstance(subunits, int | str):
        return None
    try:
        value = int(subunits)
    except ValueError:
        return None
    scale = 10 ** (SUBUNIT_DIGITS - MINOR_DIGITS[currency])
    return value // scale if value % scale == 0 else None


def sign(secret_key: str, body: bytes) -> str:
    """The ``x-paystack-signature`` of ``body``."""
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


class PaystackGateway(GatewayClient):
    """``PaymentGateway`` backed by Paystack (or ``payments.sandbox.paystack``)."""

    name = "paystack"

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        *,
        callback_url: str | None = None,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(base_url, timeout, session)
        self._secret_key = secret_key
        self._callback_url = callback_url

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret_key}"}

    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """``POST /transaction/initialize``: the hosted checkout link for the user."""
        body: dict[str, Any] = {
            "email": customer_email(request.customer_id),
            "amount": str(to_subunits(request.amount)),
            "currency": request.amount.currency,
            "reference": request.reference,
            "metadata": {"customer_id": request.customer_id, "purpose": "wallet_funding"},
        }
        if self._callback_url:
            body["callback_url"] = self._callback_url
        status, reply = await self._client.json_call(
            "paystack", "POST", f"{self._base_url}/transaction/initialize", json=body, headers=self._headers()
        )
        data = reply.get("data") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(data, dict) or not reply.get("status"):
            message = reply.get("message", "") if isinstance(reply, dict) else ""
            raise PaymentGatewayError(f"paystack refused: HTTP {status} {message}"[:200])
        url = text_or_none(data.get("authorization_url"))
        if url is None:
            raise PaymentGatewayError("paystack gave no authorization_url")
        return PaymentLink(url=url, gateway_reference=text_or_none(data.get("access_code")))

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """``GET /transaction/verify/{reference}``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._client.json_call(
                "paystack", "GET", f"{self._base_url}/transaction/verify/{reference}", headers=self._headers()
            )
        except PaymentGatewayError as error:
            return PaymentCheck(PaymentStatus.PENDING, detail=f"verify failed: {error}")
        if status in (400, 404) and isinstance(reply, dict) and reply.get("status") is False:
            return PaymentCheck(PaymentStatus.NOT_FOUND, detail=str(reply.get("message", ""))[:200])
        data = reply.get("data") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(data, dict):
            return PaymentCheck(PaymentStatus.PENDING, detail=f"verify answered HTTP {status}")
        return check_from_transaction(data)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """Check ``x-paystack-signature``; key the event by its name and transaction."""
        given = header(headers, SIGNATURE_HEADER)
        if not given or not hmac.compare_digest(given.lower(), sign(self._secret_key, body)):
            return forged(body, "missing or wrong x-paystack-signature")
        parsed = json_object(body)
        data = parsed.get("data") if parsed else None
        if parsed is None or not isinstance(data, dict):
            return forged(body, "signed, but not a Paystack event")
        event = str(parsed.get("event", ""))
        reference = text_or_none(data.get("reference"))
        transaction = text_or_none(data.get("id")) or ""
        return WebhookNotice(
            key=f"{event}:{reference}:{transaction}",
            reference=reference if event.startswith("charge.") else None,
            authentic=True,
            event=event,
        )


def check_from_transaction(data: dict[str, Any]) -> PaymentCheck:
    """A Paystack transaction object as a ``PaymentCheck``."""
    raw_status = str(data.get("status", "")).lower()
    status = _STATUS.get(raw_status, PaymentStatus.PENDING)
    currency = text_or_none(data.get("currency"))
    return PaymentCheck(
        status=status,
        reference=text_or_none(data.get("reference")),
        amount_minor=from_subunits(data.get("amount"), currency),
        currency=currency,
        gateway_reference=text_or_none(data.get("id")),
        detail=f"paystack: {raw_status} {data.get('gateway_response', '')}".strip()[:200],
    )
