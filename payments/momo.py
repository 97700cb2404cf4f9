"""MTN MoMo Open API adapters: collection (``PaymentGateway``, GH) and disbursement (``PayoutGateway``).

Both products work alike, each with its own credentials: every call sends the product's
``Ocp-Apim-Subscription-Key`` and ``X-Target-Environment``; the token is ``POST /{product}/token/``
(Basic api user:api key) → ``{access_token, expires_in}``, cached; a resource is created under
``X-Reference-Id: <our reference, a UUID v4>`` (its id and idempotency key: 202, a reuse 409
``RESOURCE_ALREADY_EXIST``, which we take as "already started"), optional ``X-Callback-Url``.
Amounts are **major-unit strings**.

Collection (wallet funding):

- Start: ``POST /collection/v1_0/requesttopay`` ``{amount: "50", currency, externalId, payer{partyIdType:
  "MSISDN", partyId}, payerMessage, payeeNote}`` → 202. The payer approves a prompt on their phone:
  there is no link.
- Status: ``GET /collection/v1_0/requesttopay/{referenceId}`` → ``{amount, currency, externalId,
  status: PENDING|SUCCESSFUL|FAILED, reason}`` (200 even when failed; 404 unknown).

Disbursement (payouts to MTN wallets):

- Name: ``GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo`` → ``{given_name,
  family_name, …}``; 404: no such wallet.
- Send: ``POST /disbursement/v1_0/transfer`` ``{amount, currency, externalId, payee{partyIdType:
  "MSISDN", partyId}, payerMessage, payeeNote}`` → 202 (or 409: the same transfer), then one status
  query says where it stands.
- Status: ``GET /disbursement/v1_0/transfer/{referenceId}`` → the same shape with ``payee``:
  ``SUCCESSFUL`` → SUCCEEDED, ``FAILED`` → FAILED, ``PENDING`` → PENDING; 404 → NOT_FOUND. MoMo
  has no reversal state (a transfer undone later reads ``FAILED``).

Callbacks: PUT or POST of the status body to ``X-Callback-Url`` with **no signature**, so they are
only hints (``authentic`` None): the status query decides, and they may never come (poll). A
disbursement callback is told from a collection one by its ``payee``.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from domain.countries import get_country
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
    BearerToken,
    GatewayClient,
    json_object,
    major_to_minor,
    refused,
    settle_refusal,
    text_or_none,
)

log = logging.getLogger(__name__)

_STATUS = {
    "SUCCESSFUL": PaymentStatus.SUCCESSFUL,
    "FAILED": PaymentStatus.FAILED,
    "REJECTED": PaymentStatus.FAILED,
    "TIMEOUT": PaymentStatus.FAILED,
    "EXPIRED": PaymentStatus.FAILED,
}
_TRANSFER_STATUS = {
    "SUCCESSFUL": PayoutStatus.SUCCEEDED,
    "FAILED": PayoutStatus.FAILED,
    "REJECTED": PayoutStatus.FAILED,
    "TIMEOUT": PayoutStatus.FAILED,
    "EXPIRED": PayoutStatus.FAILED,
}
#: Our id (and Paystack's code) for the MTN wallet network: the only one MoMo pays out to.
MTN = "MTN"


class MomoProduct(GatewayClient):
    """What the MoMo product adapters share: the product's key and token, environment and callback URL."""

    product = "collection"

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
            f"{self._base_url}/{self.product}/token/",
            api_user,
            api_key,
            headers={"Ocp-Apim-Subscription-Key": subscription_key},
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._base_url!r}, environment={self._environment!r})"

    async def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {await self._token.get(self._client)}",
            "X-Target-Environment": self._environment,
            "Ocp-Apim-Subscription-Key": self._subscription_key,
        }

    async def _create(self, path: str, reference: str, body: dict[str, Any]) -> tuple[int, str]:
        """POST a resource under ``X-Reference-Id: reference``; its HTTP status and body text."""
        try:
            headers = {**await self._headers(), "X-Reference-Id": reference}
            if self._callback_url:
                headers["X-Callback-Url"] = self._callback_url
            async with self._client.http().post(
                f"{self._base_url}/{self.product}{path}", json=body, headers=headers
            ) as response:
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise PaymentGatewayError(f"momo unreachable: {type(error).__name__}") from error

    async def _get(self, path: str) -> tuple[int, Any]:
        return await self._client.json_call(
            "momo", "GET", f"{self._base_url}/{self.product}{path}", headers=await self._headers()
        )


