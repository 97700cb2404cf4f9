"""Ports: what the business core needs from the outside world, as ``typing.Protocol``s."""

from __future__ import annotations

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
