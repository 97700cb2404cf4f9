"""Orange Money Web Payment adapter (UEMOA): the ``PaymentGateway`` port. Shapes are [3P/U] in our research.

- Token: ``POST /oauth/v3/token`` (Basic client id:secret, form ``grant_type=client_credentials``).
- Start: ``POST /orange-money-webpay/{env}/v1/webpayment`` ``{merchant_key, currency, order_id,
  amount, return_url, cancel_url, notif_url, lang, reference}`` → ``{pay_token, payment_url,
  notif_token}``; ``order_id`` is our reference, ``pay_token`` is kept as the gateway reference.
  ``env`` is ``dev`` (whose currency is ``OUV``) or the country's segment in production.
- Status: ``POST /orange-money-webpay/{env}/v1/transactionstatus`` ``{order_id, amount, pay_token}``
  → ``{status: INITIATED|PENDING|SUCCESS|FAILED|EXPIRED, order_id, txnid}``. The query is keyed by
  the amount we asked for, so a ``SUCCESS`` confirms that amount in that currency.
- Notification: ``{status, notif_token, txnid}`` POSTed to ``notif_url`` (which carries
  ``?ref=<our reference>``); it is not signed, so it is only a hint for a status query.
- Amounts are whole major units (XOF has no minor unit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

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
from payments.gateways import BearerToken, GatewayClient, json_object, text_or_none

#: The web handler passes the notification URL's query string in this pseudo-header.
QUERY_HEADER = "x-webhook-query"
_STATUS = {
    "SUCCESS": PaymentStatus.SUCCESSFUL,
    "FAILED": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.FAILED,
}


class OrangeGateway(GatewayClient):
    """``PaymentGateway`` backed by Orange Money Web Payment (or ``sandbox.orange``)."""

    name = "orange"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        merchant_key: str,
        *,
        environment: str = "dev",
        currency_override: str | None = None,
        notif_url: str = "http://127.0.0.1:8080/webhook/orange",
        return_url: str = "http://127.0.0.1:8080/funded",
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(base_url, timeout, session)
        self._merchant_key = merchant_key
        self._environment = environment
        self._currency_override = currency_override
        self._notif_url = notif_url
        self._return_url = return_url
        self._token = BearerToken(
            "orange",
            f"{self._base_url}/oauth/v3/token",
            client_id,
            client_secret,
            form={"grant_type": "client_credentials"},
        )

    def __repr__(self) -> str:
        return f"OrangeGateway(base_url={self._base_url!r}, environment={self._environment!r})"

    def _path(self, name: str) -> str:
        return f"{self._base_url}/orange-money-webpay/{self._environment}/v1/{name}"

    async def _post(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        headers = {
            "Authorization": f"Bearer {await self._token.get(self._client)}",
            "Accept": "application/json",
        }
        return await self._client.json_call("orange", "POST", self._path(name), json=body, headers=headers)

    def _amount(self, amount: Money) -> int:
        return int(to_major(amount.minor, amount.currency))

    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """``POST …/webpayment``: the Orange Money payment page for the user."""
        if request.amount.currency != "XOF":
            raise PaymentGatewayError("Orange Money web payment takes XOF only")
        body = {
            "merchant_key": self._merchant_key,
            "currency": self._currency_override or request.amount.currency,
            "order_id": request.reference,
            "amount": self._amount(request.amount),
            "return_url": self._return_url,
            "cancel_url": self._return_url,
            "notif_url": f"{self._notif_url}?ref={request.reference}",
            "lang": "fr",
            "reference": "NexusTop",
        }
        status, reply = await self._post("webpayment", body)
        url = text_or_none(reply.get("payment_url")) if isinstance(reply, dict) else None
        token = text_or_none(reply.get("pay_token")) if isinstance(reply, dict) else None
        if status not in (200, 201) or url is None or token is None:
            raise PaymentGatewayError(f"orange refused: HTTP {status}")
        return PaymentLink(url=url, gateway_reference=token)

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """``POST …/transactionstatus`` keyed by our reference, the amount and the pay token."""
        if gateway_reference is None:
            return PaymentCheck(PaymentStatus.NOT_FOUND, detail="orange: no pay_token recorded")
        body = {"order_id": reference, "amount": self._amount(amount), "pay_token": gateway_reference}
        try:
            status, reply = await self._post("transactionstatus", body)
        except PaymentGatewayError as error:
            return PaymentCheck(PaymentStatus.PENDING, detail=f"status query failed: {error}")
        if status == 404:
            return PaymentCheck(PaymentStatus.NOT_FOUND, detail="orange: unknown transaction")
        if status not in (200, 201) or not isinstance(reply, dict):
            return PaymentCheck(PaymentStatus.PENDING, detail=f"status query answered HTTP {status}")
        raw = str(reply.get("status", "")).upper()
        outcome = _STATUS.get(raw, PaymentStatus.PENDING)
        confirmed = outcome is PaymentStatus.SUCCESSFUL
        return PaymentCheck(
            status=outcome,
            reference=text_or_none(reply.get("order_id")),
            amount_minor=amount.minor if confirmed else None,
            currency=amount.currency if confirmed else None,
            gateway_reference=None,
            detail=f"orange: {raw} {reply.get('txnid', '') or ''}".strip()[:200],
        )

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """Orange notifications are not signed: a hint keyed by reference, status and body."""
        digest = hashlib.sha256(body).hexdigest()[:32]
        query = parse_qs(next((v for k, v in headers.items() if k.lower() == QUERY_HEADER), ""))
        refs = query.get("ref")
        reference = refs[0] if refs else None
        parsed = json_object(body)
        if parsed is None:
            return WebhookNotice(key=f"junk:{digest}", reference=None, authentic=None, detail="not JSON")
        status = str(parsed.get("status", ""))
        return WebhookNotice(
            key=f"{reference}:{status}:{digest}", reference=reference, authentic=None, event=status
        )
