"""Paystack adapter (NG, GH): the ``PaymentGateway`` and ``PayoutGateway`` ports, one object for both.

- Start: ``POST /transaction/initialize`` ``{email, amount, currency, reference, callback_url}`` →
  ``data.authorization_url`` (the hosted checkout link we send the user).
- Status: ``GET /transaction/verify/{reference}`` → ``data{status, reference, amount, currency, id}``.
  ``success`` is paid; ``failed``/``reversed`` definitely not; anything else (``abandoned`` — the
  state of an initialised, unpaid transaction — ``ongoing``, ``pending``…) is still pending.
- Webhook: ``x-paystack-signature`` = hex HMAC-SHA512(secret key, raw body); body ``{event, data}``.
- Amounts are **subunits** (kobo, pesewas): two decimal places whatever the currency.
- Auth: ``Authorization: Bearer sk_…`` on every call. The secret key is never logged.

Transfers (payouts) to NG bank accounts (``nuban``), GH bank accounts (``ghipss``) and GH mobile
money (``mobile_money``, bank code ``MTN``/``VOD``/``ATL``, wallet number in local form ``024…``):

- Name: ``GET /bank/resolve?account_number=&bank_code=`` → ``data.account_name``.
- Send: ``POST /transferrecipient`` ``{type, name, account_number, bank_code, currency}`` →
  ``data.recipient_code``; then ``POST /transfer`` ``{source: "balance", amount, recipient, reason,
  reference, currency}`` → ``data{status, transfer_code, reference, amount}``. Paystack has no
  idempotency header: our ``reference`` is the key. A refused transfer (a reused reference among
  them) is settled by asking ``verify``, never by sending again.
- Status: ``GET /transfer/verify/{reference}``: ``success`` → SUCCEEDED; ``failed``/``rejected``/
  ``abandoned`` → FAILED; ``reversed`` → REVERSED; ``pending``/``processing``/``otp``/``queued``/
  ``received`` (anything else) → PENDING; unknown reference (400/404) → NOT_FOUND. An ``otp``
  transfer waits for a dashboard OTP: keep transfer OTPs off for API payouts.
- Webhooks ``transfer.success|failed|reversed``, signed like charges; ``parse_payout_webhook``
  returns None for every other event so charge events go on to funding.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from domain.countries import get_country
from domain.money import MINOR_DIGITS, Money
from domain.phones import mask_phone
from domain.ports import (
    AccountLookup,
    LookupStatus,
    PaymentCheck,
    PaymentGatewayError,
    PaymentLink,
    PaymentRequest,
    PaymentStatus,
    PayoutCheck,
    PayoutDestination,
    PayoutKind,
    PayoutRequest,
    PayoutStatus,
    WebhookNotice,
)
from payments.gateways import (
    GatewayClient,
    customer_email,
    forged,
    header,
    json_object,
    refused,
    settle_refusal,
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
_TRANSFER_STATUS = {
    "success": PayoutStatus.SUCCEEDED,
    "failed": PayoutStatus.FAILED,
    "rejected": PayoutStatus.FAILED,
    "abandoned": PayoutStatus.FAILED,
    "reversed": PayoutStatus.REVERSED,
}
#: Paystack's bank codes for Ghanaian mobile-money wallets: MTN, Telecel (ex-Vodafone), AirtelTigo.
WALLET_CODES = frozenset({"MTN", "VOD", "ATL"})
#: HTTP statuses of a lookup that mean "no such account" (not "could not ask").
_NO_SUCH_ACCOUNT = frozenset({400, 404, 422})


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


def recipient_type(destination: PayoutDestination) -> str | None:
    """Paystack's recipient type for a destination; None when Paystack does not pay out there."""
    if not destination.bank_code:
        return None
    place = (destination.kind, destination.country, destination.currency)
    if place == (PayoutKind.BANK, "NG", "NGN"):
        return "nuban" if len(destination.account_number) == 10 else None
    if place == (PayoutKind.BANK, "GH", "GHS"):
        return "ghipss"
    if place == (PayoutKind.MOBILE_MONEY, "GH", "GHS") and destination.bank_code in WALLET_CODES:
        return "mobile_money"
    return None


def account_number(destination: PayoutDestination) -> str:
    """The account number as Paystack takes it: wallets in local form (+233241234567 → 0241234567)."""
    number = destination.account_number
    country = get_country(destination.country)
    prefix = f"+{country.dialing_code}" if country else "+"
    if destination.kind is PayoutKind.MOBILE_MONEY and number.startswith(prefix):
        return "0" + number[len(prefix) :]
    return number


