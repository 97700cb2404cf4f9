"""A Telegram Bot API look-alike (aiohttp) for tests and demos.

``/bot<token>/<method>`` (GET or POST; JSON, form or multipart bodies, as ptb sends them) answers
like Telegram (``{"ok": true, "result": …}``) for ``getMe``, ``sendMessage``, ``editMessageText``,
``answerCallbackQuery``, ``deleteMessage``, ``setWebhook``, ``deleteWebhook``, ``getWebhookInfo`` and
``setMyCommands``, and refuses like Telegram (``{"ok": false, "error_code", "description"}``):

- 401 for a wrong token, 404 for an unknown method;
- 400 for an empty or over-4096-character text, ``callback_data`` over 64 bytes
  (``BUTTON_DATA_INVALID``), editing a message that does not exist or without a change, deleting
  a message twice (a user's message it never saw may be deleted once: it cannot tell them apart);
- 429 with ``parameters.retry_after`` when flooded: a second message to a chat within
  ``chat_interval`` seconds, over 20 a minute to a group, over 30 a second overall, or once per
  value queued with the ``flood_next`` knob.

``POST /sandbox/inbound`` plays a user (``{"from": 111, "text": "/start"}`` or ``{"from": 111,
"press": "<callback_data>", "message_id": 5}``; ``"chat"`` for a group id): it posts a real-shaped
update with the registered secret to the webhook set by ``setWebhook``. ``GET /sandbox/messages``
lists what was sent; ``POST /sandbox/control`` sets knobs (``flood_next``, ``chat_interval``).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from sandbox.serving import serve

log = logging.getLogger(__name__)

TEXT_MAX = 4096
CALLBACK_DATA_MAX = 64
GROUP_PER_MINUTE = 20
GLOBAL_PER_SECOND = 30


class BotApiError(Exception):
    """A refusal, rendered as Telegram renders them."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """Telegram's error body."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.code)


@dataclass(slots=True)
class Call:
    """One Bot API call the sandbox answered (or refused)."""

    method: str
    params: dict[str, Any]
    status: int
    at: float


@dataclass(slots=True)
class BotState:
    """Credentials, knobs and memory of the sandbox."""

    token: str
    username: str = "NexusTopBot"
    bot_id: int = 7_000_000_001
    webhook_url: str | None = None
    webhook_secret: str | None = None
    commands: list[dict[str, Any]] = field(default_factory=list)
    """The command menu for every language without one of its own."""
    localized_commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Command menus by ``language_code``."""
    deleted: set[tuple[str, int]] = field(default_factory=set)
    chat_interval: float = 0.9
    """A second message to one chat sooner than this is flooding (Telegram: about one a second)."""
    flood_next: list[int] = field(default_factory=list)
    """retry_after values to answer the next sends with, once each."""
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    webhooks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    _last_to_chat: dict[str, float] = field(default_factory=dict)
    _group_sends: dict[str, deque[float]] = field(default_factory=dict)
    _all_sends: deque[float] = field(default_factory=deque)
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500_000_001))

    def sent(self, chat_id: int | str | None = None) -> list[Call]:
        """Accepted ``sendMessage`` calls (to ``chat_id`` when given), oldest first."""
        return [
            c
            for c in self.calls
            if c.method == "sendMessage"
            and c.status == 200
            and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
        ]

    def calls_of(self, method: str) -> list[Call]:
        """Every call of ``method``, answered or refused."""
        return [c for c in self.calls if c.method == method]

    def check_flood(self, chat_id: str) -> None:
        """Raise 429 when one more message to ``chat_id`` now would exceed Telegram's limits."""
        now = time.monotonic()
        if self.flood_next:
            raise BotApiError(429, "Too Many Requests: retry after", self.flood_next.pop(0))
        last = self._last_to_chat.get(chat_id)
        if last is not None and now - last < self.chat_interval:
            raise BotApiError(429, "Too Many Requests: retry after 1", 1)
        while self._all_sends and now - self._all_sends[0] >= 1.0:
            self._all_sends.popleft()
        if len(self._all_sends) >= GLOBAL_PER_SECOND:
            raise BotApiError(429, "Too Many Requests: retry after 1", 1)
        if chat_id.startswith("-"):
            sends = self._group_sends.setdefault(chat_id, deque())
            while sends and now - sends[0] >= 60.0:
                sends.popleft()
            if len(sends) >= GROUP_PER_MINUTE:
                raise BotApiError(429, "Too Many Requests: retry after", int(60 - (now - sends[0])) + 1)
            sends.append(now)
        self._last_to_chat[chat_id] = now
        self._all_sends.append(now)


