"""The web app with the WhatsApp channel against the Graph API and VTpass sandboxes, driven over HTTP.

Webhook bodies are built here in Meta's envelope shape (our own data, not copied fixtures) and
signed with HMAC-SHA256 of the exact bytes posted, as Meta does.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, select

from bots.whatsapp.channel import WhatsAppChannel
from bots.whatsapp.webhook import WHATSAPP_KEY
from domain import ledger
from domain.models import Identity, Order
from nexustop.bootstrap import App, demo_settings
from nexustop.settings import Settings
from nexustop.web import APP_KEY, create_app
from sandbox.graph import GraphSandbox, SentMessage, start_graph_sandbox
from tests.integration import settling

APP_SECRET = "whsec-test-7f3a"
TOKEN = "EAAG-test-token"
PHONE_ID = "109283746501234"
VERIFY_TOKEN = "verify-me-please"
WABA_ID = "230948571029384"


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_wamid() -> str:
    """A fresh Meta-looking inbound message id."""
    return "wamid.HBgM" + uuid.uuid4().hex.upper()


def nigerian_number() -> str:
    """A random Nigerian MTN number as WhatsApp writes it (digits, no plus)."""
    return "234803" + f"{random.randrange(1_000_000, 9_999_999)}"


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    """A ``whatsapp_business_account`` webhook body around one change value."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15551230000", "phone_number_id": PHONE_ID},
        **value,
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": "messages"}]}],
    }


def _from(wa_id: str, message: dict[str, Any], wamid: str | None, name: str) -> dict[str, Any]:
    contact = {
        "profile": {"name": name},
        "wa_id": wa_id,
        "user_id": f"NG.{int(wa_id) * 7919 % 10**19}",
    }
    full = {"from": wa_id, "id": wamid or new_wamid(), "timestamp": str(int(time.time())), **message}
    return envelope({"contacts": [contact], "messages": [full]})


def text_update(wa_id: str, body: str, wamid: str | None = None, name: str = "Chiamaka") -> dict[str, Any]:
    """A user typed ``body``."""
    return _from(wa_id, {"type": "text", "text": {"body": body}}, wamid, name)


def button_update(wa_id: str, button_id: str, title: str, wamid: str | None = None) -> dict[str, Any]:
    """A user tapped a reply button."""
    interactive = {"type": "button_reply", "button_reply": {"id": button_id, "title": title}}
    message = {
        "context": {"from": "15551230000", "id": new_wamid()},
        "type": "interactive",
        "interactive": interactive,
    }
    return _from(wa_id, message, wamid, "Chiamaka")


def list_update(wa_id: str, row_id: str, title: str, wamid: str | None = None) -> dict[str, Any]:
    """A user picked a list row."""
    interactive = {"type": "list_reply", "list_reply": {"id": row_id, "title": title, "description": ""}}
    message = {
        "context": {"from": "15551230000", "id": new_wamid()},
        "type": "interactive",
        "interactive": interactive,
    }
    return _from(wa_id, message, wamid, "Chiamaka")


