"""Wallet-funding wiring: gateways from settings, the ``/webhook/<gateway>`` routes, the poller loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Protocol

from aiohttp import web
from pydantic import SecretStr

from domain.database import Database
from domain.funding import FundingService
from domain.ports import PaymentGateway
from domain.transfers import TransferService
from nexustop.periodic import run_every
from nexustop.settings import Settings
from payments.flutterwave import FlutterwaveGateway
from payments.momo import MomoGateway
from payments.orange import QUERY_HEADER, OrangeGateway
from payments.paystack import PaystackGateway

log = logging.getLogger(__name__)

#: URL path segment → gateway name (MTN MoMo posts to ``/webhook/mtn``).
WEBHOOK_PATHS = {"paystack": "paystack", "flutterwave": "flutterwave", "mtn": "momo", "orange": "orange"}


class ClosableGateway(PaymentGateway, Protocol):
    """A gateway adapter that owns an HTTP session."""

    async def close(self) -> None:
        """Release the HTTP session."""
        ...


def build_gateways(settings: Settings) -> dict[str, ClosableGateway]:
    """Every gateway whose credentials are set, by name: the one place their secrets are unwrapped."""
    gateways: dict[str, ClosableGateway] = {}
    callback = settings.public_url.rstrip("/") + "/funded"
    timeout = settings.payment_timeout_seconds
    if secret := settings.paystack_secret_key.get_secret_value():
        gateways["paystack"] = PaystackGateway(
            settings.paystack_base_url, secret, callback_url=callback, timeout=timeout
        )
    flw_key = settings.flutterwave_secret_key.get_secret_value()
    flw_hash = settings.flutterwave_secret_hash.get_secret_value()
    if flw_key and flw_hash:
        gateways["flutterwave"] = FlutterwaveGateway(
            settings.flutterwave_base_url, flw_key, flw_hash, redirect_url=callback, timeout=timeout
        )
    mtn_key = settings.mtn_subscription_key.get_secret_value()
    if mtn_key and settings.mtn_api_user:
        gateways["momo"] = MomoGateway(
            settings.mtn_base_url,
            mtn_key,
            settings.mtn_api_user,
            settings.mtn_api_key.get_secret_value(),
            target_environment=settings.mtn_target_environment,
            callback_url=settings.public_url.rstrip("/") + "/webhook/mtn",
            timeout=timeout,
        )
    orange_secret = settings.orange_client_secret.get_secret_value()
    if settings.orange_client_id and orange_secret:
        gateways["orange"] = OrangeGateway(
            settings.orange_base_url,
            settings.orange_client_id,
            orange_secret,
            settings.orange_merchant_key.get_secret_value(),
            environment=settings.orange_environment,
            currency_override=settings.orange_currency_override or None,
            notif_url=settings.public_url.rstrip("/") + "/webhook/orange",
            return_url=callback,
            timeout=timeout,
        )
    return gateways


async def open_funding(stack: AsyncExitStack, settings: Settings, db: Database) -> FundingService:
    """The funding service over every configured gateway; their sessions close with ``stack``."""
    gateways = build_gateways(settings)
    for gateway in gateways.values():
        stack.push_async_callback(gateway.close)
    return FundingService(db, gateways, check_delays=settings.funding_check_delays_seconds)


def start_poller(stack: AsyncExitStack, service: FundingService, every_seconds: float) -> None:
    """Run the in-process poller until ``stack`` closes (demo and ``serve`` without Celery beat)."""
    run_every(stack, "funding poller", every_seconds, service.poll)


#: Credentials the demo's in-process gateway sandboxes accept.
SANDBOX_GATEWAYS: dict[str, Any] = {
    "paystack_secret_key": SecretStr("sk_test_sandbox"),
    "flutterwave_secret_key": SecretStr("FLWSECK_TEST-sandbox"),
    "flutterwave_secret_hash": SecretStr("sandbox-secret-hash"),
    "mtn_subscription_key": SecretStr("sandbox-subscription-key"),
    "mtn_api_user": "0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b",
    "mtn_api_key": SecretStr("sandbox-api-key"),
    "orange_client_id": "sandbox-orange-client",
    "orange_client_secret": SecretStr("sandbox-orange-secret"),
    "orange_merchant_key": SecretStr("sandbox-merchant-key"),
}
#: In the demo the sandbox "payer" pays this many seconds after the link is sent.
DEMO_AUTO_PAY_SECONDS = 4.0
DEMO_CHECK_DELAYS = (2.0, 3.0, 5.0, 10.0, 30.0)


def demo_funding_settings(settings: Settings) -> dict[str, Any]:
    """Settings updates for the demo: sandbox credentials where none are configured, quick checks."""
    update: dict[str, Any] = {"funding_check_delays_seconds": DEMO_CHECK_DELAYS, "funding_poll_seconds": 1.0}
    if not (
        settings.paystack_secret_key.get_secret_value()
        or settings.flutterwave_secret_key.get_secret_value()
        or settings.mtn_subscription_key.get_secret_value()
    ):
        update |= SANDBOX_GATEWAYS
    return update


async def start_gateway_sandboxes(stack: AsyncExitStack, settings: Settings) -> Settings:
    """Serve the Paystack, Flutterwave and MoMo sandboxes in-process and point the gateways at them.

    Only when the sandbox credentials are in use. The sandbox payer pays by itself a few seconds
    after each payment starts; webhooks go to ``public_url`` (when nothing listens there, the
    poller finds the payment).
    """
    from sandbox.flutterwave import start_flutterwave_sandbox
    from sandbox.momo import start_momo_sandbox
    from sandbox.orange import start_orange_sandbox
    from sandbox.paystack import start_paystack_sandbox

    if settings.paystack_secret_key != SANDBOX_GATEWAYS["paystack_secret_key"]:
        return settings
    public = settings.public_url.rstrip("/")
    knobs: dict[str, Any] = {"auto_pay": DEMO_AUTO_PAY_SECONDS}
    paystack, paystack_url = await start_paystack_sandbox(webhook_url=f"{public}/webhook/paystack", **knobs)
    stack.push_async_callback(paystack.cleanup)
    flutterwave, flutterwave_url = await start_flutterwave_sandbox(
        webhook_url=f"{public}/webhook/flutterwave", **knobs
    )
    stack.push_async_callback(flutterwave.cleanup)
    momo, momo_url = await start_momo_sandbox(**knobs)
    stack.push_async_callback(momo.cleanup)
    orange, orange_url = await start_orange_sandbox(**knobs)
    stack.push_async_callback(orange.cleanup)
    log.info(
        "payment sandboxes: paystack %s, flutterwave %s, momo %s", paystack_url, flutterwave_url, momo_url
    )
    return settings.model_copy(
        update={
            "paystack_base_url": paystack_url,
            "flutterwave_base_url": flutterwave_url,
            "mtn_base_url": momo_url,
            "orange_base_url": orange_url,
        }
    )


#: Where a webhook route finds the transfer service and its database (None: money out is off).
PayoutWebhooks = Callable[[web.Request], "tuple[TransferService, Database] | None"]


def webhook_handler(
    funding: Callable[[web.Request], FundingService | None],
    gateway: str,
    *,
    spawn: Callable[[Awaitable[object]], None] | None = None,
    payouts: PayoutWebhooks | None = None,
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A handler that stores the webhook (committed) and then acts on it.

    The gateway posts payment and transfer events to the same URL: transfer events go to the
    transfer service, everything else to wallet funding. With ``spawn`` the acting happens in
    the background after a quick 200 (the pollers pick up any the process dies before acting
    on); without, before answering.
    """

    def run(work: Awaitable[object]) -> Awaitable[object] | None:
        if spawn is None:
            return work
        spawn(work)
        return None

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != QUERY_HEADER}
        headers[QUERY_HEADER] = request.query_string  # Orange: the notification URL carries our reference
        money_out = payouts(request) if payouts is not None else None
        if money_out is not None:
            transfers, db = money_out
            webhook = await transfers.receive_webhook(db, gateway, body, headers)
            if webhook is not None:
                if webhook.authentic is False:
                    return web.json_response({"status": "refused"}, status=401)
                if (pending := run(transfers.act_on(db, webhook))) is not None:
                    await pending
                return web.json_response({"status": "ok"})
        service = funding(request)
        if service is None or gateway not in service.gateways:
            return web.json_response({"error": "gateway not configured"}, status=404)
        received = await service.receive(gateway, body, headers)
        if received.authentic is False:
            return web.json_response({"status": "refused"}, status=401)
        if received.event_id is not None and (pending := run(service.process_event(received.event_id))):
            await pending
        return web.json_response({"status": "ok"})

    return handle


class Spawner:
    """Background webhook processing, kept referenced until done."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    def __call__(self, work: Awaitable[object]) -> None:
        task: asyncio.Task[object] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def add_webhook_routes(
    web_app: web.Application,
    funding: Callable[[web.Request], FundingService | None],
    *,
    spawn: Callable[[Awaitable[object]], None] | None = None,
    payouts: PayoutWebhooks | None = None,
) -> None:
    """Mount ``POST /webhook/paystack|flutterwave|mtn|orange`` (MoMo may also ``PUT``)."""
    for path, gateway in WEBHOOK_PATHS.items():
        handler = webhook_handler(funding, gateway, spawn=spawn, payouts=payouts)
        web_app.router.add_post(f"/webhook/{path}", handler)
        if path == "mtn":
            web_app.router.add_put(f"/webhook/{path}", handler)
