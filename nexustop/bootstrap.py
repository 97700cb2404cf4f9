"""Wiring: build the database, provider, fulfilment queue and engine from settings (demo or real)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from pydantic import SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError

from admin.live import LiveBus
from bots.pacing import LocalPacer, Pacer
from bots.telegram.api import TelegramConfig
from bots.telegram.channel import TelegramChannel
from bots.whatsapp.channel import WhatsAppChannel
from bots.whatsapp.graph import WhatsAppConfig
from conversations.engine import Engine
from domain import gifts
from domain.database import Database
from domain.funding import FundingService
from domain.ports import FulfilmentQueue
from domain.transfers import TransferService
from nexustop import funding as funding_wiring
from nexustop import identity as identity_wiring
from nexustop import payouts as payout_wiring
from nexustop import transfers as transfer_wiring
from nexustop.db import upgrade_async
from nexustop.periodic import run_every
from nexustop.providers import build_topup_provider
from nexustop.queues import InProcessQueue, build_queue
from nexustop.settings import Settings
from payments.vtpass import VTpassProvider
from sandbox.graph import start_graph_sandbox
from sandbox.telegram import start_telegram_sandbox
from sandbox.vtpass import start_vtpass_sandbox

log = logging.getLogger(__name__)

#: Requery backoff in the demo: short, so a pending order settles while you watch.
DEMO_REQUERY_DELAYS = (1.0, 2.0, 3.0, 5.0, 8.0)
#: Credentials shared by the demo app and its in-process Graph API sandbox.
SANDBOX_WHATSAPP = {
    "whatsapp_phone_id": "100000000000001",
    "whatsapp_token": SecretStr("sandbox-token"),
    "whatsapp_app_secret": SecretStr("sandbox-app-secret"),
    "whatsapp_verify_token": SecretStr("sandbox-verify-token"),
}
META_GRAPH_API = "https://graph.facebook.com"
#: Credentials shared by the demo app and its in-process Bot API sandbox.
SANDBOX_TELEGRAM = {
    "telegram_token": SecretStr("123456:sandbox-telegram-token"),
    "telegram_webhook_secret": SecretStr("sandbox-webhook-secret"),
    "telegram_bot_username": "NexusTopBot",
}
TELEGRAM_BOT_API = "https://api.telegram.org/bot"


def demo_settings(base: Settings) -> Settings:
    """Embedded defaults: SQLite (unless DATABASE_URL says otherwise), in-process tasks, sandbox."""
    update: dict[str, object] = {
        "demo": True,
        "celery_task_always_eager": True,
        "requery_delays_seconds": DEMO_REQUERY_DELAYS,
    }
    if not base.whatsapp_configured():
        update |= SANDBOX_WHATSAPP
    if not base.telegram_configured():
        update |= SANDBOX_TELEGRAM
    update |= funding_wiring.demo_funding_settings(base)
    update |= payout_wiring.demo_payout_settings(base.model_copy(update=update))
    update |= identity_wiring.demo_identity_settings(base)
    update |= transfer_wiring.demo_transfer_settings(base)
    return base.model_copy(update=update)


def whatsapp_config(settings: Settings) -> WhatsAppConfig | None:
    """The WhatsApp channel's configuration, or None when the channel is not configured."""
    if not settings.whatsapp_configured():
        return None
    return WhatsAppConfig(
        phone_id=settings.whatsapp_phone_id,
        token=settings.whatsapp_token.get_secret_value(),
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        verify_token=settings.whatsapp_verify_token.get_secret_value(),
        api_base=settings.whatsapp_api_base,
        api_version=settings.whatsapp_api_version,
        receipt_template=settings.whatsapp_receipt_template,
        template_languages=dict(settings.whatsapp_template_languages),
        poll_seconds=settings.whatsapp_poll_seconds,
    )


def telegram_config(settings: Settings) -> TelegramConfig | None:
    """The Telegram channel's configuration, or None when the channel is not configured."""
    if not settings.telegram_configured():
        return None
    return TelegramConfig(
        token=settings.telegram_token.get_secret_value(),
        webhook_secret=settings.telegram_webhook_secret.get_secret_value(),
        api_base=settings.telegram_api_base,
        bot_username=settings.telegram_bot_username,
        poll_seconds=settings.telegram_poll_seconds,
    )