STATE = web.AppKey("telegram_sandbox_state", BotState)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: _decode(v) for k, v in params.items()}


def _check_markup(markup: Any) -> None:
    if not markup:
        return
    for row in (markup or {}).get("inline_keyboard") or []:
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_MAX:
                raise BotApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not str(button.get("text", "")).strip():
                raise BotApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")


def _check_text(value: Any) -> str:
    text = str(value or "")
    if not text.strip():
        raise BotApiError(400, "Bad Request: message text is empty")
    if len(text) > TEXT_MAX:
        raise BotApiError(400, "Bad Request: message is too long")
    return text


def _bot_user(state: BotState) -> dict[str, Any]:
    return {"id": state.bot_id, "is_bot": True, "first_name": "NexusTop", "username": state.username}


def _chat(chat_id: str) -> dict[str, Any]:
    if chat_id.startswith("-"):
        return {"id": int(chat_id), "title": "Sandbox group", "type": "supergroup"}
    return {"id": int(chat_id), "first_name": "Sandbox", "type": "private"}


def _method(state: BotState, method: str, params: dict[str, Any]) -> Any:
    if method == "getMe":
        return {**_bot_user(state), "can_join_groups": True, "can_read_all_group_messages": False}
    if method == "sendMessage":
        chat_id = str(params.get("chat_id", ""))
        text = _check_text(params.get("text"))
        _check_markup(params.get("reply_markup"))
        state.check_flood(chat_id)
        message_id = next(state._message_ids)
        message = {
            "message_id": message_id,
            "from": _bot_user(state),
            "chat": _chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if (params.get("reply_markup") or {}).get("inline_keyboard"):
            message["reply_markup"] = params["reply_markup"]  # reply keyboards are not part of a Message
        state.messages[(chat_id, message_id)] = message
        return message
    if method == "editMessageText":
        chat_id = str(params.get("chat_id", ""))
        key = (chat_id, int(params.get("message_id") or 0))
        text = _check_text(params.get("text"))
        _check_markup(params.get("reply_markup"))
        shown = state.messages.get(key)
        if shown is None:
            raise BotApiError(400, "Bad Request: message to edit not found")
        message = shown
        if message["text"] == text and message.get("reply_markup") == params.get("reply_markup"):
            raise BotApiError(400, "Bad Request: message is not modified")
        state.check_flood(chat_id)
        message.update(text=text, edit_date=int(time.time()))
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return message
    if method == "answerCallbackQuery":
        if not params.get("callback_query_id"):
            raise BotApiError(400, "Bad Request: query is too old and response timeout expired")
        return True
    if method == "deleteMessage":
        key = (str(params.get("chat_id", "")), int(params.get("message_id") or 0))
        if key in state.deleted or not key[1]:
            raise BotApiError(400, "Bad Request: message to delete not found")
        state.messages.pop(key, None)
        state.deleted.add(key)
        return True
    if method == "setWebhook":
        state.webhook_url = str(params.get("url") or "") or None
        state.webhook_secret = str(params.get("secret_token") or "") or None
        return True
    if method == "deleteWebhook":
        state.webhook_url = None
        return True
    if method == "getWebhookInfo":
        return {"url": state.webhook_url or "", "has_custom_certificate": False, "pending_update_count": 0}
    if method == "setMyCommands":
        commands = list(params.get("commands") or [])
        if params.get("language_code"):
            state.localized_commands[str(params["language_code"])] = commands
        else:
            state.commands = commands
        return True
    raise BotApiError(404, "Not Found")


async def bot_api(request: web.Request) -> web.Response:
    """``/bot<token>/<method>``: answer or refuse like the Bot API, recording the call."""
    state = request.app[STATE]
    method = request.match_info["method"]
    params: dict[str, Any] = {}
    try:
        if request.match_info["token"] != state.token:
            raise BotApiError(401, "Unauthorized")
        params = await _params(request)
        result = _method(state, method, params)
    except BotApiError as error:
        state.calls.append(Call(method, params, error.code, time.time()))
        return error.response()
    state.calls.append(Call(method, params, 200, time.time()))
    return web.json_response({"ok": True, "result": result})


def user(user_id: int, first_name: str = "Ada", language_code: str = "en") -> dict[str, Any]:
    """A Telegram ``User`` object for a person."""
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}


