"""A WhatsApp Cloud (Graph) API look-alike (aiohttp) for tests and demos.

``POST /{version}/{phone_id}/messages`` takes what Meta takes: a message (``text``, ``interactive``
reply buttons or list, ``template``) or a read receipt / typing indicator (``status: read``). It
answers like Meta (``{"messaging_product", "contacts", "messages": [{"id": "wamid…"}]}``) and
refuses like Meta, with Meta's error envelope (HTTP 400, ``{"error": {"code", "message", …}}``):

- code 100 for what Meta's validation refuses: more than 3 buttons, a button title over 20 or two
  equal titles, a list over 10 rows, a row title over 24 or description over 72, an interactive
  body over 1024 or a text over 4096 characters, empty texts;
- code 131047 for a free-form (non-template) message to a user who has not written in 24 hours
  (the sandbox learns when users write from ``POST /sandbox/inbound`` or ``note_inbound``);
- code 190 for a wrong bearer token;
- any code queued with the ``fail_next`` knob (e.g. ``[130429, 131056]``), once each.

Status webhooks: with ``callback_url`` and ``app_secret`` set, every accepted message is followed by
signed ``statuses`` webhooks (``status_order``, default sent, delivered, read) to the callback.
``POST /sandbox/inbound`` (``{"from": "2348031234567", "text": …}`` or ``"button"``/``"list"`` with
an id) plays a user: it opens the window and posts a signed, Meta-shaped message webhook.

``GET /sandbox/messages`` lists what was sent; ``POST /sandbox/control`` sets knobs
(``fail_next``, ``enforce_window``, ``status_order``, ``callback_url``, ``window_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from sandbox.serving import refuse_unknown_knobs, serve

log = logging.getLogger(__name__)

TEXT_MAX = 4096
BODY_MAX = 1024
BUTTONS_MAX = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
ROWS_MAX = 10
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 24

_ERROR_TITLES = {
    100: "Invalid parameter",
    131047: "Re-engagement message",
    130429: "Rate limit hit",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    190: "Invalid OAuth access token",
}


class GraphError(Exception):
    """A refusal, rendered with Meta's error envelope."""

    def __init__(self, code: int, details: str, status: int = 400) -> None:
        super().__init__(details)
        self.code = code
        self.details = details
        self.status = status

    def response(self) -> web.Response:
        """Meta's error envelope."""
        title = _ERROR_TITLES.get(self.code, "Error")
        error = {
            "message": f"(#{self.code}) {title}",
            "type": "OAuthException",
            "code": self.code,
            "error_data": {"messaging_product": "whatsapp", "details": self.details},
            "fbtrace_id": secrets.token_urlsafe(12),
        }
        return web.json_response({"error": error}, status=self.status)


@dataclass(slots=True)
class SentMessage:
    """One message the sandbox accepted."""

    wamid: str
    to: str
    type: str
    body: dict[str, Any]
    at: float