class MomoGateway(MomoProduct):
    """``PaymentGateway`` backed by MTN MoMo collections (or ``sandbox.momo``)."""

    name = "momo"
    product = "collection"

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
        status, text = await self._create("/v1_0/requesttopay", request.reference, body)
        if status in (202, 409):  # 409: this reference was already started — same payment
            return PaymentLink(url=None, gateway_reference=request.reference)
        raise PaymentGatewayError(f"momo refused: HTTP {status} {text[:120]}")

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """``GET /collection/v1_0/requesttopay/{reference}``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._get(f"/v1_0/requesttopay/{reference}")
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


class MomoDisbursement(MomoProduct):
    """``PayoutGateway`` backed by MTN MoMo disbursements (or ``sandbox.momo``)."""

    name = "momo"
    product = "disbursement"

    def __init__(
        self,
        base_url: str,
        subscription_key: str,
        api_user: str,
        api_key: str,
        *,
        countries: Iterable[str] = ("GH",),
        target_environment: str = "sandbox",
        callback_url: str | None = None,
        timeout: float = 15.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            base_url,
            subscription_key,
            api_user,
            api_key,
            target_environment=target_environment,
            callback_url=callback_url,
            timeout=timeout,
            session=session,
        )
        self.countries = frozenset(code.upper() for code in countries)
        """The MTN countries these credentials pay out in (production has one set per country)."""

    def supports(self, destination: PayoutDestination) -> bool:
        """MTN wallets (E.164 numbers) in our countries, in the country's currency."""
        country = get_country(destination.country)
        return (
            destination.kind is PayoutKind.MOBILE_MONEY
            and destination.country in self.countries
            and country is not None
            and destination.currency == country.currency
            and destination.bank_code in (None, MTN)
            and destination.account_number.startswith("+")
        )

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        """``GET …/accountholder/msisdn/{msisdn}/basicuserinfo``: the wallet holder's name."""
        if not self.supports(destination):
            return AccountLookup(LookupStatus.NOT_FOUND)
        msisdn = destination.account_number.lstrip("+")
        try:
            status, reply = await self._get(f"/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo")
        except PaymentGatewayError as error:
            log.info("momo lookup of %s: %s", mask_phone(destination.account_number), error)
            return AccountLookup(LookupStatus.UNAVAILABLE)
        if status == 404:
            return AccountLookup(LookupStatus.NOT_FOUND)
        name = holder_name(reply) if status == 200 else None
        return AccountLookup(LookupStatus.FOUND, name) if name else AccountLookup(LookupStatus.UNAVAILABLE)

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        """``POST /disbursement/v1_0/transfer`` under our reference, then one status query."""
        destination, reference = request.destination, request.reference
        if not self.supports(destination):
            return PayoutCheck(PayoutStatus.FAILED, reference, detail="momo does not pay out there")
        if not is_uuid4(reference):
            return PayoutCheck(PayoutStatus.FAILED, reference, detail="momo needs a UUID v4 reference")
        body = {
            "amount": f"{to_major(request.amount.minor, request.amount.currency):f}",
            "currency": request.amount.currency,
            "externalId": reference,
            "payee": {"partyIdType": "MSISDN", "partyId": destination.account_number.lstrip("+")},
            "payerMessage": request.narration,
            "payeeNote": request.narration,
        }
        try:
            status, text = await self._create("/v1_0/transfer", reference, body)
        except PaymentGatewayError as error:  # it may have been created: the status query will tell
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"transfer answer lost: {error}")
        if status in (202, 409):  # 409: this reference was already sent — the same transfer
            check = await self.query_payout(reference)
            if check.status is PayoutStatus.NOT_FOUND:  # accepted, not visible yet
                return PayoutCheck(PayoutStatus.PENDING, reference, detail="momo: accepted")
            return check
        why = f"momo refused the transfer: HTTP {status} {text[:120]}"
        if refused(status):
            return await settle_refusal(self.query_payout, reference, why)
        return PayoutCheck(PayoutStatus.PENDING, reference, detail=why[:200])

    async def query_payout(self, reference: str) -> PayoutCheck:
        """``GET /disbursement/v1_0/transfer/{reference}``; anything unclear is ``PENDING``."""
        try:
            status, reply = await self._get(f"/v1_0/transfer/{reference}")
        except PaymentGatewayError as error:
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"status query failed: {error}")
        if status == 404:
            return PayoutCheck(PayoutStatus.NOT_FOUND, reference, detail="momo: RESOURCE_NOT_FOUND")
        if status != 200 or not isinstance(reply, dict):
            return PayoutCheck(PayoutStatus.PENDING, reference, detail=f"status query answered HTTP {status}")
        return check_from_transfer(reply, reference)

    def parse_payout_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """A disbursement callback (it has a ``payee``) as an unsigned hint; None for any other body."""
        parsed = json_object(body)
        if parsed is None or not isinstance(parsed.get("payee"), dict):
            return None
        digest = hashlib.sha256(body).hexdigest()[:32]
        reference = text_or_none(parsed.get("referenceId")) or text_or_none(parsed.get("externalId"))
        status = str(parsed.get("status", ""))
        return WebhookNotice(
            key=f"transfer:{reference}:{status}:{digest}", reference=reference, authentic=None, event=status
        )


