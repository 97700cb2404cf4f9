"""Ports: what the business core needs from the outside world, as ``typing.Protocol``s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.money import Money


class TopupStatus(StrEnum):
    """What a provider says happened to a top-up."""

    DELIVERED = "delivered"
    """Definite success: the airtime or data reached the line."""
    FAILED = "failed"
    """Definite failure: nothing was delivered and nothing is owed to the provider."""
    PENDING = "pending"
    """Unknown for now (processing, timeout, 5xx, unexpected reply): ask again later."""
    NOT_FOUND = "not_found"
    """The provider has no transaction under this reference: it never received the request."""


@dataclass(frozen=True, slots=True)
class TopupRequest:
    """One airtime or data top-up, sent under our order reference as its idempotency key."""

    reference: str
    country: str
    service_id: str
    phone: str
    """Recipient in E.164, e.g. ``+2348031234567``."""
    amount: Money
    bundle_code: str | None = None
    """Set for data bundles; ``None`` for airtime."""


@dataclass(frozen=True, slots=True)
class TopupResult:
    """A provider's answer about one top-up."""

    status: TopupStatus
    provider_reference: str | None = None
    detail: str = ""


class TopupProvider(Protocol):
    """An airtime and data aggregator."""

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        """Submit a top-up; a reused reference must never deliver twice."""
        ...

    async def query_topup(self, reference: str) -> TopupResult:
        """Ask what became of the top-up submitted under ``reference``."""
        ...


class FulfilmentQueue(Protocol):
    """Where placed orders go to be fulfilled: Celery workers, or the event loop in the demo."""

    async def enqueue(self, order_id: int) -> None:
        """Schedule fulfilment of ``order_id``; call only after the order's transaction committed."""
        ...


class PaymentStatus(StrEnum):
    """What a payment gateway's status API says about one of our payment references."""

    SUCCESSFUL = "successful"
    FAILED = "failed"
    """Definitely not paid (declined, rejected, abandoned, expired at the gateway)."""
    PENDING = "pending"
    """Not paid yet, or the gateway could not be asked (timeout, 5xx): ask again later."""
    NOT_FOUND = "not_found"


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """Ask a gateway to collect ``amount`` from a user under our ``reference`` (a UUID v4)."""

    reference: str
    amount: Money
    country: str
    customer_id: int
    phone: str | None = None
    """The payer's number in E.164 (mobile money), when known."""
    description: str = "NexusTop wallet top-up"


@dataclass(frozen=True, slots=True)
class PaymentLink:
    """How the user pays: a checkout URL, or an approval prompt sent to their phone (``url`` None)."""

    url: str | None
    gateway_reference: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    """A gateway's status answer, in our units: ``amount_minor`` is None if it gave no usable amount."""

    status: PaymentStatus
    reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    gateway_reference: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class WebhookNotice:
    """A webhook as a gateway adapter read it: where to file it and what it is about."""

    key: str
    """Dedup key (event and reference); forged bodies get a key of their own so they block nothing."""
    reference: str | None
    authentic: bool | None
    """True: signature valid; False: forged or malformed; None: the gateway does not sign (a hint)."""
    event: str = ""
    detail: str = ""


class PaymentGatewayError(Exception):
    """A gateway refused to start a payment, or could not be reached to start it."""


class PaymentGateway(Protocol):
    """A payment gateway that collects money into user wallets."""

    name: str

    async def create_payment(self, request: PaymentRequest) -> PaymentLink:
        """Start a payment under ``request.reference``; raise ``PaymentGatewayError`` if refused."""
        ...

    async def query_payment(
        self, reference: str, gateway_reference: str | None, amount: Money
    ) -> PaymentCheck:
        """Ask the status API what became of the payment under ``reference`` (expected: ``amount``)."""
        ...

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice:
        """Check a webhook's signature and read its key and reference; never raises."""
        ...