@dataclass(slots=True)
class GraphState:
    """Credentials, knobs and memory of the sandbox."""

    token: str
    app_secret: str
    phone_id: str
    callback_url: str | None = None
    enforce_window: bool = True
    window_seconds: float = 24 * 3600.0
    status_order: list[str] = field(default_factory=lambda: ["sent", "delivered", "read"])
    fail_next: list[int] = field(default_factory=list)
    sent: list[SentMessage] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    last_inbound: dict[str, float] = field(default_factory=dict)
    webhooks: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """(HTTP status, body) of every webhook the sandbox posted."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def note_inbound(self, user: str, at: float | None = None) -> None:
        """Record that ``user`` wrote to us at ``at`` (now by default): their 24-hour window opens."""
        self.last_inbound[user] = time.time() if at is None else at

    def window_open(self, user: str) -> bool:
        """True while ``user`` wrote to us less than ``window_seconds`` ago."""
        last = self.last_inbound.get(user)
        return last is not None and time.time() - last < self.window_seconds

    def next_wamid(self) -> str:
        """A fresh Meta-looking message id."""
        return f"wamid.SBX{next(self._ids):08d}{secrets.token_hex(6).upper()}"

    def sent_to(self, user: str) -> list[SentMessage]:
        """Messages accepted for ``user``, oldest first."""
        return [m for m in self.sent if m.to == user]

    def sign(self, body: bytes) -> str:
        """``X-Hub-Signature-256`` for ``body``."""
        return "sha256=" + hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()

    def set_knobs(self, raw: dict[str, Any]) -> None:
        """Apply knob values from JSON; raise ``ValueError`` if invalid."""
        refuse_unknown_knobs(
            raw, ("fail_next", "enforce_window", "status_order", "callback_url", "window_seconds")
        )
        if "fail_next" in raw:
            self.fail_next = [int(code) for code in raw["fail_next"]]
        if "enforce_window" in raw:
            self.enforce_window = bool(raw["enforce_window"])
        if "status_order" in raw:
            self.status_order = [str(s) for s in raw["status_order"]]
        if "callback_url" in raw:
            self.callback_url = raw["callback_url"] or None
        if "window_seconds" in raw:
            self.window_seconds = float(raw["window_seconds"])


STATE: web.AppKey[GraphState] = web.AppKey("graph_sandbox_state", GraphState)


def _need(condition: bool, details: str) -> None:
    if not condition:
        raise GraphError(100, details)


def _unique(values: list[str]) -> bool:
    return len(values) == len(set(values))


def validate(message: dict[str, Any]) -> None:
    """Raise ``GraphError(100)`` for what Meta's validation refuses in a message object."""
    kind = message.get("type")
    _need(message.get("messaging_product") == "whatsapp", "messaging_product must be whatsapp")
    _need(bool(message.get("to") or message.get("recipient")), "to or recipient is required")
    if kind == "text":
        body = (message.get("text") or {}).get("body", "")
        _need(isinstance(body, str) and 0 < len(body) <= TEXT_MAX, "text.body must be 1-4096 characters")
    elif kind == "interactive":
        _validate_interactive(message.get("interactive") or {})
    elif kind == "template":
        template = message.get("template") or {}
        _need(bool(template.get("name")), "template.name is required")
        _need(bool((template.get("language") or {}).get("code")), "template.language.code is required")
        for component in template.get("components") or []:
            for parameter in component.get("parameters") or []:
                text = str(parameter.get("text", ""))
                _need(
                    "\n" not in text and "\t" not in text, "template parameters cannot hold newlines or tabs"
                )
                _need("    " not in text, "template parameters cannot hold 4 consecutive spaces")
    else:
        raise GraphError(100, f"unsupported message type {kind!r}")


def _validate_interactive(interactive: dict[str, Any]) -> None:
    body = (interactive.get("body") or {}).get("text", "")
    _need(isinstance(body, str) and 0 < len(body) <= BODY_MAX, "interactive body must be 1-1024 characters")
    action = interactive.get("action") or {}
    if interactive.get("type") == "button":
        buttons = action.get("buttons") or []
        _need(0 < len(buttons) <= BUTTONS_MAX, "between 1 and 3 buttons")
        titles = [str((b.get("reply") or {}).get("title", "")) for b in buttons]
        ids = [str((b.get("reply") or {}).get("id", "")) for b in buttons]
        _need(all(0 < len(t) <= BUTTON_TITLE_MAX for t in titles), "button title must be 1-20 characters")
        _need(all(0 < len(i) <= BUTTON_ID_MAX for i in ids), "button id must be 1-256 characters")
        _need(_unique(titles) and _unique(ids), "button titles and ids must be unique")
    elif interactive.get("type") == "list":
        label = str(action.get("button", ""))
        _need(0 < len(label) <= LIST_BUTTON_MAX, "list button must be 1-20 characters")
        sections = action.get("sections") or []
        rows = [row for section in sections for row in section.get("rows") or []]
        _need(0 < len(rows) <= ROWS_MAX, "a list has 1 to 10 rows in total")
        if len(sections) > 1:
            _need(all(section.get("title") for section in sections), "sections need titles")
        _need(
            all(len(str(s.get("title") or "")) <= SECTION_TITLE_MAX for s in sections), "section title ≤ 24"
        )
        _need(all(0 < len(str(r.get("title", ""))) <= ROW_TITLE_MAX for r in rows), "row title 1-24 chars")
        _need(all(0 < len(str(r.get("id", ""))) <= ROW_ID_MAX for r in rows), "row id 1-200 characters")
        _need(
            all(len(str(r.get("description") or "")) <= ROW_DESCRIPTION_MAX for r in rows), "description ≤ 72"
        )
        _need(_unique([str(r.get("id")) for r in rows]), "row ids must be unique")
    else:
        raise GraphError(100, f"unsupported interactive type {interactive.get('type')!r}")


