"""aiohttp route for Telegram's webhook: check the secret header, store the update once, ack."""

from __future__ import annotations

import json

from aiohttp import web

from bots.telegram.channel import TelegramChannel

TELEGRAM_KEY = web.AppKey("telegram_channel", TelegramChannel)
PATH = "/webhook/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def receive(request: web.Request) -> web.Response:
    """403 without our secret; otherwise store the update (once) before answering 200."""
    channel = request.app[TELEGRAM_KEY]
    if not channel.secret_ok(request.headers.get(SECRET_HEADER)):
        return web.Response(text="Forbidden", status=403)
    try:
        update = json.loads(await request.read())
        if not isinstance(update, dict):
            raise ValueError("an update is a JSON object")
        chat_key = await channel.store(update)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, KeyError):
        return web.Response(text="Bad Request", status=400)
    if chat_key is not None:
        channel.process_later(chat_key)
    return web.Response(text="ok")


def add_routes(app: web.Application, path: str = PATH) -> None:
    """Mount the webhook on ``app`` at ``path``; the channel is ``app[TELEGRAM_KEY]``, set at startup."""
    app.router.add_post(path, receive)
