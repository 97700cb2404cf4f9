"""The aiohttp web app that channels, webhooks and the staff inbox mount onto."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import text

from admin import web as inbox_web
from admin.channels import AgentChannel
from admin.web import INBOX_KEY, Inbox
from bots.telegram import webhook as telegram_webhook
from bots.telegram.webhook import TELEGRAM_KEY
from bots.whatsapp.webhook import WHATSAPP_KEY, add_routes
from domain.database import Database
from domain.transfers import TransferService
from nexustop.bootstrap import App, channel_gaps, running_app, telegram_config, whatsapp_config
from nexustop.funding import Spawner, add_webhook_routes
from nexustop.settings import Settings
from nexustop.support import TelegramAgent, WhatsAppAgent
from nexustop.webhook_guard import BODY_LIMITS, Strikes, guard

APP_KEY = web.AppKey("nexustop", App)
log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    """200 when the database answers, 503 otherwise."""
    app = request.app[APP_KEY]
    try:
        async with app.db.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to reach the database means unhealthy
        return web.json_response({"status": "unavailable", "error": type(error).__name__}, status=503)
    return web.json_response({"status": "ok"})


def money_out(request: web.Request) -> tuple[TransferService, Database] | None:
    """The transfer service and its database, for payout webhooks (None while money out is off)."""
    app = request.app[APP_KEY]
    return None if app.transfers is None else (app.transfers, app.db)


def support_inbox(app: App) -> Inbox:
    """The staff inbox, able to reply on every configured chat channel."""
    channels: dict[str, AgentChannel] = {}
    if app.whatsapp is not None:
        channels["whatsapp"] = WhatsAppAgent(app.whatsapp)
    if app.telegram is not None:
        channels["telegram"] = TelegramAgent(app.telegram)
    assert app.live is not None
    inbox = Inbox(app.db, app.live, app.queue, channels, sla_minutes=app.settings.support_reply_minutes)
    if app.transfers is not None:
        inbox.transfers = app.transfers
    return inbox


def webhook_strikes(settings: Settings) -> Strikes:
    """The ``/webhook/*`` strike counters, in Redis."""
    return Strikes(Redis.from_url(settings.redis_url), settings.webhook_strikes_per_minute)


def create_app(settings: Settings) -> web.Application:
    """The web application; its cleanup context owns the database, provider and queue."""
    strikes = webhook_strikes(settings)
    proxies = [address.strip() for address in settings.trusted_proxies.split(",") if address.strip()]
    web_app = web.Application(
        middlewares=[guard(strikes, proxies)], client_max_size=max(BODY_LIMITS.values())
    )

    async def lifecycle(web_app: web.Application) -> AsyncIterator[None]:
        for gap in channel_gaps(settings):
            log.warning("%s", gap)
        async with running_app(settings) as app:
            web_app[APP_KEY] = app
            web_app[INBOX_KEY] = support_inbox(app)
            background = []
            if app.whatsapp is not None:
                web_app[WHATSAPP_KEY] = app.whatsapp
                background.append(asyncio.create_task(app.whatsapp.run(), name="whatsapp-background"))
            if app.telegram is not None:
                web_app[TELEGRAM_KEY] = app.telegram
                background.append(asyncio.create_task(app.telegram.run(), name="telegram-background"))
            try:
                yield
            finally:
                if strikes.redis is not None:
                    await strikes.redis.aclose()
                for task in background:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    web_app.cleanup_ctx.append(lifecycle)
    web_app.router.add_get("/healthz", healthz)
    add_webhook_routes(
        web_app,
        lambda request: request.app[APP_KEY].funding,
        spawn=Spawner(),
        payouts=money_out,
    )
    inbox_web.add_routes(web_app)
    if whatsapp_config(settings) is not None:
        add_routes(web_app)
    if telegram_config(settings) is not None:
        telegram_webhook.add_routes(web_app)
    return web_app
