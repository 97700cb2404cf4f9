"""Two web processes (``nexustop serve``) on one database and one Redis: a takeover in one silences the
bot for messages arriving at the other, and the inbox in one sees live what arrives at the other."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp

from domain.database import Database
from sandbox.graph import GraphSandbox, start_graph_sandbox
from tests.integration.inbox_harness import PASSWORD, csrf_of, new_staff
from tests.integration.whatsapp_harness import (
    APP_SECRET,
    PHONE_ID,
    TOKEN,
    VERIFY_TOKEN,
    nigerian_number,
    sign,
    text_update,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(pg_url: str, graph: GraphSandbox) -> Iterator[str]:
    """``nexustop serve`` in its own OS process; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": pg_url,
        "WHATSAPP_PHONE_ID": PHONE_ID,
        "WHATSAPP_TOKEN": TOKEN,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_API_BASE": graph.base_url,
        "WHATSAPP_POLL_SECONDS": "0.2",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "nexustop.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


async def _up(session: aiohttp.ClientSession, base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"{base} did not start")


async def _post_update(session: aiohttp.ClientSession, base: str, graph: GraphSandbox, update: dict) -> None:
    body = json.dumps(update).encode()
    graph.state.note_inbound(update["entry"][0]["changes"][0]["value"]["messages"][0]["from"])
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(body)}
    async with session.post(f"{base}/webhook/whatsapp", data=body, headers=headers) as response:
        assert response.status == 200


async def _eventually(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


@asynccontextmanager
async def _events(session: aiohttp.ClientSession, base: str) -> AsyncIterator[asyncio.Queue[dict]]:
    """The inbox's live event stream (SSE), parsed into a queue."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    response = await session.get(f"{base}/inbox/events")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")

    async def read() -> None:
        async for raw in response.content:
            line = raw.decode().strip()
            if line.startswith("data: "):
                queue.put_nowait(json.loads(line.removeprefix("data: ")))

    reader = asyncio.create_task(read())
    try:
        yield queue
    finally:
        reader.cancel()
        response.close()


async def _event_for(queue: asyncio.Queue[dict], conversation_id: int, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(queue.get(), max(deadline - time.monotonic(), 0.01))
        if event["conversation_id"] == conversation_id:
            return event


async def test_takeover_in_one_process_silences_the_bot_in_the_other(pg_url: str, db: Database) -> None:
    graph = await start_graph_sandbox(token=TOKEN, app_secret=APP_SECRET, phone_id=PHONE_ID, status_order=[])
    try:
        with serve(pg_url, graph) as inbox_web, serve(pg_url, graph) as webhook_web:
            graph.state.callback_url = f"{webhook_web}/webhook/whatsapp"
            email = await new_staff(db)
            agent = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
            user = aiohttp.ClientSession()
            try:
                await _up(user, inbox_web)
                await _up(user, webhook_web)
                async with agent.get(f"{inbox_web}/inbox/login") as page:
                    token = csrf_of(await page.text())
                async with agent.post(
                    f"{inbox_web}/inbox/login", data={"csrf": token, "email": email, "password": PASSWORD}
                ) as logged_in:
                    assert logged_in.status == 200 and "/inbox/" in str(logged_in.url)
                    csrf = csrf_of(await logged_in.text())

                wa_id = nigerian_number()
                async with _events(agent, inbox_web) as events:
                    await _post_update(
                        user, webhook_web, graph, text_update(wa_id, "I want to talk to an agent")
                    )
                    await _eventually(lambda: _has_text(graph, wa_id, "support team"))
                    conversation_id = await _conversation_id(db, wa_id)
                    waiting = await _event_for(events, conversation_id)
                    assert waiting["kind"] == "waiting"

                    async with agent.post(
                        f"{inbox_web}/inbox/c/{conversation_id}/take", data={"csrf": csrf}
                    ) as taken:
                        assert taken.status == 200 and "error" not in str(taken.url)
                    await _event_for(events, conversation_id)

                    sent_before = len(graph.state.sent_to(wa_id))
                    await _post_update(user, webhook_web, graph, text_update(wa_id, "hello, anyone there?"))
                    live = await _event_for(events, conversation_id)
                    assert live["kind"] == "with_agent"
                    async with agent.get(f"{inbox_web}/inbox/c/{conversation_id}/live") as part:
                        assert "hello, anyone there?" in await part.text()
                    await asyncio.sleep(1.0)  # give a (wrong) bot reply time to show up
                    assert len(graph.state.sent_to(wa_id)) == sent_before, "the bot answered after a takeover"

                    async with agent.post(
                        f"{inbox_web}/inbox/c/{conversation_id}/reply",
                        data={"csrf": csrf, "text": "Yes — a person here. How can I help?"},
                    ) as replied:
                        assert "error" not in str(replied.url)
                    await _eventually(lambda: _has_text(graph, wa_id, "a person here"))
            finally:
                await agent.close()
                await user.close()
    finally:
        await graph.close()


async def _has_text(graph: GraphSandbox, wa_id: str, needle: str) -> bool:
    for message in graph.state.sent_to(wa_id):
        body = message.body
        text = (body.get("text") or {}).get("body") or (
            (body.get("interactive") or {}).get("body") or {}
        ).get("text")
        if text and needle in text:
            return True
    return False


async def _conversation_id(db: Database, wa_id: str) -> int:
    from sqlalchemy import select

    from domain.models import Conversation

    async with db.transaction() as session:
        found = await session.scalar(
            select(Conversation.id).where(Conversation.channel == "whatsapp", Conversation.chat_id == wa_id)
        )
    assert found is not None
    return int(found)