def message_update(
    update_id: int, sender: dict[str, Any], chat: dict[str, Any], text: str, message_id: int
) -> dict[str, Any]:
    """An Update carrying a text message, with a ``bot_command`` entity when it starts with a command."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def press_update(
    update_id: int, sender: dict[str, Any], shown: dict[str, Any], data: str, query_id: str
) -> dict[str, Any]:
    """An Update carrying a press of an inline button on the bot's message ``shown``."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id,
            "from": sender,
            "message": shown,
            "chat_instance": str(abs(hash(shown["chat"]["id"])) % 10**18),
            "data": data,
        },
    }


async def post_update(state: BotState, update: dict[str, Any]) -> int:
    """Post an update to the registered webhook with its secret; the HTTP status (0 when unreachable)."""
    if not state.webhook_url:
        return 0
    headers = {"Content-Type": "application/json"}
    if state.webhook_secret:
        headers["X-Telegram-Bot-Api-Secret-Token"] = state.webhook_secret
    try:
        async with (
            ClientSession(timeout=ClientTimeout(total=10)) as session,
            session.post(state.webhook_url, data=json.dumps(update).encode(), headers=headers) as response,
        ):
            status = response.status
    except (OSError, TimeoutError) as error:
        log.warning("telegram sandbox: webhook unreachable: %s", type(error).__name__)
        status = 0
    state.webhooks.append((status, update))
    return status


async def inbound(request: web.Request) -> web.Response:
    """``POST /sandbox/inbound``: play a user writing to the bot or pressing one of its buttons."""
    state = request.app[STATE]
    raw = await request.json()
    try:
        sender = user(int(raw["from"]), str(raw.get("name", "Ada")), str(raw.get("language", "en")))
    except (KeyError, TypeError, ValueError):
        return web.json_response({"error": "from: the user's numeric id"}, status=400)
    chat_id = str(raw.get("chat", sender["id"]))
    chat = {
        **_chat(chat_id),
        **({"first_name": sender["first_name"]} if chat_id == str(sender["id"]) else {}),
    }
    update_id = next(state._update_ids)
    if "press" in raw:
        shown = state.messages.get((chat_id, int(raw.get("message_id") or 0)))
        if shown is None:
            return web.json_response({"error": "message_id: a message the bot sent to that chat"}, status=400)
        update = press_update(update_id, sender, shown, str(raw["press"]), f"q{update_id}")
    else:
        update = message_update(update_id, sender, chat, str(raw.get("text", "")), next(state._message_ids))
    status = await post_update(state, update)
    return web.json_response({"delivered": status, "update": update})


async def listing(request: web.Request) -> web.Response:
    """``GET /sandbox/messages``: the messages the bot sent (``?chat_id=`` filters)."""
    state = request.app[STATE]
    chat = request.query.get("chat_id")
    items = [m for (c, _), m in state.messages.items() if chat is None or c == chat]
    return web.json_response({"messages": items})


async def control(request: web.Request) -> web.Response:
    """``POST /sandbox/control``: set knobs (``flood_next``, ``chat_interval``)."""
    state = request.app[STATE]
    raw = await request.json()
    try:
        if "flood_next" in raw:
            state.flood_next = [int(v) for v in raw["flood_next"]]
        if "chat_interval" in raw:
            state.chat_interval = float(raw["chat_interval"])
    except (TypeError, ValueError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response({"ok": True})


def create_telegram_sandbox(
    *,
    token: str = "123456:sandbox-telegram-token",
    username: str = "NexusTopBot",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> web.Application:
    """Build the sandbox app."""
    state = BotState(token=token, username=username, webhook_url=webhook_url, webhook_secret=webhook_secret)
    app = web.Application()
    app[STATE] = state
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_post("/sandbox/inbound", inbound)
    app.router.add_get("/sandbox/messages", listing)
    app.router.add_post("/sandbox/control", control)
    return app


@dataclass(slots=True)
class TelegramSandbox:
    """A running sandbox: its runner, API base (``TELEGRAM_API_BASE``) and state."""

    runner: web.AppRunner
    base_url: str
    state: BotState

    @property
    def api_base(self) -> str:
        """What ``TELEGRAM_API_BASE`` must be set to (the token follows it)."""
        return f"{self.base_url}/bot"

    async def close(self) -> None:
        """Stop serving."""
        await self.runner.cleanup()


async def start_telegram_sandbox(host: str = "127.0.0.1", port: int = 0, **options: Any) -> TelegramSandbox:
    """Serve a sandbox on ``host:port`` (0 = any free port)."""
    app = create_telegram_sandbox(**options)
    runner, base_url = await serve(app, host, port)
    return TelegramSandbox(runner, base_url, app[STATE])