class PaystackGateway(GatewayClient):
    """``PaymentGateway`` and ``PayoutGateway`` backed by Paystack (or ``sandbox.paystack``)."""

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

    def supports(self, destination: PayoutDestination) -> bool:
        """NG bank accounts (NUBAN), GH bank accounts (GhIPSS) and GH mobile money (MTN, VOD, ATL)."""
        return recipient_type(destination) is not None

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        """``GET /bank/resolve``: the account holder's name."""
        if not self.supports(destination):
            return AccountLookup(LookupStatus.NOT_FOUND)
        params = {"account_number": account_number(destination), "bank_code": destination.bank_code or ""}
        try:
            status, reply = await self._client.json_call(
                "paystack", "GET", f"{self._base_url}/bank/resolve", params=params, headers=self._headers()
            )
        except PaymentGatewayError as error:
            log.info("paystack resolve of %s: %s", mask_phone(destination.account_number), error)
            return AccountLookup(LookupStatus.UNAVAILABLE)
        data = reply.get("data") if isinstance(reply, dict) else None
        name = text_or_none(data.get("account_name")) if isinstance(data, dict) else None
        if status == 200 and name:
            return AccountLookup(LookupStatus.FOUND, name)
        if status in _NO_SUCH_ACCOUNT and isinstance(reply, dict) and reply.get("status") is False:
            return AccountLookup(LookupStatus.NOT_FOUND)
        return AccountLookup(LookupStatus.UNAVAILABLE)

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        """Create the recipient, then ``POST /transfer`` under our reference; never sends twice."""
        destination, reference = request.destination, request.reference
        kind = recipient_type(destination)
        if kind is None:
            return PayoutCheck(PayoutStatus.FAILED, reference, detail="paystack does not pay out there")
        recipient = {
            "type": kind,
            "name": request.account_name,
            "account_number": account_number(destination),
            "bank_code": destination.bank_code,
            "currency": destination.currency,
        }
        try:
            status, reply = await self._post("/transferrecipient", recipient)
        except PaymentGatewayError as error:
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"no recipient yet: {error}")
        data = reply.get("data") if isinstance(reply, dict) else None
        code = text_or_none(data.get("recipient_code")) if isinstance(data, dict) else None
        if code is None:
            why = f"paystack refused the recipient: HTTP {status} {_message(reply)}"
            if refused(status):
                return await settle_refusal(self.query_payout, reference, why)
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=why[:200])
        transfer = {
            "source": "balance",
            "amount": to_subunits(request.amount),
            "recipient": code,
            "reason": request.narration,
            "reference": reference,
            "currency": request.amount.currency,
        }
        try:
            status, reply = await self._post("/transfer", transfer)
        except PaymentGatewayError as error:  # it may have been created: the status query will tell
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"transfer answer lost: {error}")
        data = reply.get("data") if isinstance(reply, dict) else None
        if status == 200 and isinstance(data, dict) and reply.get("status"):
            return check_from_transfer(data)
        why = f"paystack refused the transfer: HTTP {status} {_message(reply)}"
        if refused(status):
            return await settle_refusal(self.query_payout, reference, why)
        return PayoutCheck(PayoutStatus.PENDING, reference, detail=why[:200])

    async def query_payout(self, reference: str) -> PayoutCheck:
        """``GET /transfer/verify/{reference}``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._client.json_call(
                "paystack", "GET", f"{self._base_url}/transfer/verify/{reference}", headers=self._headers()
            )
        except PaymentGatewayError as error:
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"verify failed: {error}")
        if status in (400, 404) and isinstance(reply, dict) and reply.get("status") is False:
            return PayoutCheck(PayoutStatus.NOT_FOUND, reference, detail=_message(reply)[:200])
        data = reply.get("data") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(data, dict):
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"verify answered HTTP {status}")
        return check_from_transfer(data)

    def parse_payout_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """A ``transfer.*`` event's notice (forged if the signature is wrong); None for any other body."""
        parsed = json_object(body)
        event = parsed.get("event") if parsed else None
        if parsed is None or not isinstance(event, str) or not event.startswith("transfer."):
            return None
        given = header(headers, SIGNATURE_HEADER)
        if not given or not hmac.compare_digest(given.lower(), sign(self._secret_key, body)):
            return forged(body, "missing or wrong x-paystack-signature")
        data = parsed.get("data")
        if not isinstance(data, dict):
            return forged(body, "signed, but a transfer event without data")
        reference = text_or_none(data.get("reference"))
        transfer = text_or_none(data.get("id")) or ""
        return WebhookNotice(
            key=f"{event}:{reference}:{transfer}", reference=reference, authentic=True, event=event
        )

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        return await self._client.json_call(
            "paystack", "POST", f"{self._base_url}{path}", json=body, headers=self._headers()
        )


def _message(reply: Any) -> str:
    return str(reply.get("message", "")) if isinstance(reply, dict) else ""


def check_from_transfer(data: dict[str, Any]) -> PayoutCheck:
    """A Paystack transfer object as a ``PayoutCheck``."""
    raw_status = str(data.get("status", "")).lower()
    currency = text_or_none(data.get("currency"))
    failures = data.get("failures") or ""
    return PayoutCheck(
        status=_TRANSFER_STATUS.get(raw_status, PayoutStatus.PENDING),
        reference=text_or_none(data.get("reference")),
        amount_minor=from_subunits(data.get("amount"), currency),
        currency=currency,
        gateway_reference=text_or_none(data.get("transfer_code")) or text_or_none(data.get("id")),
        detail=f"paystack: {raw_status} {failures}".strip()[:200],
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
