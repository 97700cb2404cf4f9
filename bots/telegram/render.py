"""Render ``Reply`` values as Telegram messages: text within limits, choices as paged inline keyboards,
a one-time reply keyboard for sharing a phone number."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bots.whatsapp.render import ELLIPSIS, fit, split_text
from conversations import notices
from conversations.i18n import Localizer
from conversations.messages import Button, ListRow, Reply

#: Bot API limits: message text, and the bytes of ``callback_data``.
TEXT_MAX = 4096
CALLBACK_DATA_MAX = 64
#: What we show on one inline button, and how many list rows one keyboard page holds.
BUTTON_TEXT_MAX = 40
PAGE_SIZE = 8
#: ``callback_data`` is this prefix plus a token pointing at a ``button_tokens`` row.
DATA_PREFIX = "b:"
#: A token payload that turns a list's page rather than going to the engine.
PAGE_PREFIX = "tg-page:"

#: A rendered message: a JSON object with ``type`` = message | edit.
Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Labels:
    """Words the renderer needs that the reply does not carry (English until localized)."""

    previous: str = notices.PREVIOUS_PAGE
    more: str = notices.NEXT_PAGE
    open_link: str = notices.OPEN_LINK
    share_phone: str = notices.SHARE_PHONE
    share_phone_hint: str = notices.SHARE_PHONE_HINT


DEFAULT_LABELS = Labels()


def localized(t: Localizer) -> Labels:
    """The labels in one user's language."""
    return Labels(
        t._(notices.PREVIOUS_PAGE),
        t._(notices.NEXT_PAGE),
        t._(notices.OPEN_LINK),
        t._(notices.SHARE_PHONE),
        t._(notices.SHARE_PHONE_HINT),
    )


def needs_labels(reply: Reply) -> bool:
    """True when rendering ``reply`` uses words of the renderer's own (worth localizing them)."""
    paged = bool(reply.rows) and len(reply.choices()) > PAGE_SIZE
    return reply.request_contact or paged or (bool(reply.link) and not reply.link_title)


@dataclass(frozen=True, slots=True)
class Draft:
    """One message before its buttons have tokens: text and the choices (button id, shown text)."""

    text: str
    choices: tuple[tuple[str, str], ...] = ()
    is_list: bool = False


def _label(choice: Button | ListRow) -> str:
    description = getattr(choice, "description", "")
    text = f"{choice.title} · {description}" if description.strip() else choice.title
    return fit(text, BUTTON_TEXT_MAX)


def drafts(reply: Reply) -> list[Draft]:
    """One reply as one or more Telegram messages; the last carries the reply's choices."""
    seen: set[str] = set()
    choices = []
    for choice in reply.choices():
        if choice.id and choice.id not in seen:
            seen.add(choice.id)
            choices.append((choice.id, _label(choice)))
    chunks = split_text(reply.text, TEXT_MAX)
    result = [Draft(chunk) for chunk in chunks[:-1]]
    result.append(Draft(chunks[-1] or ELLIPSIS, tuple(choices), bool(reply.rows)))
    return result


def message_payload(
    text: str,
    buttons: list[dict[str, str]],
    is_list: bool,
    pages: dict[str, str],
    labels: Labels = DEFAULT_LABELS,
) -> Payload:
    """The stored form of a message: its text, its buttons (shown text and data) and page-turn data.

    Optional keys, set by the channel: ``contact`` (the label of a share-my-number reply keyboard),
    ``remove_keyboard``, ``key`` (the reply's key) and ``replaces`` (the key of the message it edits).
    """
    payload: Payload = {
        "type": "message",
        "text": text,
        "buttons": buttons,
        "is_list": is_list,
        "pages": pages,
    }
    if pages:
        payload["labels"] = {"previous": labels.previous, "more": labels.more}
    return payload


def page_offsets(count: int) -> list[int]:
    """The first row of every page of a list of ``count`` rows."""
    return list(range(0, max(count, 1), PAGE_SIZE)) if count > PAGE_SIZE else [0]


def keyboard(payload: Payload, offset: int = 0) -> list[list[dict[str, str]]]:
    """The inline keyboard of a stored message at ``offset``: buttons in a row, list rows one per line."""
    labels = Labels(**payload["labels"]) if payload.get("labels") else DEFAULT_LABELS
    buttons: list[dict[str, str]] = payload.get("buttons") or []
    if not buttons:
        return []
    if not payload.get("is_list"):
        if sum(len(b["text"]) for b in buttons) <= 30:
            return [buttons]
        return [[b] for b in buttons]
    pages: dict[str, str] = payload.get("pages") or {}
    rows: list[list[dict[str, str]]] = [[b] for b in buttons[offset : offset + PAGE_SIZE]]
    navigation = []
    if offset > 0 and str(max(offset - PAGE_SIZE, 0)) in pages:
        navigation.append({"text": labels.previous, "data": pages[str(max(offset - PAGE_SIZE, 0))]})
    if offset + PAGE_SIZE < len(buttons) and str(offset + PAGE_SIZE) in pages:
        navigation.append({"text": labels.more, "data": pages[str(offset + PAGE_SIZE)]})
    if navigation:
        rows.append(navigation)
    return rows
