"""What flows in and out of the engine: channel-neutral inbound messages and replies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum


class ChatKind(StrEnum):
    """Whether a chat is one-to-one or a group."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """One message from a user, as any channel reports it."""

    channel: str
    channel_user_id: str
    chat_id: str
    text: str | None = None
    payload: str | None = None
    """The id of a pressed button or chosen list row, when the user tapped rather than typed."""
    chat_kind: ChatKind = ChatKind.PRIVATE
    channel_message_id: str | None = None
    language_hint: str | None = None
    """The language the channel reports for the user (e.g. Telegram's ``language_code``)."""
    country_hint: str | None = None
    """A country the channel knows (e.g. the terminal's ``--country``)."""
    phone: str | None = None
    """A phone number the channel vouches for (WhatsApp's ``wa_id``), E.164."""
    display_name: str | None = None
    start_payload: str | None = None
    """The argument of a deep link that opened the chat (Telegram ``/start <payload>``)."""
    target_user_id: str | None = None
    """In a group, the channel id of the person the message addresses (replied to, text-mentioned)."""
    target_name: str | None = None
    username: str | None = None
    """The sender's handle on the channel, without the ``@`` (Telegram usernames)."""


@dataclass(frozen=True, slots=True)
class Button:
    """A tappable choice: ``id`` comes back as the payload, ``title`` is shown."""

    id: str
    title: str


@dataclass(frozen=True, slots=True)
class ListRow:
    """One row of a pick-list (bundles, countries)."""

    id: str
    title: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to the user: text plus at most three buttons or a list of rows."""

    text: str
    buttons: tuple[Button, ...] = field(default=())
    rows: tuple[ListRow, ...] = field(default=())
    list_title: str = ""
    link: str | None = None
    """A URL, or ``start:<token>`` for a deep link into a private chat with the bot."""
    link_title: str = ""
    forget_inbound: bool = False
    """The message this answers held a secret (a PIN): it is redacted from the transcript, and
    channels that can (Telegram) delete it from the chat."""
    request_contact: bool = False
    """Offer the channel's own "share my phone number" button where it has one (Telegram)."""
    key: str | None = None
    """Names the message (e.g. ``gift:42``) so a later reply can update it in place."""
    replaces: str | None = None
    """The ``key`` of an earlier message this reply updates: channels that can edit messages
    (Telegram) edit it, the others send this as a new message."""

    def choices(self) -> tuple[Button | ListRow, ...]:
        """Every tappable choice this reply offers."""
        return (*self.buttons, *self.rows)


def forgetting(replies: Iterable[Reply]) -> list[Reply]:
    """``replies`` to a message that held a secret (a PIN, an identity number): see ``forget_inbound``."""
    return [replace(reply, forget_inbound=True) for reply in replies]
