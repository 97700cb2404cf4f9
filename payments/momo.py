"""MTN MoMo Open API adapter (GH), collection product: the ``PaymentGateway`` port.

- Token: ``POST /collection/token/`` (Basic api user:api key) → ``{access_token, expires_in}``, cached.
- Start: ``POST /collection/v1_0/requesttopay`` with ``X-Reference-Id: <our reference, a UUID v4>``
  (the resource id and idempotency key: a reuse answers 409, which we take as "already started"),
  ``X-Target-Environment``, optional ``X-Callback-Url``; body ``{amount: "50", currency, externalId,
  payer{partyIdType: "MSISDN", partyId}, payerMessage, payeeNote}`` → 202. The payer approves a
  prompt on their phone: there is no link.
- Status: ``GET /collection/v1_0/requesttopay/{referenceId}`` → ``{amount, currency, externalId,
  status: PENDING|SUCCESSFUL|FAILED, reason}`` (200 even when failed; 404 unknown).
- Callback: PUT or POST of the status body to ``X-Callback-Url`` with **no signature**, so it is
  only a hint: the status query decides. It may also never come (the poller covers that).
- Amounts are **major-unit strings**. Every call sends ``Ocp-Apim-Subscription-Key``.
"""

from __future__ import annotations

import hashlib
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
from payments.gateways import BearerToken, GatewayClient, json_object, major_to_minor, text_or_none

log = logging.getLogger(__name__)

_STATUS = {
    "SUCCESSFUL": PaymentStatus.SUCCESSFUL,
    "FAILED": PaymentStatus.FAILED,
    "REJECTED": PaymentStatus.FAILED,
    "TIMEOUT": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.FAILED,
}


class MomoGateway(GatewayClient):
    """``PaymentGateway`` backed by MTN MoMo collections (or ``payments.sandbox.momo``)."""

    name = "momo"

    def __init__(
        self,
        base_url: str,
        subscription_key: str,
        api_user: str,
        api_key: str,
        *,
        target_environment: str = "sandbox",
        callback_url: str | None = None,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(base_url, timeout, session)
        self._subscription_key = subscription_key
        self._environment = target_environment
        self._callback_url = callback_url
        self._token = BearerToken(
            "momo",
            f"{self._base_url}/collection/token/",
            api_user,
            api_key,
            headers={"Ocp-Apim-Subscription-Key": subscription_key},
        )

    def __repr__(self) -> str:
        return f"MomoGateway(base_url={self._base_url!r}, environment={self._environment!r})"

    async def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {await self._token.get(self._client)}",
            "X-Target-Environment": self._environment,
            "Ocp-Apim-Subscription-Key": self._subscription_key,
        }

    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """Request to pay: a prompt on the payer's phone under ``X-Reference-Id`` = our reference."""
        payer = "".join(ch for ch in request.phone or "" if ch.isdigit())
        if not payer:
            raise PaymentGatewayError("MoMo needs the payer's phone number")
        body: dict[str, Any] = {
            "amount": f"{to_major(request.amount.minor, request.amount.currency):f}",
            "currency": request.amount.currency,
            "externalId": request.reference,
            "payer": {"partyIdType": "MSISDN", "partyId": payer},
            "payerMessage": request.description,
            "payeeNote": request.description,
        }
        try:
            headers = {**await self._headers(), "X-Reference-Id": request.reference}
            if self._callback_url:
                headers["X-Callback-Url"] = self._callback_url
            async with self._client.http().post(
                f"{self._base_url}/collection/v1_0/requesttopay", json=body, headers=headers
            ) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise PaymentGatewayError(f"momo unreachable: {type(error).__name__}") from error
        if status in (202, 409):  # 409: this reference was already started — same payment
            return PaymentLink(url=None, gateway_reference=request.reference)
        raise PaymentGatewayError(f"momo refused: HTTP {status} {text[:120]}")

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """``GET /collection/v1_0/requesttopay/{reference}``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._client.json_call(
                "momo",
                "GET",
                f"{self._base_url}/collection/v1_0/requesttopay/{reference}",
                headers=await self._headers(),
            )
        except PaymentGatewayError as error:
            return PaymentCheck(PaymentStatus.PENDING, detail=f"status query failed: {error}")
        if status == 404:
            return PaymentCheck(PaymentStatus.NOT_FOUND, detail="momo: RESOURCE_NOT_FOUND")
        if status != 200 or not isinstance(reply, dict):
            return PaymentCheck(PaymentStatus.PENDING, detail=f"status query answered HTTP {status}")
        return check_from_status(reply, reference)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """MoMo callbacks are unsigned: a hint keyed by reference, status and body."""
        digest = hashlib.sha256(body).hexdigest()[:32]
        parsed = json_object(body)
        if parsed is None:
            return WebhookNotice(key=f"junk:{digest}", reference=None, authentic=None, detail="not JSON")
        reference = text_or_none(parsed.get("referenceId")) or text_or_none(parsed.get("externalId"))
        status = str(parsed.get("status", ""))
        return WebhookNotice(
            key=f"{reference}:{status}:{digest}", reference=reference, authentic=None, event=status
        )


def check_from_status(reply: dict[str, Any], reference: str) -> PaymentCheck:
    """A request-to-pay status body as a ``PaymentCheck``.

    The body does not repeat ``X-Reference-Id``; we set ``externalId`` to our reference, so a
    different ``externalId`` is a mismatch.
    """
    raw = str(reply.get("status", "")).upper()
    currency = text_or_none(reply.get("currency"))
    external = text_or_none(reply.get("externalId"))
    return PaymentCheck(
        status=_STATUS.get(raw, PaymentStatus.PENDING),
        reference=external if external is not None else reference,
        amount_minor=major_to_minor(reply.get("amount"), currency),
        currency=currency,
        gateway_reference=text_or_none(reply.get("financialTransactionId")),
        detail=f"momo: {raw} {reply.get('reason', '') or ''}".strip()[:200],
    )
