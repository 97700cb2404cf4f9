"""Render ``Reply`` values as WhatsApp messages that always fit Meta's limits (trimmed, never refused)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conversations.messages import Button, ListRow, Reply

#: Meta's limits (Cloud API reference for text, reply-button and list messages).
TEXT_MAX = 4096
INTERACTIVE_BODY_MAX = 1024
MAX_BUTTONS = 3
BUTTON_TITLE_MAX = 20
BUTTON_ID_MAX = 256
LIST_BUTTON_MAX = 20
MAX_ROWS = 10
ROW_TITLE_MAX = 24
ROW_ID_MAX = 200
ROW_DESCRIPTION_MAX = 72
SECTION_TITLE_MAX = 20
TEMPLATE_PARAM_MAX = 1024

#: Payload prefix of the paging row; the channel answers it itself without a turn.
MORE_PREFIX = "wa-more:"
ELLIPSIS = "…"

#: A rendered message: a JSON object with ``type`` = text | buttons | list | template.
Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Labels:
    """Words the renderer needs that the reply does not carry."""

    list_button: str = "Choose"
    more: str = "More ›"


DEFAULT_LABELS = Labels()


def fit(text: str, limit: int) -> str:
    """``text`` on one stripped line of at most ``limit`` characters, ending in … when cut; never empty."""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + ELLIPSIS
    return text or ELLIPSIS


def _body(text: str, limit: int) -> str:
    """A message body: newlines kept, at most ``limit`` characters, never empty."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + ELLIPSIS
    return text or ELLIPSIS


def _unique_titles(titles: list[str], limit: int) -> list[str]:
    """Titles fitted to ``limit`` and made unique (Meta refuses two equal titles) by a numeric suffix."""
    seen: set[str] = set()
    result = []
    for title in titles:
        candidate = fit(title, limit)
        number = 2
        while candidate.casefold() in seen:
            suffix = f" {number}"
            candidate = fit(title, limit - len(suffix)) + suffix
            number += 1
        seen.add(candidate.casefold())
        result.append(candidate)
    return result


def split_text(text: str, limit: int = TEXT_MAX) -> list[str]:
    """``text`` in chunks of at most ``limit`` characters, cut at a newline or space when possible."""
    text = text.strip()
    chunks = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 0, limit), text.rfind(" ", 0, limit))
        if cut < limit // 2:
            cut = limit
        chunks.append(text[:cut].rstrip())
        text = text[cut:].strip()
    chunks.append(text or ELLIPSIS)
    return chunks


def _lead_and_body(text: str) -> tuple[list[str], str]:
    """Text too long for an interactive body goes first as plain messages; the tail becomes the body."""
    text = text.strip()
    if len(text) <= INTERACTIVE_BODY_MAX:
        return [], text or ELLIPSIS
    cut = text.rfind("\n", len(text) - INTERACTIVE_BODY_MAX)
    if cut == -1 or len(text) - cut > INTERACTIVE_BODY_MAX:
        cut = len(text) - INTERACTIVE_BODY_MAX
    head, tail = text[:cut], text[cut:].strip()
    return split_text(head), _body(tail, INTERACTIVE_BODY_MAX)


def _distinct(choices: list[Button | ListRow]) -> list[Button | ListRow]:
    """Choices with distinct ids (the same id twice is the same action); empty ids and ids that
    would pass for our own "More" row dropped."""
    seen: set[str] = set()
    result = []
    for choice in choices:
        if choice.id and choice.id not in seen and not choice.id.startswith(MORE_PREFIX):
            seen.add(choice.id)
            result.append(choice)
    return result


def render(reply: Reply, labels: Labels = DEFAULT_LABELS) -> list[Payload]:
    """One reply as one or more WhatsApp messages, each within Meta's limits."""
    choices = _distinct([*reply.rows, *reply.buttons])
    if not choices:
        return [{"type": "text", "text": chunk} for chunk in split_text(reply.text)]
    lead, body = _lead_and_body(reply.text)
    messages: list[Payload] = [{"type": "text", "text": chunk} for chunk in lead]
    if not reply.rows and len(choices) <= MAX_BUTTONS:
        titles = _unique_titles([c.title for c in choices], BUTTON_TITLE_MAX)
        buttons = [{"id": c.id[:BUTTON_ID_MAX], "title": t} for c, t in zip(choices, titles, strict=True)]
        messages.append({"type": "buttons", "text": body, "buttons": buttons})
        return messages
    rows = [
        {"id": c.id[:ROW_ID_MAX], "title": c.title, "description": getattr(c, "description", "")}
        for c in choices
    ]
    messages.append(
        {
            "type": "list",
            "text": body,
            "button": fit(reply.list_title or labels.list_button, LIST_BUTTON_MAX),
            "all_rows": rows,
        }
    )
    return messages


def list_page(payload: Payload, offset: int, labels: Labels = DEFAULT_LABELS) -> list[dict[str, str]]:
    """The rows of one page of a list payload (≤10 with the "More" row), fitted to Meta's limits."""
    all_rows: list[dict[str, str]] = payload["all_rows"]
    offset = max(0, min(offset, max(len(all_rows) - 1, 0)))
    remaining = all_rows[offset:]
    page = remaining if len(remaining) <= MAX_ROWS else remaining[: MAX_ROWS - 1]
    titles = _unique_titles([row["title"] for row in page], ROW_TITLE_MAX)
    rows = []
    for row, title in zip(page, titles, strict=True):
        fitted = {"id": row["id"], "title": title}
        if row.get("description", "").strip():
            fitted["description"] = fit(row["description"], ROW_DESCRIPTION_MAX)
        rows.append(fitted)
    if len(remaining) > len(page):
        next_offset = offset + len(page)
        more_title = _unique_titles([*titles, labels.more], ROW_TITLE_MAX)[-1]
        rows.append(
            {
                "id": f"{MORE_PREFIX}{next_offset}",
                "title": more_title,
                "description": fit(f"{next_offset + 1}–{len(all_rows)}", ROW_DESCRIPTION_MAX),
            }
        )
    return rows


def template(name: str, language: str, text: str) -> Payload:
    """A utility template whose one body parameter is ``text`` (Meta forbids newlines in parameters)."""
    return {"type": "template", "name": name, "language": language, "params": [fit(text, TEMPLATE_PARAM_MAX)]}
