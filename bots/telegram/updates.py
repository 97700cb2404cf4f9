"""Reading Telegram updates: where each belongs (chat, order) and what it asks of the engine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.ingress import Item
from bots.telegram.render import DATA_PREFIX
from conversations.messages import ChatKind, InboundMessage
from domain.phones import normalize_phone

CHANNEL = "telegram"
#: Commands and the text the engine's parser understands for them (``/privacy`` is the channel's own).
COMMAND_TEXT = {
    "start": "help",
    "help": "help",
    "balance": "balance",
    "history": "history",
    "cancel": "cancel",
    "language": "language",
}
PRIVACY = "privacy"
#: Commands a group may use; anything about money continues in private.
GROUP_COMMANDS = frozenset({"start", "help", "language", "gift", PRIVACY})


def item(update: dict[str, Any]) -> Item:
    """The storable form of an update: keyed by ``update_id``, ordered within its chat."""
    update_id = update["update_id"]
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("update_id must be an integer")
    return Item(str(update_id), update, chat_key=chat_key(update), sequence=update_id)


def chat_key(update: dict[str, Any]) -> str:
    """The chat an update belongs to (the user's id for updates without a chat)."""
    for field in ("message", "edited_message", "my_chat_member", "chat_member"):
        if isinstance(update.get(field), dict):
            chat = update[field].get("chat") or {}
            return str(chat.get("id", "none"))
    query = update.get("callback_query")
    if isinstance(query, dict):
        chat = (query.get("message") or {}).get("chat") or {}
        if "id" in chat:
            return str(chat["id"])
        return str((query.get("from") or {}).get("id", "none"))
    return "none"


def chat_kind(chat: dict[str, Any]) -> ChatKind:
    """Private for one-to-one chats, group for groups and supergroups."""
    return ChatKind.PRIVATE if chat.get("type") == "private" else ChatKind.GROUP


def engine_chat_id(chat_id: str, user_id: str, kind: ChatKind) -> str:
    """The engine's conversation key: the chat itself in private, one conversation per member in a group."""
    return chat_id if kind is ChatKind.PRIVATE else f"{chat_id}/{user_id}"


def telegram_chat_id(engine_chat: str) -> str:
    """The Telegram chat behind an engine conversation key."""
    return engine_chat.split("/", 1)[0]


def display_name(user: dict[str, Any]) -> str | None:
    """A person's name as Telegram shows it."""
    name = " ".join(str(user.get(k, "")) for k in ("first_name", "last_name") if user.get(k)).strip()
    return name[:128] or None


@dataclass(frozen=True, slots=True)
class Command:
    """A bot command: its name, what follows it, and whether it was addressed to another bot."""

    name: str
    argument: str
    for_other_bot: bool


def command(message: dict[str, Any], bot_username: str) -> Command | None:
    """The command a message starts with (a ``bot_command`` entity at offset 0), if any."""
    text = str(message.get("text") or "")
    entities = message.get("entities") or []
    first = next((e for e in entities if e.get("type") == "bot_command" and e.get("offset") == 0), None)
    if first is None or not text.startswith("/"):
        return None
    word = text[: int(first.get("length", 0))]
    name, _, addressee = word[1:].partition("@")
    other = bool(addressee) and addressee.lower() != bot_username.lower() and bool(bot_username)
    return Command(name.lower(), text[len(word) :].strip(), other)


def inbound(
    message: dict[str, Any], sender: dict[str, Any], *, text: str | None = None, payload: str | None = None
) -> InboundMessage:
    """The engine's view of a message (or of a press on one) from ``sender``."""
    chat = message.get("chat") or {}
    kind = chat_kind(chat)
    user_id = str(sender.get("id", ""))
    return InboundMessage(
        channel=CHANNEL,
        channel_user_id=user_id,
        chat_id=engine_chat_id(str(chat.get("id", user_id)), user_id, kind),
        text=text,
        payload=payload,
        chat_kind=kind,
        channel_message_id=f"{chat.get('id')}:{message.get('message_id')}"
        if message.get("message_id")
        else None,
        language_hint=sender.get("language_code"),
        display_name=display_name(sender),
        username=str(sender["username"])[:64] if sender.get("username") else None,
    )


@dataclass(frozen=True, slots=True)
class SharedContact:
    """A phone number shared as a contact: as written, and E.164 when it is the sender's own."""

    number: str
    own: str | None
    """Set only for the sender's own number (Telegram vouches for it), normalized to E.164."""


def shared_contact(message: dict[str, Any], sender: dict[str, Any]) -> SharedContact | None:
    """The contact a message shares, if any; only the sender's own number counts as theirs."""
    contact = message.get("contact") or {}
    raw = str(contact.get("phone_number") or "").strip()
    if not raw:
        return None
    number = raw if raw.startswith("+") else f"+{raw}"
    e164 = normalize_phone(number, "NG")  # international form: the default country plays no part
    mine = contact.get("user_id") is not None and contact.get("user_id") == sender.get("id")
    return SharedContact(e164 or number, e164 if mine else None)


def token_of(data: str | None) -> str | None:
    """The button token inside ``callback_data`` we produced; None for anything else."""
    if not data or not data.startswith(DATA_PREFIX):
        return None
    token = data.removeprefix(DATA_PREFIX)
    return token if 0 < len(token) <= 24 else None


def addressee(message: dict[str, Any]) -> tuple[str, str | None] | None:
    """Who a group message is addressed to: the author replied to, else a text-mentioned user.

    (A plain ``@username`` or ``mention`` entity carries no id: the engine looks the handle up
    among the people it knows.)
    """
    replied = (message.get("reply_to_message") or {}).get("from") or {}
    if replied.get("id") and not replied.get("is_bot"):
        return str(replied["id"]), display_name(replied)
    for entity in message.get("entities") or []:
        user = entity.get("user") or {}
        if entity.get("type") == "text_mention" and user.get("id") and not user.get("is_bot"):
            return str(user["id"]), display_name(user)
    return None