def is_uuid4(value: str) -> bool:
    """True for a canonical UUID v4, the only ``X-Reference-Id`` MoMo takes."""
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return parsed.version == 4 and str(parsed) == value.lower()


def holder_name(reply: Any) -> str | None:
    """The wallet holder's name from ``basicuserinfo`` (``name``, else given and family names)."""
    if not isinstance(reply, dict):
        return None
    whole = text_or_none(reply.get("name"))
    parts = [text_or_none(reply.get(key)) or "" for key in ("given_name", "family_name")]
    return whole or " ".join(part for part in parts if part) or None


def _status_fields(reply: dict[str, Any], reference: str) -> tuple[str, dict[str, Any]]:
    """The raw status of a MoMo status body and the fields every check reads from it.

    The body does not repeat ``X-Reference-Id``; we set ``externalId`` to our reference, so a
    different ``externalId`` is a mismatch.
    """
    raw = str(reply.get("status", "")).upper()
    currency = text_or_none(reply.get("currency"))
    external = text_or_none(reply.get("externalId"))
    return raw, {
        "reference": external if external is not None else reference,
        "amount_minor": major_to_minor(reply.get("amount"), currency),
        "currency": currency,
        "gateway_reference": text_or_none(reply.get("financialTransactionId")),
        "detail": f"momo: {raw} {reply.get('reason', '') or ''}".strip()[:200],
    }


def check_from_status(reply: dict[str, Any], reference: str) -> PaymentCheck:
    """A request-to-pay status body as a ``PaymentCheck``."""
    raw, fields = _status_fields(reply, reference)
    return PaymentCheck(status=_STATUS.get(raw, PaymentStatus.PENDING), **fields)


def check_from_transfer(reply: dict[str, Any], reference: str) -> PayoutCheck:
    """A disbursement transfer status body as a ``PayoutCheck``."""
    raw, fields = _status_fields(reply, reference)
    return PayoutCheck(status=_TRANSFER_STATUS.get(raw, PayoutStatus.PENDING), **fields)
