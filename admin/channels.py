"""What the inbox needs from a chat channel to send an agent's words: a port the composition root fills."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from domain.models import Conversation, OutboundMessage


@dataclass(frozen=True, slots=True)
class Window:
    """Whether free-form messages may be sent now, and the template to use when they may not."""

    open: bool
    template: str | None = None
    """The configured template (WhatsApp outside its 24-hour window); None when the channel has none."""


class AgentChannel(Protocol):
    """One chat channel as the inbox sees it: queue an agent's text as the channel's outbound rows."""

    name: str

    def window(self, conversation: Conversation) -> Window:
        """Whether a free-form reply can go out now."""
        ...

    async def rows(
        self, session: AsyncSession, conversation: Conversation, text: str, *, as_template: bool
    ) -> list[OutboundMessage]:
        """Outbound rows (not yet added) that carry ``text`` to the conversation's chat."""
        ...

    async def flush(self, chat_id: str | None = None) -> int:
        """Send what is queued now (the channel's background loop would soon anyway)."""
        ...