async def messages(request: web.Request) -> web.Response:
    """``POST /{version}/{phone_id}/messages``: send, or mark read / show typing."""
    state = request.app[STATE]
    try:
        if request.headers.get("Authorization") != f"Bearer {state.token}":
            raise GraphError(190, "Error validating access token", status=401)
        if request.match_info["phone_id"] != state.phone_id:
            raise GraphError(100, "Unsupported post request: unknown phone number id")
        try:
            message = await request.json()
        except json.JSONDecodeError:
            raise GraphError(100, "body must be JSON") from None
        if message.get("status") == "read":
            _need(bool(message.get("message_id")), "message_id is required")
            state.reads.append(str(message["message_id"]))
            return web.json_response({"success": True})
        validate(message)
        to = str(message.get("to") or message.get("recipient"))
        if state.fail_next:
            raise GraphError(state.fail_next.pop(0), "forced by the sandbox's fail_next knob")
        if message["type"] != "template" and state.enforce_window and not state.window_open(to):
            raise GraphError(OUTSIDE_WINDOW, "Message failed to send because more than 24 hours have passed")
    except GraphError as error:
        return error.response()
    wamid = state.next_wamid()
    state.sent.append(SentMessage(wamid, to, message["type"], message, time.time()))
    _emit_statuses(state, wamid, to)
    return web.json_response(
        {
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": wamid}],
        }
    )


OUTSIDE_WINDOW = 131047