def status_update(wamid: str, status: str, recipient: str, error_code: int | None = None) -> dict[str, Any]:
    """Meta telling us how far one of our messages got."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if error_code is not None:
        item["errors"] = [
            {"code": error_code, "title": "error", "message": "error", "error_data": {"details": "x"}}
        ]
    else:
        item["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    return envelope({"statuses": [item]})


@dataclass
class Harness:
    """The running web app, its WhatsApp channel and the Graph sandbox."""

    client: TestClient
    graph: GraphSandbox
    channel: WhatsAppChannel
    app: App
    after: settling.Baseline
    """The newest rows when the harness started: settling waits only for what came after."""

    async def post(self, update: dict[str, Any] | bytes, signature: str | bool | None = True) -> int:
        """POST a webhook body (signed unless told otherwise); return the HTTP status."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if signature is True:
            headers["X-Hub-Signature-256"] = sign(body)
        elif isinstance(signature, str):
            headers["X-Hub-Signature-256"] = signature
        if not isinstance(update, bytes):
            for change in update.get("entry", [{}])[0].get("changes", []):
                for message in change["value"].get("messages", []):
                    self.graph.state.note_inbound(message.get("from") or message["from_user_id"])
        response = await self.client.post("/webhook/whatsapp", data=body, headers=headers)
        return response.status

    async def settle(self, timeout: float = 15.0) -> None:
        """Wait until updates are processed, orders settled and receipts handed to the sandbox."""
        await settling.settle(self.channel, self.app, self.app.db, "whatsapp", timeout, self.after)

    def sent_to(self, wa_id: str) -> list[SentMessage]:
        """What the sandbox accepted for ``wa_id``."""
        return self.graph.state.sent_to(wa_id)

    def texts_to(self, wa_id: str) -> list[str]:
        """The visible text of every message sent to ``wa_id``."""
        result = []
        for message in self.sent_to(wa_id):
            body = message.body
            if message.type == "text":
                result.append(body["text"]["body"])
            elif message.type == "interactive":
                result.append(body["interactive"]["body"]["text"])
            else:
                params = body["template"]["components"][0]["parameters"]
                result.append(f"[template {body['template']['name']}] " + " ".join(p["text"] for p in params))
        return result

    def button_id(self, wa_id: str, prefix: str) -> str:
        """The id of the latest button or row offered to ``wa_id`` that starts with ``prefix``."""
        for message in reversed(self.sent_to(wa_id)):
            if message.type != "interactive":
                continue
            action = message.body["interactive"]["action"]
            ids = [b["reply"]["id"] for b in action.get("buttons", [])]
            ids += [r["id"] for s in action.get("sections", []) for r in s["rows"]]
            for choice in ids:
                if choice.startswith(prefix):
                    return choice
        raise AssertionError(f"no {prefix!r} choice sent to {wa_id}")

    async def wallet(self, wa_id: str, currency: str = "NGN") -> int:
        """Posted balance of the user behind ``wa_id``, minor units."""
        async with self.app.db.transaction() as session:
            user_id = await session.scalar(
                select(Identity.user_id).where(
                    Identity.channel == "whatsapp", Identity.channel_user_id == wa_id
                )
            )
            assert user_id is not None
            return (
                await ledger.balance(session, await ledger.open_wallet(session, user_id, currency))
            ).posted

    async def orders(self, wa_id: str) -> int:
        """How many orders the user behind ``wa_id`` placed."""
        async with self.app.db.transaction() as session:
            user_id = await session.scalar(
                select(Identity.user_id).where(
                    Identity.channel == "whatsapp", Identity.channel_user_id == wa_id
                )
            )
            return int(
                await session.scalar(select(func.count(Order.id)).where(Order.user_id == user_id)) or 0
            )


@asynccontextmanager
async def whatsapp_app(pg_url: str, **graph_options: Any) -> AsyncIterator[Harness]:
    """The demo web app (opening balances, in-process fulfilment) on PostgreSQL, with both sandboxes."""
    options = {"status_order": [], **graph_options}
    graph = await start_graph_sandbox(token=TOKEN, app_secret=APP_SECRET, phone_id=PHONE_ID, **options)
    settings = demo_settings(
        Settings(
            database_url=pg_url,
            whatsapp_phone_id=PHONE_ID,
            whatsapp_token=SecretStr(TOKEN),
            whatsapp_app_secret=SecretStr(APP_SECRET),
            whatsapp_verify_token=SecretStr(VERIFY_TOKEN),
            whatsapp_api_base=graph.base_url,
            whatsapp_poll_seconds=0.05,
        )
    ).model_copy(update={"requery_delays_seconds": (0.05, 0.1, 0.2)})
    web_app = create_app(settings)
    try:
        async with TestClient(TestServer(web_app)) as client:
            graph.state.callback_url = str(client.make_url("/webhook/whatsapp"))
            yield Harness(
                client,
                graph,
                web_app[WHATSAPP_KEY],
                web_app[APP_KEY],
                await settling.baseline(web_app[APP_KEY].db),
            )
    finally:
        await graph.close()
