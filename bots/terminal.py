"""The terminal channel: chat with the bot on stdin/stdout, as plain text or one JSON object per reply."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass, field
from typing import TextIO

from conversations.engine import Engine
from conversations.messages import InboundMessage, ListRow, Reply

CHANNEL = "terminal"


@dataclass
class TerminalOptions:
    """Who is chatting and how replies are printed."""

    user_id: str = "local"
    country: str | None = None
    language: str | None = None
    phone: str | None = None
    json_output: bool = False
    settle_timeout: float = 60.0
    """How long to wait at end of input for orders still in flight."""
    poll_interval: float = 0.25


@dataclass
class _Choices:
    """The buttons and rows of the last replies, so a typed title or number presses them."""

    by_text: dict[str, str] = field(default_factory=dict)

    def remember(self, replies: list[Reply]) -> None:
        if not replies:
            return
        self.by_text = {}
        for reply in replies:
            for index, choice in enumerate(reply.choices(), start=1):
                self.by_text[choice.id.lower()] = choice.id
                self.by_text[choice.title.strip().lower()] = choice.id
                if reply.rows and isinstance(choice, ListRow):
                    self.by_text[str(index)] = choice.id

    def payload_for(self, line: str) -> str | None:
        return self.by_text.get(line.strip().lower())


def render_plain(reply: Reply) -> str:
    """A reply as terminal text: the message, then [buttons] and numbered rows."""
    lines = [f"bot> {reply.text}"]
    if reply.buttons:
        lines.append("     " + "  ".join(f"[{b.title}]" for b in reply.buttons))
    for index, row in enumerate(reply.rows, start=1):
        suffix = f" — {row.description}" if row.description else ""
        lines.append(f"     {index}. {row.title}{suffix}")
    return "\n".join(lines)


def render_json(reply: Reply) -> str:
    """A reply as one JSON object: text, buttons, and rows for lists."""
    data: dict[str, object] = {
        "text": reply.text,
        "buttons": [{"id": b.id, "title": b.title} for b in reply.buttons],
    }
    if reply.rows:
        data["rows"] = [{"id": r.id, "title": r.title, "description": r.description} for r in reply.rows]
    return json.dumps(data, ensure_ascii=False)


class TerminalChat:
    """Runs one user's chat with the engine over a text stream."""

    def __init__(self, engine: Engine, options: TerminalOptions, out: TextIO = sys.stdout) -> None:
        self.engine = engine
        self.options = options
        self.out = out
        self.choices = _Choices()
        self._printing = asyncio.Lock()

    def _message(self, line: str) -> InboundMessage:
        payload = self.choices.payload_for(line)
        return InboundMessage(
            channel=CHANNEL,
            channel_user_id=self.options.phone or self.options.user_id,
            chat_id=self.options.phone or self.options.user_id,
            text=None if payload else line,
            payload=payload,
            language_hint=self.options.language,
            country_hint=self.options.country,
            phone=self.options.phone,
        )

    async def _show(self, replies: list[Reply]) -> None:
        async with self._printing:
            for reply in replies:
                print(render_json(reply) if self.options.json_output else render_plain(reply), file=self.out)
            self.out.flush()

    async def say(self, line: str) -> list[Reply]:
        """Send one line as the user and print the answers."""
        replies = await self.engine.handle(self._message(line))
        self.choices.remember(replies)
        await self._show(replies)
        return replies

    async def flush_notifications(self) -> int:
        """Print receipts that arrived since the last look; return how many."""
        chat = self.options.phone or self.options.user_id
        replies = await self.engine.notifications(CHANNEL, chat)
        await self._show(replies)
        return len(replies)

    async def settle(self) -> None:
        """Wait (bounded) until no order of this chat is in flight, printing receipts as they come."""
        chat = self.options.phone or self.options.user_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.settle_timeout
        while True:
            await self.flush_notifications()
            if await self.engine.orders_in_flight(CHANNEL, chat) == 0 or loop.time() > deadline:
                break
            await asyncio.sleep(self.options.poll_interval)
        await self.flush_notifications()

    async def run(self, source: TextIO = sys.stdin) -> None:
        """Chat until end of input, then let in-flight orders settle and print their receipts."""
        watcher = asyncio.create_task(self._watch_notifications())
        try:
            while True:
                line = await asyncio.to_thread(source.readline)
                if not line:
                    break
                if line.strip():
                    await self.say(line.rstrip("\n"))
        finally:
            watcher.cancel()
        await self.settle()

    async def _watch_notifications(self) -> None:
        while True:
            await asyncio.sleep(self.options.poll_interval * 4)
            await self.flush_notifications()