def channel_gaps(settings: Settings) -> list[str]:
    """What is missing from a chat channel that is configured in part (one warning each)."""
    gaps = []
    whatsapp = {
        "WHATSAPP_PHONE_ID": settings.whatsapp_phone_id,
        "WHATSAPP_TOKEN": settings.whatsapp_token.get_secret_value(),
        "WHATSAPP_APP_SECRET": settings.whatsapp_app_secret.get_secret_value(),
    }
    telegram = {
        "TELEGRAM_TOKEN": settings.telegram_token.get_secret_value(),
        "TELEGRAM_WEBHOOK_SECRET": settings.telegram_webhook_secret.get_secret_value(),
    }
    for channel, needed in (("WhatsApp", whatsapp), ("Telegram", telegram)):
        missing = [name for name, value in needed.items() if not value]
        if missing and len(missing) < len(needed):
            gaps.append(f"{channel} is off: {', '.join(missing)} not set (the other settings are)")
    if settings.whatsapp_configured() and not settings.whatsapp_verify_token.get_secret_value():
        gaps.append("WhatsApp: WHATSAPP_VERIFY_TOKEN is not set, so Meta cannot verify the webhook")
    return gaps


async def build_pacer(stack: AsyncExitStack, settings: Settings) -> Pacer | LocalPacer:
    """Outbound pacing shared through Redis; in the demo, in-process when Redis is not running."""
    redis = Redis.from_url(settings.redis_url)
    stack.push_async_callback(redis.aclose)
    if settings.demo:
        try:
            await redis.ping()
        except (RedisError, OSError):
            log.warning("Redis is not reachable: Telegram pacing is kept in this process only")
            return LocalPacer()
    return Pacer(redis)


@dataclass
class App:
    """Everything a channel needs at run time."""

    settings: Settings
    db: Database
    provider: VTpassProvider
    queue: FulfilmentQueue
    engine: Engine
    whatsapp: WhatsAppChannel | None = None
    telegram: TelegramChannel | None = None
    live: LiveBus | None = None
    """Live support-inbox events (Redis pub/sub), fed by the engine and the inbox's actions."""
    funding: FundingService | None = None
    """Wallet top-ups through the configured payment gateways (their webhooks and poller)."""
    transfers: TransferService | None = None
    """Money out (P2P, claims, payouts, review); None while ``PIN_PEPPER`` is unset."""

    async def drain(self, timeout: float) -> None:
        """Let in-process fulfilment finish (no-op when Celery workers do it)."""
        if isinstance(self.queue, InProcessQueue):
            await self.queue.drain(timeout)