def status_envelope(state: GraphState, wamid: str, to: str, status: str) -> dict[str, Any]:
    """A Meta-shaped ``statuses`` webhook body."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": to,
    }
    if status != "failed":
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    return _envelope(state, {"statuses": [item]})


def message_envelope(
    state: GraphState, sender: str, message: dict[str, Any], name: str = ""
) -> dict[str, Any]:
    """A Meta-shaped ``messages`` webhook body from ``sender`` (digits of their number)."""
    full = {"from": sender, "id": state.next_wamid(), "timestamp": str(int(time.time())), **message}
    contact = {"profile": {"name": name or "Sandbox User"}, "wa_id": sender}
    return _envelope(state, {"contacts": [contact], "messages": [full]})


def _envelope(state: GraphState, value: dict[str, Any]) -> dict[str, Any]:
    metadata = {"display_phone_number": "15550000000", "phone_number_id": state.phone_id}
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "100000000000000",
                "changes": [
                    {
                        "field": "messages",
                        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
                    }
                ],
            }
        ],
    }


async def post_webhook(state: GraphState, envelope: dict[str, Any]) -> int:
    """Post a signed webhook to the callback URL; return the HTTP status (0 when unreachable)."""
    if not state.callback_url:
        return 0
    body = json.dumps(envelope).encode()
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": state.sign(body)}
    try:
        async with (
            ClientSession(timeout=ClientTimeout(total=10)) as session,
            session.post(state.callback_url, data=body, headers=headers) as response,
        ):
            status = response.status
    except (OSError, TimeoutError) as error:
        log.warning("graph sandbox: callback unreachable: %s", type(error).__name__)
        status = 0
    state.webhooks.append((status, envelope))
    return status


def _emit_statuses(state: GraphState, wamid: str, to: str) -> None:
    if not state.callback_url or not state.status_order:
        return

    async def emit() -> None:
        for status in state.status_order:
            await asyncio.sleep(0.01)
            await post_webhook(state, status_envelope(state, wamid, to, status))

    task = asyncio.create_task(emit())
    state._tasks.add(task)
    task.add_done_callback(state._tasks.discard)


async def inbound(request: web.Request) -> web.Response:
    """``POST /sandbox/inbound``: play a user writing to the business (text, button or list reply)."""
    state = request.app[STATE]
    raw = await request.json()
    sender = "".join(ch for ch in str(raw.get("from", "")) if ch.isdigit())
    if not sender:
        return web.json_response({"error": "from: the user's number, digits"}, status=400)
    if "button" in raw:
        reply = {"id": str(raw["button"]), "title": str(raw.get("title", raw["button"]))[:20]}
        message: dict[str, Any] = {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": reply},
        }
    elif "list" in raw:
        reply = {"id": str(raw["list"]), "title": str(raw.get("title", raw["list"]))[:24]}
        message = {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}
    else:
        message = {"type": "text", "text": {"body": str(raw.get("text", ""))}}
    state.note_inbound(sender)
    envelope = message_envelope(state, sender, message, str(raw.get("name", "")))
    status = await post_webhook(state, envelope)
    return web.json_response({"delivered": status, "envelope": envelope})


async def listing(request: web.Request) -> web.Response:
    """``GET /sandbox/messages``: what was sent (``?to=`` filters by recipient)."""
    state = request.app[STATE]
    to = request.query.get("to")
    items = [
        {"id": m.wamid, "to": m.to, "type": m.type, "message": m.body}
        for m in state.sent
        if to is None or m.to == to
    ]
    return web.json_response({"messages": items})


async def control(request: web.Request) -> web.Response:
    """``POST /sandbox/control``: set knobs."""
    state = request.app[STATE]
    try:
        state.set_knobs(await request.json())
    except (ValueError, TypeError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response({"ok": True})


async def _on_shutdown(app: web.Application) -> None:
    tasks = set(app[STATE]._tasks)
    for task in tasks:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.gather(*tasks, return_exceptions=True)


def create_graph_sandbox(
    *,
    token: str = "sandbox-token",
    app_secret: str = "sandbox-app-secret",
    phone_id: str = "100000000000001",
    callback_url: str | None = None,
    enforce_window: bool = True,
    status_order: list[str] | None = None,
) -> web.Application:
    """Build the sandbox app."""
    state = GraphState(token=token, app_secret=app_secret, phone_id=phone_id, callback_url=callback_url)
    state.enforce_window = enforce_window
    if status_order is not None:
        state.status_order = list(status_order)
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/{version}/{phone_id}/messages", messages)
    app.router.add_post("/sandbox/inbound", inbound)
    app.router.add_get("/sandbox/messages", listing)
    app.router.add_post("/sandbox/control", control)
    app.on_shutdown.append(_on_shutdown)
    return app


@dataclass(slots=True)
class GraphSandbox:
    """A running sandbox: its runner, base URL and state (for tests to inspect and steer)."""

    runner: web.AppRunner
    base_url: str
    state: GraphState

    async def close(self) -> None:
        """Stop serving."""
        await self.runner.cleanup()


async def start_graph_sandbox(host: str = "127.0.0.1", port: int = 0, **options: Any) -> GraphSandbox:
    """Serve a sandbox on ``host:port`` (0 = any free port); its base URL is WHATSAPP_API_BASE."""
    app = create_graph_sandbox(**options)
    runner, base_url = await serve(app, host, port)
    return GraphSandbox(runner, base_url, app[STATE])
