"""Flutterwave v3 adapter (NG cards and banks; UEMOA mobile money): ``PaymentGateway`` and ``PayoutGateway``.

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

Transfers (payouts) to NG bank accounts (CBN/NIP bank codes) and francophone mobile money
(SN, CI, BF in XOF; ``account_bank`` ``FMM``, or ``orangemoney``/``Moov``/``WAVE`` in CI; the
wallet number with its country code, no ``+``):

- Name: ``POST /accounts/resolve`` ``{account_number, account_bank}`` → ``data.account_name``
  (banks only: mobile money has no name service, so a wallet lookup is FOUND with no name).
- Send: ``POST /transfers`` ``{account_bank, account_number, amount, currency, debit_currency,
  narration, reference, beneficiary_name}`` → ``data{id, status: NEW, reference, amount}``; a
  refusal (a reused reference among them) is settled by querying, never by sending again.
- Status: ``GET /transfers?reference=`` [U: the filter is not in our research; the sandbox has it]
  → ``data[0].status``: ``SUCCESSFUL`` → SUCCEEDED, ``FAILED`` → FAILED, ``NEW``/``PENDING`` →
  PENDING; an empty list → NOT_FOUND. Flutterwave has no reversal state: a transfer the bank
  returns later reads ``FAILED`` (the caller treats SUCCEEDED then FAILED as a reversal).
- Webhook ``transfer.completed`` (v3; ``data.status`` SUCCESSFUL/FAILED) or the legacy flat
  ``{"event.type": "Transfer", transfer{…}}``, authenticated like charge webhooks.
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
    major_to_minor,
    refused,
    settle_refusal,
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
_TRANSFER_STATUS = {"SUCCESSFUL": PayoutStatus.SUCCEEDED, "FAILED": PayoutStatus.FAILED}


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


def pays_out_to(destination: PayoutDestination) -> bool:
    """NG bank accounts (10-digit NUBAN) in NGN, and francophone mobile money in XOF/XAF."""
    if not destination.bank_code:
        return False
    if destination.kind is PayoutKind.BANK:
        place = (destination.country, destination.currency)
        return place == ("NG", "NGN") and len(destination.account_number) == 10
    return destination.country in FRANCO_COUNTRIES and destination.currency in ("XOF", "XAF")


def account_number(destination: PayoutDestination) -> str:
    """The account number as Flutterwave takes it: wallets with their country code and no ``+``."""
    return destination.account_number.lstrip("+")


class FlutterwaveGateway(GatewayClient):
    """``PaymentGateway`` and ``PayoutGateway`` backed by Flutterwave v3 (or its sandbox)."""

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

    def supports(self, destination: PayoutDestination) -> bool:
        """NG bank accounts and francophone mobile money (SN, CI, BF)."""
        return pays_out_to(destination)

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        """``POST /accounts/resolve`` for banks; wallets have no name service (FOUND, no name)."""
        if not self.supports(destination):
            return AccountLookup(LookupStatus.NOT_FOUND)
        if destination.kind is PayoutKind.MOBILE_MONEY:
            return AccountLookup(LookupStatus.FOUND)
        body = {"account_number": destination.account_number, "account_bank": destination.bank_code}
        try:
            status, reply = await self._post("/accounts/resolve", body)
        except PaymentGatewayError as error:
            log.info("flutterwave resolve of %s: %s", mask_phone(destination.account_number), error)
            return AccountLookup(LookupStatus.UNAVAILABLE)
        data = reply.get("data") if isinstance(reply, dict) else None
        name = text_or_none(data.get("account_name")) if isinstance(data, dict) else None
        if status == 200 and name:
            return AccountLookup(LookupStatus.FOUND, name)
        if status in (400, 404, 422) and isinstance(reply, dict) and reply.get("status") == "error":
            return AccountLookup(LookupStatus.NOT_FOUND)
        return AccountLookup(LookupStatus.UNAVAILABLE)

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        """``POST /transfers`` under our reference; a refusal is settled by querying, never resent."""
        destination, reference = request.destination, request.reference
        if not self.supports(destination):
            return PayoutCheck(PayoutStatus.FAILED, reference, detail="flutterwave does not pay out there")
        body = {
            "account_bank": destination.bank_code,
            "account_number": account_number(destination),
            "amount": f"{to_major(request.amount.minor, request.amount.currency):f}",
            "currency": request.amount.currency,
            "debit_currency": request.amount.currency,
            "narration": request.narration,
            "reference": reference,
            "beneficiary_name": request.account_name,
        }
        try:
            status, reply = await self._post("/transfers", body)
        except PaymentGatewayError as error:  # it may have been created: the status query will tell
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"transfer answer lost: {error}")
        data = reply.get("data") if isinstance(reply, dict) else None
        if status in (200, 201) and isinstance(data, dict) and reply.get("status") == "success":
            return check_from_transfer(data)
        message = reply.get("message", "") if isinstance(reply, dict) else ""
        why = f"flutterwave refused the transfer: HTTP {status} {message}"
        if refused(status):
            return await settle_refusal(self.query_payout, reference, why)
        return PayoutCheck(PayoutStatus.PENDING, reference, detail=why[:200])

    async def query_payout(self, reference: str) -> PayoutCheck:
        """``GET /transfers?reference=``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._client.json_call(
                "flutterwave",
                "GET",
                f"{self._base_url}/transfers",
                params={"reference": reference},
                headers=self._headers(),
            )
        except PaymentGatewayError as error:
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"query failed: {error}")
        data = reply.get("data") if isinstance(reply, dict) else None
        if status != 200 or not isinstance(data, list) or reply.get("status") != "success":
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"query answered HTTP {status}")
        mine = [t for t in data if isinstance(t, dict) and t.get("reference") == reference]
        if not mine:
            return PayoutCheck(PayoutStatus.NOT_FOUND, reference, detail="flutterwave: no such transfer")
        return check_from_transfer(mine[0])

    def parse_payout_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """A transfer event's notice (forged if not authentic); None for any other body."""
        parsed = json_object(body)
        transfer = transfer_of(parsed) if parsed is not None else None
        if transfer is None:
            return None
        problem = verify_headers(self._secret_hash, body, headers)
        if problem is not None:
            return forged(body, problem)
        reference = text_or_none(transfer.get("reference"))
        status = str(transfer.get("status", ""))
        return WebhookNotice(
            key=f"transfer:{text_or_none(transfer.get('id'))}:{status}:{reference}",
            reference=reference,
            authentic=True,
            event=f"transfer.{status.lower()}",
        )


def transfer_of(parsed: dict[str, Any]) -> dict[str, Any] | None:
    """The transfer a webhook body is about: v3 ``transfer.*`` data or a legacy ``Transfer``; else None."""
    data, legacy = parsed.get("data"), parsed.get("transfer")
    if str(parsed.get("event", "")).startswith("transfer.") and isinstance(data, dict):
        return data
    if parsed.get("event.type") == "Transfer" and isinstance(legacy, dict):
        return legacy
    return None


def check_from_transfer(data: dict[str, Any]) -> PayoutCheck:
    """A Flutterwave transfer object as a ``PayoutCheck``."""
    raw_status = str(data.get("status", "")).upper()
    currency = text_or_none(data.get("currency"))
    return PayoutCheck(
        status=_TRANSFER_STATUS.get(raw_status, PayoutStatus.PENDING),
        reference=text_or_none(data.get("reference")),
        amount_minor=major_to_minor(data.get("amount"), currency),
        currency=currency,
        gateway_reference=text_or_none(data.get("id")),
        detail=f"flutterwave: {raw_status} {data.get('complete_message', '') or ''}".strip()[:200],
    )


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