class PayoutStatus(StrEnum):
    """What a gateway's transfer API says about one of our payouts."""

    SUCCEEDED = "succeeded"
    """The money reached the account (it may still be reversed later)."""
    FAILED = "failed"
    """Definitely not paid (rejected, invalid account, insufficient balance at the gateway)."""
    REVERSED = "reversed"
    """Paid, then returned by the receiving bank or wallet: the money is back with the gateway."""
    PENDING = "pending"
    """Not final yet, or the gateway could not be asked (timeout, 5xx): ask again later."""
    NOT_FOUND = "not_found"
    """The gateway has no transfer under this reference: it never received the request."""


class PayoutKind(StrEnum):
    """Where a payout goes."""

    BANK = "bank"
    MOBILE_MONEY = "mobile_money"


@dataclass(frozen=True, slots=True)
class PayoutDestination:
    """A bank account or mobile-money wallet to pay out to."""

    kind: PayoutKind
    country: str
    currency: str
    account_number: str
    """A NUBAN or other account number; for mobile money the wallet's number in E.164."""
    bank_code: str | None = None
    """The bank's code at the gateway (NIP code in Nigeria); the network id for mobile money."""


class LookupStatus(StrEnum):
    """What an account-name lookup found."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    """No such account: tell the user, send nothing."""
    UNAVAILABLE = "unavailable"
    """The lookup service did not answer: try again later."""


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """The account holder's name, as the bank or wallet provider has it."""

    status: LookupStatus
    account_name: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    """Pay ``amount`` to ``destination`` under our ``reference`` (the gateway's idempotency key)."""

    reference: str
    amount: Money
    destination: PayoutDestination
    account_name: str
    narration: str = "NexusTop transfer"


@dataclass(frozen=True, slots=True)
class PayoutCheck:
    """A gateway's answer about one payout, in our units (``amount_minor`` None when it gave none)."""

    status: PayoutStatus
    reference: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    gateway_reference: str | None = None
    detail: str = ""


class PayoutGateway(Protocol):
    """A gateway's transfer (disbursement) API: pays money out of our balance there to users' accounts."""

    name: str

    def supports(self, destination: PayoutDestination) -> bool:
        """True when this gateway can pay out to such a destination."""
        ...

    async def lookup_account(self, destination: PayoutDestination) -> AccountLookup:
        """The account holder's name; never raises (``UNAVAILABLE`` when it could not ask)."""
        ...

    async def send_payout(self, request: PayoutRequest) -> PayoutCheck:
        """Start a payout; a reused reference must never pay twice. Never raises: unknown → PENDING."""
        ...

    async def query_payout(self, reference: str) -> PayoutCheck:
        """Ask what became of the payout under ``reference``; never raises (unknown → PENDING)."""
        ...

    def parse_payout_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookNotice | None:
        """A transfer webhook's key, reference and signature verdict; None when it is not about a payout.

        The gateway posts payment and transfer events to the same URL: ``None`` hands the body
        on to wallet funding. Never raises.
        """
        ...


class IdentityKind(StrEnum):
    """National identity numbers a user can verify with."""

    BVN = "bvn"
    """Nigeria's Bank Verification Number (11 digits)."""
    NIN = "nin"
    """Nigeria's National Identification Number (11 digits)."""
    NATIONAL_ID = "national_id"
    """Another country's national ID card number (Ghana Card, CNI/CEDEAO card…)."""


class IdentityStatus(StrEnum):
    """What an identity verifier found."""

    MATCHED = "matched"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """An identity verifier's answer: the registered holder's name and phone when it matched."""

    status: IdentityStatus
    full_name: str | None = None
    phone: str | None = None
    """The phone number registered with the identity (E.164), when the registry has one."""


class IdentityVerifier(Protocol):
    """Looks identity numbers up in the national registry (NIBSS for BVN, NIMC for NIN…)."""

    async def verify(self, kind: IdentityKind, number: str, country: str) -> IdentityCheck:
        """Look ``number`` up; never raises (``UNAVAILABLE`` when the registry did not answer)."""
        ...
