"""Money-out wiring: the transfer service from settings, its in-process jobs, and the demo's defaults."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from domain.database import Database
from domain.ports import PayoutGateway
from domain.transfers import TransferService
from nexustop.periodic import run_every
from nexustop.settings import Settings

#: The demo's PIN pepper: fixed, so PINs set in one demo run still work in the next.
DEMO_PIN_PEPPER = SecretStr("demo-only-pin-pepper-never-use-in-production")
#: Payout status checks in the demo: short, so a pending payout settles while you watch.
DEMO_PAYOUT_CHECK_DELAYS = (1.0, 2.0, 3.0, 5.0, 10.0)
#: How often unclaimed transfers are looked at for expiry, in-process.
EXPIRY_EVERY_SECONDS = 60.0


def demo_transfer_settings(settings: Settings) -> dict[str, Any]:
    """Settings updates for the demo: a pepper when none is set, quick payout checks."""
    update: dict[str, Any] = {
        "payout_check_delays_seconds": DEMO_PAYOUT_CHECK_DELAYS,
        "payout_poll_seconds": 1.0,
    }
    if not settings.pin_pepper.get_secret_value():
        update["pin_pepper"] = DEMO_PIN_PEPPER
    return update


def build_transfer_service(
    settings: Settings, gateways: Mapping[str, PayoutGateway]
) -> TransferService | None:
    """The transfer service over ``gateways``; None (money out off) while ``PIN_PEPPER`` is unset."""
    pepper = settings.pin_pepper.get_secret_value()
    if not pepper:
        return None
    return TransferService(
        pepper.encode(),
        gateways=gateways,
        claim_ttl=timedelta(hours=settings.claim_ttl_hours),
        check_delays=settings.payout_check_delays_seconds,
    )


def start_transfer_jobs(
    stack: AsyncExitStack, service: TransferService, db: Database, every_seconds: float
) -> None:
    """Send and check payouts, and refund expired claims, until ``stack`` closes (no Celery beat)."""
    run_every(stack, "payouts", every_seconds, lambda: service.poll(db))
    run_every(stack, "claim expiry", EXPIRY_EVERY_SECONDS, lambda: service.expire_due(db))