async def _start_sandbox(stack: AsyncExitStack, settings: Settings) -> Settings:
    """Run the VTpass sandbox on a loopback port in this process and point the provider at it."""
    runner, base_url = await start_vtpass_sandbox()
    stack.push_async_callback(runner.cleanup)
    settings = settings.model_copy(update={"vtpass_base_url": base_url})
    settings = await identity_wiring.start_identity_sandbox(stack, settings)
    if (
        settings.whatsapp_api_base == META_GRAPH_API
        and settings.whatsapp_token == SANDBOX_WHATSAPP["whatsapp_token"]
    ):
        graph = await start_graph_sandbox(
            token=settings.whatsapp_token.get_secret_value(),
            app_secret=settings.whatsapp_app_secret.get_secret_value(),
            phone_id=settings.whatsapp_phone_id,
            callback_url=settings.public_url.rstrip("/") + "/webhook/whatsapp",
        )
        stack.push_async_callback(graph.close)
        settings = settings.model_copy(update={"whatsapp_api_base": graph.base_url})
        log.info(
            "WhatsApp Graph API sandbox at %s: play a user with POST %s/sandbox/inbound "
            '{"from": "2348031234567", "text": "buy 500 airtime"}; see replies at GET %s/sandbox/messages',
            graph.base_url,
            graph.base_url,
            graph.base_url,
        )
    if (
        settings.telegram_api_base == TELEGRAM_BOT_API
        and settings.telegram_token == SANDBOX_TELEGRAM["telegram_token"]
    ):
        bot_api = await start_telegram_sandbox(
            token=settings.telegram_token.get_secret_value(),
            username=settings.telegram_bot_username,
            webhook_url=settings.public_url.rstrip("/") + "/webhook/telegram",
            webhook_secret=settings.telegram_webhook_secret.get_secret_value(),
        )
        stack.push_async_callback(bot_api.close)
        settings = settings.model_copy(update={"telegram_api_base": bot_api.api_base})
        log.info(
            "Telegram Bot API sandbox at %s: play a user with POST %s/sandbox/inbound "
            '{"from": 111, "text": "/start"}; see replies at GET %s/sandbox/messages',
            bot_api.base_url,
            bot_api.base_url,
            bot_api.base_url,
        )
    return settings


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[App]:
    """Build the app; in demo mode also migrate the database and start the in-process sandbox."""
    async with AsyncExitStack() as stack:
        if settings.demo:
            await upgrade_async(settings.database_url)
            settings = await _start_sandbox(stack, settings)
            settings = await funding_wiring.start_gateway_sandboxes(stack, settings)
        db = Database(settings.database_url)
        stack.push_async_callback(db.dispose)
        funding = await funding_wiring.open_funding(stack, settings, db)
        payouts = payout_wiring.open_payout_gateways(stack, settings, funding.gateways)
        transfers = transfer_wiring.build_transfer_service(settings, payouts)
        identity = identity_wiring.build_identity_verifier(settings)
        if identity is not None:
            stack.push_async_callback(identity.close)
        kyc_pepper = settings.kyc_pepper.get_secret_value()  # empty: identity checks are off
        provider = build_topup_provider(settings)
        stack.push_async_callback(provider.close)
        queue = build_queue(settings, db, provider)
        if isinstance(queue, InProcessQueue):
            stack.push_async_callback(queue.close)
            # Nothing else runs the reconciler in-process: pick up what the last run left in flight.
            await queue.resume_in_flight()
        live = LiveBus(settings.redis_url)
        stack.push_async_callback(live.close)
        engine = Engine(
            db,
            queue,
            quote_ttl_seconds=settings.quote_ttl_seconds,
            demo=settings.demo,
            live=live.publish,
            reply_minutes=settings.support_reply_minutes,
            funding=funding,
            gift_ttl_hours=settings.gift_ttl_hours,
            transfers=transfers,
            identity=identity if kyc_pepper else None,
            kyc_pepper=kyc_pepper,
        )
        if isinstance(queue, InProcessQueue):  # no Celery beat: poll for unannounced payments here
            funding_wiring.start_poller(stack, funding, settings.funding_poll_seconds)
            run_every(stack, "gift expiry", 60.0, lambda: gifts.expire_due(db))
            if transfers is not None:
                transfer_wiring.start_transfer_jobs(stack, transfers, db, settings.payout_poll_seconds)
        whatsapp = None
        if (config := whatsapp_config(settings)) is not None:
            whatsapp = WhatsAppChannel(config, db, engine)
            stack.push_async_callback(whatsapp.close)
        telegram = None
        if (tg_config := telegram_config(settings)) is not None:
            telegram = TelegramChannel(tg_config, db, engine, await build_pacer(stack, settings))
            stack.push_async_callback(telegram.close)
            await telegram.learn_username()
        yield App(
            settings,
            db,
            provider,
            queue,
            engine,
            whatsapp,
            telegram,
            live=live,
            funding=funding,
            transfers=transfers,
        )


def sandbox_app() -> web.Application:
    """An aiohttp app that serves every sandbox under one port (``nexustop sandbox``)."""
    from sandbox.flutterwave import create_flutterwave_sandbox
    from sandbox.graph import create_graph_sandbox
    from sandbox.identity import create_identity_sandbox
    from sandbox.momo import create_momo_sandbox
    from sandbox.orange import create_orange_sandbox
    from sandbox.paystack import create_paystack_sandbox
    from sandbox.telegram import create_telegram_sandbox
    from sandbox.vtpass import create_vtpass_sandbox

    app = web.Application()
    app.add_subapp("/vtpass/", create_vtpass_sandbox())
    app.add_subapp("/graph/", create_graph_sandbox())
    app.add_subapp("/telegram/", create_telegram_sandbox())
    app.add_subapp("/paystack/", create_paystack_sandbox())
    app.add_subapp("/flutterwave/", create_flutterwave_sandbox())
    app.add_subapp("/momo/", create_momo_sandbox())
    app.add_subapp("/orange/", create_orange_sandbox())
    app.add_subapp("/identity/", create_identity_sandbox())
    return app
