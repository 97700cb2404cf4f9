"""First contact: learn the user's country and language from what is known, ask only for the rest."""

from __future__ import annotations

import re
from functools import cache

from conversations.flows import Flow
from conversations.i18n import REPLY_LANGUAGES, reply_language
from conversations.intents import Intent
from conversations.messages import Button, ListRow, Reply
from conversations.parser import Parsed, parse
from conversations.turn import Turn
from conversations.vocabulary import LANGUAGES, load_language, phrase_key
from domain.countries import all_countries, get_country
from domain.phones import country_of_phone, normalize_phone
from domain.users import grant_opening_balance

AWAIT_COUNTRY = "await_country"
_INTERNATIONAL = re.compile(r"\+\s?\d[\d\s-]{6,}")
_LANGUAGE_NAMES = {"en": "English", "fr": "Français", "pt": "Português"}
_LANGUAGE_WORDS = {
    "english": "en", "anglais": "en", "inglês": "en", "ingles": "en",
    "french": "fr", "français": "fr", "francais": "fr", "francês": "fr", "frances": "fr",
    "portuguese": "pt", "português": "pt", "portugues": "pt", "portugais": "pt",
}  # fmt: skip
_LANGUAGE_KEYS = {phrase_key(word): code for word, code in _LANGUAGE_WORDS.items()}
_LANGUAGE_COMMANDS = ("/language", "language", "langue", "idioma", "língua", "lingua")


def country_from_message(turn: Turn, text: str, parsed: Parsed | None) -> str | None:
    """A country we can infer without asking: the channel's phone, a hint, a mention, a +number."""
    if turn.message.phone and (found := country_of_phone(turn.message.phone)):
        return found
    if turn.message.country_hint and get_country(turn.message.country_hint):
        return turn.message.country_hint.upper()
    if parsed is not None and parsed.country:
        return parsed.country
    stripped = text.strip().upper()
    if len(stripped) == 2 and get_country(stripped):
        return stripped
    match = _INTERNATIONAL.search(text)
    if match and (phone := normalize_phone(match.group(0), "NG")):
        return country_of_phone(phone)
    return None


def _is_request(text: str) -> bool:
    """True when the text asks for something (worth answering once the country is known)."""
    chatter = (Intent.UNKNOWN, Intent.HELP, Intent.THANKS, Intent.CONFIRM, Intent.CANCEL)
    return parse(text, "NG").intent not in chatter


def ask_country(turn: Turn, text: str) -> Reply:
    """Ask which country the user is in, keeping their request to answer afterwards."""
    slots = turn.slots
    if text.strip() and ("pending_text" not in slots or _is_request(text)):
        slots["pending_text"] = text
    turn.set_slots(slots, AWAIT_COUNTRY)
    t = turn.t
    rows = tuple(ListRow(f"country:{c.code}", t.country(c.code)) for c in all_countries().values())
    return Reply(
        t._("Welcome to NexusTop! Which country are you in?"), rows=rows, list_title=t._("Countries")
    )


async def settle(turn: Turn, country: str, language: str | None) -> tuple[list[Reply], str | None]:
    """Save the user's country (and language), welcome them; return any request they made first."""
    found = get_country(country)
    assert found is not None
    turn.user.country = found.code
    if not turn.user.language:
        turn.user.language = language if language in REPLY_LANGUAGES else found.default_language
    pending = turn.slots.get("pending_text")
    turn.reset()
    t = turn.t
    text = t._("Welcome to NexusTop! You're set up for %(country)s.", country=t.country(found.code))
    if turn.demo and await grant_opening_balance(turn.session, turn.user.id, found):
        text += "\n" + t._(
            "Your demo wallet has %(amount)s to try things out.", amount=t.money(found.demo_opening_balance)
        )
    return [Reply(text)], pending


def first_language(turn: Turn, parsed: Parsed | None) -> str | None:
    """The language to start a new user in: what their message reveals, else the channel's hint."""
    if parsed is not None and parsed.language:
        return reply_language(parsed.language)
    hint = (turn.message.language_hint or "")[:2].lower()
    return hint if hint in REPLY_LANGUAGES else None


def is_language_request(text: str) -> bool:
    """True when the user asks to change the reply language."""
    cleaned = text.strip().lower()
    return cleaned in _LANGUAGE_COMMANDS or _named_language(text) is not None


@cache
def _around_language() -> frozenset[str]:
    return frozenset().union(*(load_language(language).around_language for language in LANGUAGES))


def _named_language(text: str) -> str | None:
    """The language a short message asks for ("français", "in English please"), if it asks for one."""
    words = phrase_key(text).split()
    if not 0 < len(words) <= 6:
        return None
    named = {_LANGUAGE_KEYS[w] for w in words if w in _LANGUAGE_KEYS}
    others = (w for w in words if w not in _LANGUAGE_KEYS)
    if len(named) != 1 or not all(w in _around_language() for w in others):
        return None
    return named.pop()


def language_reply(turn: Turn, text: str) -> Reply:
    """Switch language when one is named; otherwise offer the choices."""
    chosen = _named_language(text)
    if chosen:
        return set_language(turn, chosen)
    buttons = tuple(Button(f"lang:{code}", name) for code, name in _LANGUAGE_NAMES.items())
    return Reply(turn.t._("Which language would you like?"), buttons=buttons)


def set_language(turn: Turn, language: str) -> Reply:
    """Switch the user's reply language."""
    if language not in REPLY_LANGUAGES:
        return Reply(turn.t._("That choice is no longer available."))
    turn.user.language = language
    return Reply(turn.t._("I'll reply in English from now on."))


async def _on_payload(turn: Turn, action: str, value: str) -> list[Reply]:
    return [set_language(turn, value)]


#: The language buttons (the country list is the engine's own: it comes before any flow).
LANGUAGE = Flow("language", actions=("lang",), on_payload=_on_payload)
