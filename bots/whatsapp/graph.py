"""Outbound calls to the WhatsApp Cloud (Graph) API through pywa_async, at a configurable base URL."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from pywa.types.callback import Button, Section, SectionList, SectionRow
from pywa_async.client import WhatsApp
from pywa_async.types.templates import BodyText, TemplateLanguage

from bots.whatsapp.render import DEFAULT_LABELS, Labels, Payload, list_page


@dataclass(frozen=True, slots=True)
class WhatsAppConfig:
    """What the WhatsApp channel needs to know; the composition root fills it from settings."""

    phone_id: str
    token: str
    app_secret: str
    verify_token: str
    api_base: str = "https://graph.facebook.com"
    api_version: str = "26.0"
    receipt_template: str = "nexustop_order_update"
    template_languages: dict[str, str] = field(default_factory=lambda: {"en": "en", "fr": "fr"})
    window_seconds: float = 24 * 3600.0
    poll_seconds: float = 1.0
    request_timeout: float = 10.0


class _Rebased(httpx.AsyncBaseTransport):
    """Sends every request to ``base`` (scheme, host, port and path prefix) instead of graph.facebook.com."""

    def __init__(self, base: str, inner: httpx.AsyncBaseTransport) -> None:
        self._base = httpx.URL(base.rstrip("/"))
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Rewrite the URL, then send."""
        prefix = self._base.raw_path.rstrip(b"/")
        request.url = request.url.copy_with(
            scheme=self._base.scheme,
            host=self._base.host,
            port=self._base.port,
            raw_path=prefix + request.url.raw_path,
        )
        request.headers["Host"] = self._base.netloc.decode("ascii")
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


def build_client(config: WhatsAppConfig) -> WhatsApp:
    """A pywa_async client whose Graph API calls all go to ``config.api_base``."""
    transport: httpx.AsyncBaseTransport = httpx.AsyncHTTPTransport()
    if httpx.URL(config.api_base).host != "graph.facebook.com" or httpx.URL(config.api_base).raw_path != b"/":
        transport = _Rebased(config.api_base, transport)
    session = httpx.AsyncClient(transport=transport, timeout=config.request_timeout)
    return WhatsApp(
        phone_id=config.phone_id,
        token=config.token,
        session=session,
        verify_token=config.verify_token,
        app_secret=config.app_secret,
        api_version=config.api_version,
        filter_updates=False,
    )


async def close_client(client: WhatsApp) -> None:
    """Close the client's HTTP connections."""
    await client.api._session.aclose()


def _language(code: str) -> TemplateLanguage:
    try:
        return TemplateLanguage(code)
    except ValueError:
        return TemplateLanguage.ENGLISH


async def send(client: WhatsApp, to: str, payload: Payload, labels: Labels = DEFAULT_LABELS) -> str:
    """Send one rendered message; return its wamid. Raises pywa's ``WhatsAppError`` when Meta refuses."""
    kind = payload["type"]
    if kind == "template":
        sent = await client.send_template(
            to=to,
            name=payload["name"],
            language=_language(payload["language"]),
            params=[BodyText.params(*payload["params"])],
        )
        return str(sent.id)
    if kind == "buttons":
        buttons = [Button(title=b["title"], callback_data=b["id"]) for b in payload["buttons"]]
        return str((await client.send_message(to=to, text=payload["text"], buttons=buttons)).id)
    if kind == "list":
        rows = [
            SectionRow(title=r["title"], callback_data=r["id"], description=r.get("description"))
            for r in list_page(payload, int(payload.get("offset", 0)), labels)
        ]
        section_list = SectionList(button_title=payload["button"], sections=[Section(title="", rows=rows)])
        return str((await client.send_message(to=to, text=payload["text"], buttons=section_list)).id)
    return str((await client.send_message(to=to, text=payload["text"])).id)


async def typing(client: WhatsApp, message_id: str) -> None:
    """Mark an inbound message read and show the typing indicator (one Graph call)."""
    await client.indicate_typing(message_id)
