"""Where people are paid out to: the banks and mobile-money wallets they name in chat, per country.

Data in ``domain/data/banks.json`` (operators extend it). Names are matched the way people type
them: lower-cased, accents and punctuation dropped, filler words ("bank", "plc"…) ignored and
spaces squeezed, so "GT Bank", "gtbank" and "Guaranty Trust Bank PLC" meet. An exact alias in
any run of the words (or the bank's code) wins; otherwise ``rapidfuzz`` forgives a typo in the
whole name when it has four letters or more, refusing a guess close to two different entries.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol, TypeVar

from rapidfuzz import fuzz, process

#: Score (0-100, ``fuzz.ratio``) a typed name needs to be taken for an alias.
FUZZY_CUTOFF = 80.0
#: A fuzzy best match must beat the best match of any *other* entry by this much.
FUZZY_MARGIN = 5.0
#: Shorter keys ("uba", "gtb") must match exactly: one typo makes another bank's initials.
FUZZY_MIN_LENGTH = 4
#: Longest run of words of a message tried as a name.
MAX_NAME_WORDS = 4
_FILLER = frozenset({"bank", "plc", "ltd", "limited", "the", "nigeria", "ghana"})
_NON_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class Bank:
    """A bank (or bank-like wallet such as OPay in Nigeria) that takes payouts to account numbers."""

    country: str
    code: str
    """The code the country's payout gateways use, unless ``gateway_codes`` says otherwise."""
    name: str
    aliases: tuple[str, ...]
    gateway_codes: tuple[tuple[str, str], ...] = ()

    def code_at(self, gateway: str) -> str:
        """This bank's code at ``gateway`` (``paystack``, ``flutterwave``…)."""
        return dict(self.gateway_codes).get(gateway, self.code)


@dataclass(frozen=True, slots=True)
class MobileMoneyNetwork:
    """A mobile-money wallet service that takes payouts to phone numbers."""

    country: str
    network: str
    """Our id for it: the mobile network's id in ``countries.json`` (or the wallet's, e.g. ``WAVE``)."""
    name: str
    aliases: tuple[str, ...]
    gateway_codes: tuple[tuple[str, str], ...] = ()

    def code_at(self, gateway: str) -> str | None:
        """This wallet's code at ``gateway``; None when that gateway does not pay out to it."""
        return dict(self.gateway_codes).get(gateway)


@dataclass(frozen=True, slots=True)
class _Directory:
    """One country's entries and its account-number rule."""

    banks: tuple[Bank, ...]
    networks: tuple[MobileMoneyNetwork, ...]
    min_digits: int
    max_digits: int


class _Named(Protocol):
    @property
    def aliases(self) -> tuple[str, ...]: ...


_Entry = TypeVar("_Entry", bound=_Named)


def name_key(text: str) -> str:
    """A name as matching sees it: "Guaranty Trust Bank PLC" → "guarantytrust"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = _NON_WORD.sub(" ", plain.replace("&", " and ")).split()
    return "".join(word for word in words if word not in _FILLER)


def _codes(raw: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in raw.get("codes", {}).items()))


def _directory(country: str, raw: dict[str, Any]) -> _Directory:
    rule = raw.get("account_number", {})
    banks = tuple(
        Bank(country, str(b["code"]), str(b["name"]), tuple(b["aliases"]), _codes(b))
        for b in raw.get("banks", ())
    )
    networks = tuple(
        MobileMoneyNetwork(country, str(n["network"]), str(n["name"]), tuple(n["aliases"]), _codes(n))
        for n in raw.get("mobile_money", ())
    )
    return _Directory(banks, networks, int(rule.get("min_digits", 0)), int(rule.get("max_digits", 0)))


@cache
def _directories() -> dict[str, _Directory]:
    text = resources.files("domain.data").joinpath("banks.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return {code: _directory(code, entry) for code, entry in raw.items() if len(code) == 2}


def _of(country: str) -> _Directory | None:
    return _directories().get(country.upper())


def banks(country: str) -> tuple[Bank, ...]:
    """The banks we know in ``country`` (empty where we pay out to no bank)."""
    found = _of(country)
    return found.banks if found else ()


def mobile_money_networks(country: str) -> tuple[MobileMoneyNetwork, ...]:
    """The mobile-money wallets ``country`` pays out to (empty where none)."""
    found = _of(country)
    return found.networks if found else ()


def bank_by_code(country: str, code: str) -> Bank | None:
    """The bank whose code (ours or any gateway's) is ``code``."""
    return next((b for b in banks(country) if code == b.code or code in dict(b.gateway_codes).values()), None)


def _windows(words: list[str]) -> list[str]:
    """Runs of up to ``MAX_NAME_WORDS`` consecutive words, longest first (so "first city" beats "first")."""
    spans = range(min(len(words), MAX_NAME_WORDS), 0, -1)
    return [" ".join(words[i : i + n]) for n in spans for i in range(len(words) - n + 1)]


@cache
def _index(entries: tuple[_Named, ...]) -> dict[str, int]:
    """Alias key → index of its entry."""
    return {name_key(alias): i for i, entry in enumerate(entries) for alias in entry.aliases}


def _fuzzy(key: str, index: dict[str, int]) -> int | None:
    if len(key) < FUZZY_MIN_LENGTH:
        return None
    candidates = [k for k in index if len(k) >= FUZZY_MIN_LENGTH]
    hits = process.extract(key, candidates, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=None)
    if not hits:
        return None
    best_key, best_score, _ = hits[0]
    rival = max((score for k, score, _ in hits if index[k] != index[best_key]), default=0.0)
    return index[best_key] if best_score - rival >= FUZZY_MARGIN else None


def _match(entries: tuple[_Entry, ...], text: str) -> _Entry | None:
    """The entry ``text`` names: an exact alias in any run of its words, else a fuzzy match of it all."""
    index = _index(entries)
    words = [w for w in _NON_WORD.sub(" ", text.lower()).split() if not w.isdigit()]
    keys = [key for key in (name_key(window) for window in _windows(words)) if key]
    for key in keys:
        if key in index:
            return entries[index[key]]
    # Fuzzy only on the whole text: a single word of it ("money") is too easily close to an alias.
    found = _fuzzy(keys[0], index) if keys else None
    return entries[found] if found is not None else None


def find_bank(country: str, text: str) -> Bank | None:
    """The bank ``text`` names in ``country`` ("gtb", "first bank", "zenit", "058"); None if unsure."""
    stripped = text.strip()
    if stripped.isdigit():
        return bank_by_code(country, stripped)
    return _match(banks(country), text)


def find_mobile_money_network(country: str, text: str) -> MobileMoneyNetwork | None:
    """The wallet ``text`` names in ``country`` ("momo", "vodafone cash", "orange money"); None if unsure."""
    return _match(mobile_money_networks(country), text)


def mobile_money_network(country: str, network: str) -> MobileMoneyNetwork | None:
    """The wallet of our network id ``network`` (e.g. from a phone number's network guess)."""
    wanted = network.upper()
    return next((n for n in mobile_money_networks(country) if n.network == wanted), None)


def normalize_account_number(country: str, text: str) -> str | None:
    """The digits of a bank account number as typed ("0123 456-789"), if ``country``'s rule allows them."""
    digits = re.sub(r"[\s\-.]", "", text)
    found = _of(country)
    if found is None or not found.banks or not digits.isdigit():
        return None
    return digits if found.min_digits <= len(digits) <= found.max_digits else None


def account_number_ok(country: str, number: str) -> bool:
    """True when ``number`` is a bank account number in ``country`` (a NUBAN is 10 digits)."""
    return normalize_account_number(country, number) is not None
