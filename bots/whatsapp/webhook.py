"""aiohttp routes for Meta's webhook: GET answers the verify challenge, POST verifies, stores, acks."""

from __future__ import annotations

import json
import logging

from aiohttp import web
from pywa_async.utils import HUB_CH, HUB_SIG, HUB_VT

from bots.whatsapp.channel import WhatsAppChannel

log = logging.getLogger(__name__)

WHATSAPP_KEY = web.AppKey("whatsapp_channel", WhatsAppChannel)
PATH = "/webhook/whatsapp"


async def verify(request: web.Request) -> web.Response:
    """Meta's subscription check (``hub.verify_token`` / ``hub.challenge``)."""
    channel = request.app[WHATSAPP_KEY]
    body, status = await channel.challenge(request.query.get(HUB_VT), request.query.get(HUB_CH))
    return web.Response(text=body, status=status)


async def receive(request: web.Request) -> web.Response:
    """Check the signature, store every message and status once, ack; processing runs afterwards."""
    channel = request.app[WHATSAPP_KEY]
    raw = await request.read()
    refused = await channel.verify_signature(raw, request.headers.get(HUB_SIG))
    if refused is not None:
        return web.Response(text=refused[0], status=refused[1])
    try:
        new_ids = await channel.store(raw)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return web.Response(text="Bad Request", status=400)
    channel.process_later(new_ids)
    return web.Response(text="ok")


def add_routes(app: web.Application, path: str = PATH) -> None:
    """Mount the webhook on ``app`` at ``path``; the channel is ``app[WHATSAPP_KEY]``, set at startup."""
    app.router.add_get(path, verify)
    app.router.add_post(path, receive)
