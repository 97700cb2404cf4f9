"""Property tests: any ``Reply`` renders into WhatsApp messages that Meta's limits accept, pages included."""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st
from pywa_async.client import WhatsApp

from bots.whatsapp import graph
from bots.whatsapp.render import (
    BUTTON_TITLE_MAX,
    INTERACTIVE_BODY_MAX,
    MAX_BUTTONS,
    MAX_ROWS,
    MORE_PREFIX,
    ROW_DESCRIPTION_MAX,
    ROW_TITLE_MAX,
    TEXT_MAX,
    list_page,
    render,
    template,
)
from conversations.messages import Button, ListRow, Reply
from sandbox.graph import GraphError, validate

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
_ids = st.text("abcdefghijklmnopqrstuvwxyz0123456789:-_", min_size=1, max_size=40)
_replies = st.builds(
    Reply,
    text=st.one_of(_text, st.text(max_size=5000)),
    buttons=st.lists(st.builds(Button, id=_ids, title=_text), max_size=6).map(tuple),
    rows=st.lists(st.builds(ListRow, id=_ids, title=_text, description=_text), max_size=25).map(tuple),
    list_title=_text,
)


def _pages(payload: dict[str, object]) -> list[list[dict[str, str]]]:
    """Every page of a list payload, following its "More" rows."""
    pages, offset = [], 0
    while True:
        rows = list_page(payload, offset)
        pages.append(rows)
        more = [r for r in rows if r["id"].startswith(MORE_PREFIX)]
        if not more:
            return pages
        offset = int(more[0]["id"].removeprefix(MORE_PREFIX))


@settings(max_examples=300, deadline=None)
@given(_replies)
def test_any_reply_renders_within_meta_limits(reply: Reply) -> None:
    payloads = render(reply)
    offered: list[str] = []
    for payload in payloads:
        text = payload["text"]
        assert isinstance(text, str) and text.strip()
        if payload["type"] == "text":
            assert len(text) <= TEXT_MAX
            continue
        assert len(text) <= INTERACTIVE_BODY_MAX
        if payload["type"] == "buttons":
            buttons = payload["buttons"]
            titles = [b["title"] for b in buttons]
            assert 1 <= len(buttons) <= MAX_BUTTONS
            assert all(0 < len(t) <= BUTTON_TITLE_MAX for t in titles)
            assert len({t.casefold() for t in titles}) == len(titles)
            offered += [b["id"] for b in buttons]
            continue
        for page in _pages(payload):
            assert 1 <= len(page) <= MAX_ROWS
            assert all(0 < len(r["title"]) <= ROW_TITLE_MAX for r in page)
            assert all(len(r.get("description", "")) <= ROW_DESCRIPTION_MAX for r in page)
            assert len({r["title"].casefold() for r in page}) == len(page)
            offered += [r["id"] for r in page if not r["id"].startswith(MORE_PREFIX)]
    # Nothing the user could choose is lost: every distinct choice is offered exactly once
    # (ids that would pass for the renderer's own "More" row are reserved, so dropped).
    choices = (*reply.rows, *reply.buttons)
    wanted = list(dict.fromkeys(c.id for c in choices if not c.id.startswith(MORE_PREFIX)))
    assert offered == wanted
    # And the JSON pywa builds from it passes the sandbox's copy of Meta's validation.
    asyncio.run(_send_all(payloads))


async def _send_all(payloads: list[dict[str, object]]) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        try:
            validate(json.loads(request.content))
        except GraphError as error:
            raise AssertionError(f"Meta would refuse: {error.details}: {request.content!r}") from None
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "2348031234567", "wa_id": "2348031234567"}],
                "messages": [{"id": "wamid.X"}],
            },
        )

    session = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    client = WhatsApp(phone_id="1", token="t", session=session, app_secret="s", filter_updates=False)
    try:
        for payload in payloads:
            if payload["type"] == "list":
                for page_offset in _offsets(payload):
                    await graph.send(client, "2348031234567", {**payload, "offset": page_offset})
            else:
                await graph.send(client, "2348031234567", payload)
    finally:
        await session.aclose()


def _offsets(payload: dict[str, object]) -> list[int]:
    offsets, offset = [0], 0
    while more := [r for r in list_page(payload, offset) if r["id"].startswith(MORE_PREFIX)]:
        offset = int(more[0]["id"].removeprefix(MORE_PREFIX))
        offsets.append(offset)
    return offsets


@given(_text)
def test_template_parameters_hold_no_newlines_or_long_spaces(text: str) -> None:
    payload = template("nexustop_order_update", "en", text + "\n\n    tail")
    (parameter,) = payload["params"]
    assert "\n" not in parameter and "\t" not in parameter and "    " not in parameter
    assert 0 < len(parameter) <= 1024
