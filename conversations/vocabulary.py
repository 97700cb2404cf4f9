"""Load the per-language parser vocabularies shipped as JSON in ``conversations/vocab``."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from conversations.intents import Intent

#: Languages we ship a vocabulary for, in the order ties are broken.
LANGUAGES: tuple[str, ...] = ("en", "pcm", "fr", "pt")

#: Keyword weights: a strong word names the intent, a weak one only hints at it.
WEIGHTS: dict[str, int] = {"strong": 3, "normal": 2, "weak": 1}

#: Weight a data word ("bundle", "forfait", "dados") gives to ``Intent.BUY_DATA``.
DATA_WORD_WEIGHT = 2

#: A word: letters and digits, or one pictograph ("👍" answers yes as well as "ok" does).
WORD_RE = re.compile(r"[^\W_]+|[\u2600-\u27bf\U0001f300-\U0001faff]")


def _fold_table() -> dict[int, str]:
    """Map accented Latin letters to their base letter, e.g. é → e, ç → c."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(code))[0]
        if base.isascii() and base != chr(code):
            table[code] = base.lower()
    table.update({ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss", ord("’"): "'"})
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents from Latin letters ("Crédito" → "credito")."""
    return text.lower().translate(_FOLD)


def phrase_key(text: str) -> str:
    """The lookup key of a word or phrase: folded word tokens joined by single spaces."""
    return " ".join(WORD_RE.findall(fold(text)))


@dataclass(frozen=True, slots=True)
class CurrencyMarker:
    """A symbol, code or word written next to an amount that names its currency."""

    text: str
    currencies: tuple[str, ...]
    prefix: bool
    suffix: bool
    attached_only: bool


@dataclass(frozen=True, slots=True)
class LanguageVocab:
    """One language's keywords per intent, data words, language markers and country names."""

    language: str
    intents: dict[Intent, dict[int, tuple[str, ...]]]
    data_words: tuple[str, ...]
    own_number: tuple[str, ...]
    """Phrases meaning the sender's own phone ("my number", "pour moi")."""
    validity: dict[str, int]
    """Words naming how long a data bundle lasts, in days ("monthly": 30, "par semaine": 7)."""
    around_language: frozenset[str]
    """Words that may stand around a language's name in a request to switch ("in English please")."""
    markers: tuple[str, ...]
    common_words: frozenset[str]
    countries: dict[str, tuple[str, ...]]
    currency_words: tuple[CurrencyMarker, ...]
    corrections: dict[str, tuple[str, ...]]
    """Words that correct what was just said, per slot they call wrong ("wrong number": ``phone``)
    or ``any`` ("i mean", "je voulais dire")."""


@dataclass(frozen=True, slots=True)
class CommonVocab:
    """Language-neutral vocabulary: currency symbols, data and time units, multipliers, universal replies."""

    currency_markers: tuple[CurrencyMarker, ...]
    data_units: dict[str, int]
    multipliers: dict[str, int]
    duration_units: dict[str, int]
    """Units written after a number for a length of time, in hours ("30 days", "24h", "7 jours")."""
    intents: dict[Intent, dict[int, tuple[str, ...]]]
    no_fuzzy: frozenset[str]


def _read(name: str) -> dict[str, Any]:
    text = resources.files("conversations.vocab").joinpath(f"{name}.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return raw


def _keys(words: list[str]) -> tuple[str, ...]:
    return tuple(k for k in (phrase_key(w) for w in words) if k)


def _intents(raw: dict[str, dict[str, list[str]]]) -> dict[Intent, dict[int, tuple[str, ...]]]:
    return {
        Intent(name): {WEIGHTS[tier]: _keys(words) for tier, words in tiers.items()}
        for name, tiers in raw.items()
    }


def _ask_person(raw: dict[str, list[str]]) -> tuple[str, ...]:
    """Every way of asking for a person: each verb phrase ("speak with") before each person ("someone")."""
    return _keys([f"{ask} {person}" for ask in raw.get("asks", []) for person in raw.get("people", [])])


def _with_person_asks(
    intents: dict[Intent, dict[int, tuple[str, ...]]], asks: tuple[str, ...]
) -> dict[Intent, dict[int, tuple[str, ...]]]:
    """The intents with the ways of asking for a person added to ``talk_to_agent``'s strong words."""
    tiers = dict(intents.get(Intent.TALK_TO_AGENT, {}))
    tiers[WEIGHTS["strong"]] = (*tiers.get(WEIGHTS["strong"], ()), *asks)
    return {**intents, Intent.TALK_TO_AGENT: tiers}


def _marker(raw: dict[str, Any]) -> CurrencyMarker:
    position = raw.get("position", "both")
    return CurrencyMarker(
        text=fold(raw["text"]),
        currencies=tuple(raw["currencies"]),
        prefix=position in ("pre", "both"),
        suffix=position in ("suf", "both"),
        attached_only=bool(raw.get("attached_only", False)),
    )


def _currency_words(raw: dict[str, list[str]]) -> tuple[CurrencyMarker, ...]:
    # A key such as "XOF GNF" lists candidates: the country's own currency wins, else the first.
    return tuple(
        CurrencyMarker(phrase_key(w), tuple(key.split()), True, True, False)
        for key, words in raw.items()
        for w in words
    )


@cache
def load_language(language: str) -> LanguageVocab:
    """Load the vocabulary of ``language`` (one of ``LANGUAGES``), cached."""
    raw = _read(language)
    return LanguageVocab(
        language=language,
        intents=_with_person_asks(_intents(raw.get("intents", {})), _ask_person(raw.get("ask_person", {}))),
        data_words=_keys(raw.get("data_words", [])),
        own_number=_keys(raw.get("own_number", [])),
        validity={key: int(days) for days, words in raw.get("validity", {}).items() for key in _keys(words)},
        around_language=frozenset(_keys(raw.get("around_language", []))),
        markers=_keys(raw.get("markers", [])),
        common_words=frozenset(_keys(raw.get("common_words", []))),
        countries={code: _keys(names) for code, names in raw.get("countries", {}).items()},
        currency_words=_currency_words(raw.get("currency_words", {})),
        corrections={slot: _keys(words) for slot, words in raw.get("corrections", {}).items()},
    )


@cache
def load_common() -> CommonVocab:
    """Load the language-neutral vocabulary, cached."""
    raw = _read("common")
    return CommonVocab(
        currency_markers=tuple(_marker(m) for m in raw.get("currency_markers", [])),
        data_units={fold(k): int(v) for k, v in raw.get("data_units", {}).items()},
        multipliers={fold(k): int(v) for k, v in raw.get("multipliers", {}).items()},
        duration_units={fold(k): int(v) for k, v in raw.get("duration_units", {}).items()},
        intents=_intents(raw.get("intents", {})),
        no_fuzzy=frozenset(_keys(raw.get("no_fuzzy", []))),
    )
