"""Payout wiring: the gateways that pay out to banks and mobile money, built from settings."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Protocol

from pydantic import SecretStr

from domain.ports import PayoutGateway
from nexustop.funding import SANDBOX_GATEWAYS, build_gateways
from nexustop.settings import Settings
from payments.flutterwave import FlutterwaveGateway
from payments.momo import MomoDisbursement
from payments.paystack import PaystackGateway
from sandbox.momo import DISBURSEMENT_API_KEY, DISBURSEMENT_API_USER, DISBURSEMENT_SUBSCRIPTION_KEY

#: Adapter classes that serve funding and payouts with one object (one HTTP session).
SHARED_ADAPTERS = (PaystackGateway, FlutterwaveGateway)
#: Credentials the demo's in-process MoMo sandbox accepts for disbursement, and the MTN countries
#: it pays out in (the sandbox takes any currency).
SANDBOX_DISBURSEMENT: dict[str, Any] = {
    "mtn_disbursement_subscription_key": SecretStr(DISBURSEMENT_SUBSCRIPTION_KEY),
    "mtn_disbursement_api_user": DISBURSEMENT_API_USER,
    "mtn_disbursement_api_key": SecretStr(DISBURSEMENT_API_KEY),
    "mtn_disbursement_countries": ("GH", "CI", "BJ", "GN", "LR"),
}


class ClosablePayoutGateway(PayoutGateway, Protocol):
    """A payout gateway adapter that owns an HTTP session."""

    async def close(self) -> None:
        """Release the HTTP session."""
        ...


def build_payout_gateways(
    settings: Settings, funding: Mapping[str, object] | None = None
) -> dict[str, ClosablePayoutGateway]:
    """Every payout gateway whose credentials are set, by name (``paystack``, ``flutterwave``, ``momo``).

    Paystack and Flutterwave pay out with the very objects that fund wallets: pass the funding
    gateways (``FundingService.gateways``) to share them and their HTTP sessions; without, they
    are built afresh by ``build_gateways``. MoMo disbursement has credentials of its own, unwrapped
    here and nowhere else.
    """
    shared = build_gateways(settings) if funding is None else funding
    gateways: dict[str, ClosablePayoutGateway] = {
        name: gateway for name, gateway in shared.items() if isinstance(gateway, SHARED_ADAPTERS)
    }
    subscription_key = settings.mtn_disbursement_subscription_key.get_secret_value()
    if subscription_key and settings.mtn_disbursement_api_user:
        gateways["momo"] = MomoDisbursement(
            settings.mtn_base_url,
            subscription_key,
            settings.mtn_disbursement_api_user,
            settings.mtn_disbursement_api_key.get_secret_value(),
            countries=settings.mtn_disbursement_countries,
            target_environment=settings.mtn_target_environment,
            callback_url=settings.public_url.rstrip("/") + "/webhook/mtn",
            timeout=settings.payment_timeout_seconds,
        )
    return gateways


def open_payout_gateways(
    stack: AsyncExitStack, settings: Settings, funding: Mapping[str, object]
) -> dict[str, ClosablePayoutGateway]:
    """The payout gateways sharing ``funding``'s adapters; those built here close with ``stack``."""
    gateways = build_payout_gateways(settings, funding)
    for name, gateway in gateways.items():
        if gateway is not funding.get(name):
            stack.push_async_callback(gateway.close)
    return gateways


def demo_payout_settings(settings: Settings) -> dict[str, Any]:
    """Settings updates for the demo: sandbox disbursement credentials when the gateway sandboxes run.

    ``settings`` already carry the demo's funding updates; the sandboxes run when they hold the
    sandbox Paystack key, and the MoMo sandbox serves disbursement next to collection.
    """
    if settings.mtn_disbursement_subscription_key.get_secret_value():
        return {}
    if settings.paystack_secret_key != SANDBOX_GATEWAYS["paystack_secret_key"]:
        return {}
    return dict(SANDBOX_DISBURSEMENT)
