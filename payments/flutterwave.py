"""Flutterwave v3 adapter (NG cards and transfers; UEMOA mobile money): the ``PaymentGateway`` port.

- Start, hosted checkout (NG and elsewhere): ``POST /payments`` ``{tx_ref, amount, currency,
  redirect_url, customer{email, phonenumber}}`` → ``data.link``.
- Start, francophone mobile money (SN, CI, BF, CM in XOF/XAF): ``POST /charges?type=mobile_money_franco``
  ``{tx_ref, amount, currency, country, email, phone_number}`` → a prompt on the payer's phone, or
  ``meta.authorization.redirect`` when the network wants the payer on a page.
- Status: ``GET /transactions/verify_by_reference?tx_ref=…`` → ``data{id, tx_ref, amount, currency,
  status}`` (``successful`` | ``failed`` | ``pending``…); unknown: ``status: "error"``.
- Webhook: ``verif-hash`` header = the dashboard's Secret Hash (compared in constant time) and/or
  ``flutterwave-signature`` = base64 HMAC-SHA256(secret hash, raw body). v3 body ``{event,
  "event.type", data}``; a legacy (v2) flat body ``{id, txRef, status, …}`` is read too.
- Amounts are **major units** (numbers or strings). ``Authorization: Bearer FLWSECK…``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from domain.money import Money, to_major
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
    major_to_minor,
    text_or_none,
)

log = logging.getLogger(__name__)

#: Countries whose wallets Flutterwave funds by francophone mobile money rather than a checkout page.
FRANCO_COUNTRIES = frozenset({"SN", "CI", "BF", "CM"})
_STATUS = {
    "successful": PaymentStatus.SUCCESSFUL,
    "failed": PaymentStatus.FAILED,
    "cancelled": PaymentStatus.FAILED,
    "canceled": PaymentStatus.FAILED,
    "error": PaymentStatus.FAILED,
}


def signature(secret_hash: str, body: bytes) -> str:
    """The ``flutterwave-signature`` of ``body``."""
    return base64.b64encode(hmac.new(secret_hash.encode(), body, hashlib.sha256).digest()).decode()


def verify_headers(secret_hash: str, body: bytes, headers: Mapping[str, str]) -> str | None:
    """None when the webhook is authentic, else why not. Every header present must be right."""
    verif = header(headers, "verif-hash")
    signed = header(headers, "flutterwave-signature")
    if not verif and not signed:
        return "no verif-hash or flutterwave-signature header"
    if verif and not hmac.compare_digest(verif.encode(), secret_hash.encode()):
        return "wrong verif-hash"
    if signed and not hmac.compare_digest(signed.encode(), signature(secret_hash, body).encode()):
        return "wrong flutterwave-signature"
    return None


class FlutterwaveGateway(GatewayClient):
    """``PaymentGateway`` backed by Flutterwave v3 (or ``payments.sandbox.flutterwave``)."""

    name = "flutterwave"

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        secret_hash: str,
        *,
        redirect_url: str | None = None,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(base_url, timeout, session)
        self._secret_key = secret_key
        self._secret_hash = secret_hash
        self._redirect_url = redirect_url

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._secret_key}"}

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self._client.json_call(
            "flutterwave", "POST", f"{self._base_url}{path}", json=body, headers=self._headers()
        )

    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """A hosted checkout link, or a mobile-money prompt in francophone UEMOA countries."""
        amount = f"{to_major(request.amount.minor, request.amount.currency):f}"
        email = customer_email(request.customer_id)
        phone = (request.phone or "").lstrip("+")
        if request.country in FRANCO_COUNTRIES and request.amount.currency in ("XOF", "XAF"):
            if not phone:
                raise PaymentGatewayError("mobile money needs the payer's phone number")
            body: dict[str, Any] = {
                "tx_ref": request.reference,
                "amount": amount,
                "currency": request.amount.currency,
                "country": request.country,
                "email": email,
                "phone_number": phone,
            }
            status, reply = await self._post("/charges?type=mobile_money_franco", body)
            data = _success_data(status, reply)
            meta = reply.get("meta") if isinstance(reply, dict) else None
            auth = meta.get("authorization") if isinstance(meta, dict) else None
            url = text_or_none(auth.get("redirect")) if isinstance(auth, dict) else None
            return PaymentLink(url=url, gateway_reference=text_or_none(data.get("id")))
        body = {
            "tx_ref": request.reference,
            "amount": amount,
            "currency": request.amount.currency,
            "customer": {"email": email, **({"phonenumber": phone} if phone else {})},
            "customizations": {"title": request.description},
        }
        if self._redirect_url:
            body["redirect_url"] = self._redirect_url
        status, reply = await self._post("/payments", body)
        link = text_or_none(_success_data(status, reply).get("link"))
        if link is None:
            raise PaymentGatewayError("flutterwave gave no checkout link")
        return PaymentLink(url=link)

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """``GET /transactions/verify_by_reference``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._client.json_call(
                "flutterwave",
                "GET",
                f"{self._base_url}/transactions/verify_by_reference",
                params={"tx_ref": reference},
                headers=self._headers(),
            )
        except PaymentGatewayError as error:
            return PaymentCheck(PaymentStatus.PENDING, detail=f"verify failed: {error}")
        if not isinstance(reply, dict):
            return PaymentCheck(PaymentStatus.PENDING, detail=f"verify answered HTTP {status}")
        data = reply.get("data")
        if reply.get("status") == "error" and status in (400, 404) and not data:
            return PaymentCheck(PaymentStatus.NOT_FOUND, detail=str(reply.get("message", ""))[:200])
        if status != 200 or reply.get("status") != "success" or not isinstance(data, dict):
            return PaymentCheck(PaymentStatus.PENDING, detail=f"verify answered HTTP {status}")
        return check_from_transaction(data)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """Check ``verif-hash``/``flutterwave-signature``; key the event by name, id and status."""
        problem = verify_headers(self._secret_hash, body, headers)
        if problem is not None:
            return forged(body, problem)
        parsed = json_object(body)
        if parsed is None:
            return forged(body, "authentic, but not a JSON object")
        data = parsed.get("data")
        if isinstance(data, dict):  # v3
            event = str(parsed.get("event", ""))
            reference = text_or_none(data.get("tx_ref"))
            key = f"{event}:{text_or_none(data.get('id'))}:{data.get('status', '')}:{reference}"
            is_charge = event.startswith("charge.")
        else:  # legacy v2: flat
            event = str(parsed.get("event.type", ""))
            reference = text_or_none(parsed.get("txRef"))
            key = f"v2:{event}:{text_or_none(parsed.get('id'))}:{parsed.get('status', '')}:{reference}"
            is_charge = event.upper().endswith("_TRANSACTION")
        return WebhookNotice(key=key, reference=reference if is_charge else None, authentic=True, event=event)


def _success_data(status: int, reply: Any) -> dict[str, Any]:
    data = reply.get("data") if isinstance(reply, dict) else None
    if status not in (200, 201) or not isinstance(reply, dict) or reply.get("status") != "success":
        message = reply.get("message", "") if isinstance(reply, dict) else ""
        raise PaymentGatewayError(f"flutterwave refused: HTTP {status} {message}"[:200])
    return data if isinstance(data, dict) else {}


def check_from_transaction(data: dict[str, Any]) -> PaymentCheck:
    """A Flutterwave transaction object as a ``PaymentCheck``."""
    raw_status = str(data.get("status", "")).lower()
    status = _STATUS.get(raw_status, PaymentStatus.PENDING)
    currency = text_or_none(data.get("currency"))
    return PaymentCheck(
        status=status,
        reference=text_or_none(data.get("tx_ref")),
        amount_minor=major_to_minor(data.get("amount"), currency),
        currency=currency,
        gateway_reference=text_or_none(data.get("id")),
        detail=f"flutterwave: {raw_status} {data.get('processor_response', '')}".strip()[:200],
    )
