"""Parse one chat message into an intent and entities: amount, currency, phone, network, data size."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from conversations.intents import Intent
from conversations.vocabulary import (
    DATA_WORD_WEIGHT,
    LANGUAGES,
    WORD_RE,
    CurrencyMarker,
    fold,
    load_common,
    load_language,
    phrase_key,
)
from domain.countries import COUNTRY_CODES, get_country
from domain.phones import country_of_phone, guess_network, normalize_phone

#: Characters of a message the parser looks at; chat messages that matter are far shorter.
MAX_TEXT = 600
#: Word tokens of a message the parser looks at.
MAX_TOKENS = 80

_MAX_NUMBER_DIGITS = 15
_MIN_PHONE_DIGITS = 7
_MAX_PHONE_DIGITS = 15
_MAX_RUN_GROUPS = 8
_SHORT_TOKEN = 4
_RATIO_CUTOFF = 85.0

# An area code in brackets, "(025) 123456", is part of the number that follows it.
_RUN_RE = re.compile(r"\+?(?:\([0-9]{1,4}\) ?)?[0-9](?:(?:[ \-.\u00a0\u202f]|\) ?)?[0-9])*")
_GROUP_RE = re.compile(r"\+?[0-9]+")
_GROUPED_THOUSANDS = re.compile(r"[0-9]{1,3}(?:([ .\u00a0\u202f])[0-9]{3})(?:\1[0-9]{3})*")
_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " "})

_ACTIONS = (
    Intent.TALK_TO_AGENT,
    Intent.RESET_PIN,
    Intent.VERIFY_IDENTITY,
    Intent.GIFT,
    Intent.FUND_WALLET,
    Intent.PAY_BILL,
)
_PRODUCTS = (Intent.BUY_DATA, Intent.BUY_AIRTIME, Intent.SEND_MONEY)
_QUERIES = (Intent.CHECK_BALANCE, Intent.HISTORY)
_REPLIES = (
    Intent.CHANGE_NETWORK,
    Intent.CANCEL,
    Intent.CONFIRM,
    Intent.REPEAT_ORDER,
    Intent.HELP,
    Intent.THANKS,
)
# With an amount, size or phone in the message, a purchase outranks a question; without, not.
_PRIORITY_WITH_ENTITIES = (*_ACTIONS, *_PRODUCTS, *_QUERIES, *_REPLIES)
_PRIORITY_WITHOUT = (*_ACTIONS, *_QUERIES, *_PRODUCTS, *_REPLIES)
_CONFIDENCE = {3: 0.95, 2: 0.85, 1: 0.6}


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one message says: the intent and every entity the parser could read from it."""

    intent: Intent
    amount: Decimal | None = None
    currency: str | None = None
    phone: str | None = None
    network: str | None = None
    network_guess: str | None = None
    data_mb: int | None = None
    own_number: bool = False
    """The message speaks of the sender's own phone ("for me", "mon numéro")."""
    validity_days: int | None = None
    """How long the data bundle asked for should last ("monthly", "7 jours", "24h"), in days."""
    country: str | None = None
    language: str | None = None
    confidence: float = 0.0
    strength: int = 0
    """How plainly a word named the intent: 3 strong ("transfer money"), 2 normal, 1 weak ("send"), 0 none."""
    flags: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class _Entry:
    """Everything one vocabulary word or phrase means in one country's lexicon."""

    intents: tuple[tuple[Intent, int], ...] = ()
    network: str | None = None
    country: str | None = None
    own_number: bool = False
    validity_days: int | None = None
    evidence: tuple[tuple[str, int], ...] = ()
    corrects: frozenset[str] = frozenset()
    """The slots this phrase says were wrong ("wrong number": phone), or ``any`` ("i mean")."""


class _EntryBuilder:
    """Collects the meanings of one phrase across languages before freezing them."""

    def __init__(self) -> None:
        self.intents: dict[Intent, int] = {}
        self.network: str | None = None
        self.country: str | None = None
        self.own_number = False
        self.validity_days: int | None = None
        self.corrects: set[str] = set()
        self.vocab_langs: set[str] = set()
        self.marker_langs: set[str] = set()

    def add_intent(self, intent: Intent, weight: int, language: str | None) -> None:
        self.intents[intent] = max(weight, self.intents.get(intent, 0))
        if language:
            self.vocab_langs.add(language)

    def freeze(self) -> _Entry:
        evidence: dict[str, int] = {}
        if len(self.vocab_langs) == 1:
            evidence[next(iter(self.vocab_langs))] = 1
        if len(self.marker_langs) == 1:
            lang = next(iter(self.marker_langs))
            evidence[lang] = evidence.get(lang, 0) + 2
        return _Entry(
            intents=tuple(self.intents.items()),
            network=self.network,
            country=self.country,
            own_number=self.own_number,
            validity_days=self.validity_days,
            evidence=tuple(evidence.items()),
            corrects=frozenset(self.corrects),
        )


@dataclass(frozen=True, slots=True)
class _Lexicon:
    """Lookup tables for one country: exact phrases, fuzzy targets and words never fuzzed."""

    country: str
    default_language: str | None
    currency: str | None
    phrases: dict[str, _Entry]
    phrase_starts: frozenset[str]
    max_phrase: int
    short_targets: dict[str, tuple[str, ...]]
    long_targets: tuple[str, ...]
    no_fuzzy: frozenset[str]


def _intent_entries(
    builders: dict[str, _EntryBuilder],
    intents: dict[Intent, dict[int, tuple[str, ...]]],
    language: str | None,
) -> None:
    for intent, tiers in intents.items():
        for weight, keys in tiers.items():
            for key in keys:
                builders.setdefault(key, _EntryBuilder()).add_intent(intent, weight, language)


def _language_entries(builders: dict[str, _EntryBuilder], language: str) -> None:
    vocab = load_language(language)
    _intent_entries(builders, vocab.intents, language)
    for key in vocab.data_words:
        builders.setdefault(key, _EntryBuilder()).add_intent(Intent.BUY_DATA, DATA_WORD_WEIGHT, language)
    for key in vocab.own_number:
        builder = builders.setdefault(key, _EntryBuilder())
        builder.own_number = True
        builder.marker_langs.add(language)
    for key, days in vocab.validity.items():
        builders.setdefault(key, _EntryBuilder()).validity_days = days
    for key in vocab.markers:
        builders.setdefault(key, _EntryBuilder()).marker_langs.add(language)
    for slot, keys in vocab.corrections.items():
        for key in keys:
            builders.setdefault(key, _EntryBuilder()).corrects.add(slot)
    for code, names in vocab.countries.items():
        for key in names:
            builders.setdefault(key, _EntryBuilder()).country = code


def _network_entries(builders: dict[str, _EntryBuilder], country: str) -> None:
    served = get_country(country)
    for network in served.networks if served else ():
        for alias in (network.id, network.name, *network.aliases):
            key = phrase_key(alias)
            if key:
                builders.setdefault(key, _EntryBuilder()).network = network.id


def _fuzzy_targets(
    phrases: dict[str, _Entry], no_fuzzy: frozenset[str]
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    singles = [
        k
        for k, e in phrases.items()
        if " " not in k
        and len(k) >= 3
        and k not in no_fuzzy
        # A short validity word is too close to everyday ones ("dat", "weak") to correct into,
        # and so is a utility's acronym ("cest" is no "ceet", "ecv" no "ecg").
        and (e.intents or e.network or (e.validity_days and len(k) > _SHORT_TOKEN + 1))
        and not (len(k) <= _SHORT_TOKEN and dict(e.intents).keys() == {Intent.PAY_BILL})
    ]
    short: dict[str, list[str]] = {}
    for word in singles:
        if len(word) <= _SHORT_TOKEN + 1:
            short.setdefault(word[0], []).append(word)
    return {k: tuple(v) for k, v in short.items()}, tuple(w for w in singles if len(w) > 3)


@lru_cache(maxsize=32)
def _lexicon(country: str, languages: tuple[str, ...] = LANGUAGES) -> _Lexicon:
    """Build the lookup tables for ``country`` and ``languages`` once (cached)."""
    common = load_common()
    builders: dict[str, _EntryBuilder] = {}
    _intent_entries(builders, common.intents, None)
    for language in languages:
        _language_entries(builders, language)
    _network_entries(builders, country)
    phrases = {k: b.freeze() for k, b in builders.items()}
    no_fuzzy = common.no_fuzzy.union(
        *(load_language(lang).common_words for lang in languages),
        *(load_language(lang).markers for lang in languages),
    )
    short, long = _fuzzy_targets(phrases, no_fuzzy)
    served = get_country(country)
    return _Lexicon(
        country=country,
        default_language=served.default_language if served else None,
        currency=served.currency if served else _fallback_currency(country),
        phrases=phrases,
        phrase_starts=frozenset(k.split(" ", 1)[0] for k in phrases if " " in k),
        max_phrase=max((k.count(" ") + 1 for k in phrases), default=1),
        short_targets=short,
        long_targets=long,
        no_fuzzy=no_fuzzy,
    )


def _fallback_currency(country: str) -> str | None:
    """The currency of a country whose data is not loaded yet, from CLDR via babel."""
    try:
        from babel.numbers import get_territory_currencies

        found = get_territory_currencies(country)
    except Exception:  # babel raises on unknown territories; a currency is only a hint here
        return None
    return str(found[0]) if found else None


# --------------------------------------------------------------------------- fuzzy matching


def _same_digits(a: str, b: str) -> bool:
    return [c for c in a if c.isdigit()] == [c for c in b if c.isdigit()]


def _unique(lex: _Lexicon, words: Iterable[str]) -> str | None:
    """The one word all ``words`` stand for, or None when they mean different things."""
    found = {w: lex.phrases[w] for w in words}
    meanings = set(found.values())
    return next(iter(found)) if len(meanings) == 1 else None


def _fuzzy_short(lex: _Lexicon, token: str) -> str | None:
    targets = lex.short_targets.get(token[0], ())
    hits = process.extract(token, targets, scorer=OSA.distance, score_cutoff=1, limit=None)
    hits = [h for h in hits if _same_digits(token, h[0])]
    if not hits:
        return None
    best = min(h[1] for h in hits)
    return _unique(lex, (h[0] for h in hits if h[1] == best))


def _fuzzy_long(lex: _Lexicon, token: str) -> str | None:
    scored: dict[str, float] = {}
    for word, score, _ in process.extract(
        token, lex.long_targets, scorer=fuzz.ratio, score_cutoff=_RATIO_CUTOFF, limit=5
    ):
        scored[word] = score
    # fuzz.ratio scores a swap of two letters ("airtle") below the cutoff: accept those too.
    for word, _, _ in process.extract(token, lex.long_targets, scorer=OSA.distance, score_cutoff=1, limit=5):
        scored.setdefault(word, _RATIO_CUTOFF)
    scored = {w: s for w, s in scored.items() if _same_digits(token, w)}
    if not scored:
        return None
    best = max(scored.values())
    return _unique(lex, (w for w, s in scored.items() if s == best))


@lru_cache(maxsize=65536)
def _fuzzy(country: str, token: str) -> str | None:
    """The vocabulary word ``token`` is a typo of, if exactly one is close enough (cached)."""
    lex = _lexicon(country)
    letters = sum(c.isalpha() for c in token)
    if letters < 3 or token in lex.no_fuzzy or len(token) > 30:
        return None
    if len(token) <= _SHORT_TOKEN:
        return _fuzzy_short(lex, token)
    return _fuzzy_long(lex, token)


# --------------------------------------------------------------------------- phones


@lru_cache(maxsize=16384)
def _phone(digits: str, country: str) -> str | None:
    """Cached ``normalize_phone`` for a compact candidate."""
    return normalize_phone(digits, country)


@lru_cache(maxsize=16384)
def _network_guess(e164: str) -> str | None:
    owner = country_of_phone(e164)
    return guess_network(e164, owner) if owner else None


@dataclass(slots=True)
class _Scan:
    """Mutable state of one parse: the text with consumed spans blanked, and what was found."""

    text: str
    phones: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    def blank(self, start: int, end: int) -> None:
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]


def _phone_in_groups(groups: list[tuple[str, int, int]], country: str) -> Iterator[tuple[str, int, int]]:
    """Yield (E.164, start, end) for phones made of consecutive digit groups, longest first."""
    i = 0
    while i < len(groups):
        for j in range(len(groups) - 1, i - 1, -1):
            digits = "".join(g[0] for g in groups[i : j + 1])
            size = len(digits.lstrip("+"))
            if "+" in digits[1:] or not _MIN_PHONE_DIGITS <= size <= _MAX_PHONE_DIGITS:
                continue
            e164 = _phone(digits, country)
            if e164 is not None:
                yield e164, groups[i][1], groups[j][2]
                i = j
                break
        i += 1


def _phone_like(group: str) -> bool:
    digits = group.lstrip("+")
    return group.startswith("+") or len(digits) >= 9 or (group[0] == "0" and len(digits) >= 7)


def _scan_run(scan: _Scan, run: re.Match[str], country: str) -> None:
    groups = [
        (g.group(), run.start() + g.start(), run.start() + g.end()) for g in _GROUP_RE.finditer(run.group())
    ][:_MAX_RUN_GROUPS]
    found = list(_phone_in_groups(groups, country))
    for e164, start, end in found:
        scan.phones.append(e164)
        scan.blank(start, end)
    if found or _GROUPED_THOUSANDS.fullmatch(run.group()) or _round_figure(run.group()):
        return
    if _too_long_to_read(run.group()):
        scan.flags.add("huge_amount")  # no phone has that many digits: an amount beyond any range
        scan.blank(run.start(), run.end())
        return
    # A long digit run that is no valid phone must not turn into an amount either.
    scan.flags.add("invalid_phone")
    phone_like = [g for g in groups if _phone_like(g[0])]
    for _, start, end in phone_like or [(run.group(), run.start(), run.end())]:
        scan.blank(start, end)


def _round_figure(raw: str) -> bool:
    """A long round figure such as "1000000": an amount (far out of range), not a mistyped phone."""
    return raw.isdigit() and raw[0] != "0" and raw.endswith("000") and len(raw) <= _MAX_NUMBER_DIGITS


def _too_long_to_read(raw: str) -> bool:
    """Digits alone, more than any phone or amount we read has."""
    return raw.isdigit() and raw[0] != "0" and len(raw) > _MAX_NUMBER_DIGITS


def _find_phones(scan: _Scan, country: str) -> None:
    for run in list(_RUN_RE.finditer(scan.text)):
        raw = run.group()
        if len(raw) >= _MIN_PHONE_DIGITS and sum(c.isdigit() for c in raw) >= _MIN_PHONE_DIGITS:
            _scan_run(scan, run, country)


# --------------------------------------------------------------------------- amounts and sizes


@dataclass(frozen=True, slots=True)
class _Units:
    """The compiled quantity pattern and what its prefixes and suffixes mean."""

    pattern: re.Pattern[str]
    markers: dict[str, CurrencyMarker]
    data_units: dict[str, int]
    multipliers: dict[str, int]
    duration_units: dict[str, int]


def _alternation(words: Iterable[str]) -> str:
    unique = sorted(set(words), key=lambda w: (-len(w), w))
    return "|".join(re.escape(w).replace(r"\ ", "[ \u00a0]?") for w in unique)


@lru_cache(maxsize=1)
def _units() -> _Units:
    """Compile the amount/size pattern from the currency, unit and multiplier vocabulary."""
    common = load_common()
    markers: dict[str, CurrencyMarker] = {}
    for lang in LANGUAGES:
        markers.update({m.text: m for m in load_language(lang).currency_words})
    markers.update({m.text: m for m in common.currency_markers})
    prefixes = _alternation(m.text for m in markers.values() if m.prefix)
    suffixes = _alternation(
        [*(m.text for m in markers.values() if m.suffix), *common.data_units, *common.duration_units]
    )
    mults = _alternation(common.multipliers)
    pattern = re.compile(
        rf"(?:(?<![^\W\d_])(?P<pre>{prefixes})(?P<psp>[ \u00a0]?)(?=[0-9]))?"
        r"(?<![0-9])(?P<num>[0-9]+(?:[.,][0-9]{1,3}(?![0-9])|[ \u00a0\u202f][0-9]{3}(?![0-9]))*)"
        rf"(?:[ \u00a0]?(?P<mult>{mults})(?![^\W\d_]))?"
        rf"(?:(?P<ssp>[ \u00a0-]?)(?P<suf>{suffixes})(?![^\W\d_]))?"
        r"(?![0-9])"
    )
    return _Units(
        pattern, markers, dict(common.data_units), dict(common.multipliers), dict(common.duration_units)
    )


def _decimal(raw: str, has_multiplier: bool) -> Decimal | None:
    """Read "1,500", "1.500", "1 500", "2,5", "10.50" as an exact Decimal."""
    if raw.isdigit():
        return Decimal(raw) if len(raw) <= _MAX_NUMBER_DIGITS else None
    text = raw.translate(_SPACES).replace(" ", "")
    if sum(c.isdigit() for c in text) > _MAX_NUMBER_DIGITS:
        return None
    seps = [c for c in text if c in ".,"]
    if seps:
        last = seps[-1]
        whole, _, tail = text.rpartition(last)
        grouping = len(set(seps)) == 1 and (
            len(seps) > 1 or (len(tail) == 3 and not has_multiplier and whole.lstrip("0") != "")
        )
        decimal = whole.replace(".", "").replace(",", "") + "." + tail
        text = text.replace(last, "") if grouping else decimal
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _integral(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def _currency_of(marker: CurrencyMarker, spaced: bool, local: str | None) -> str | None:
    """Pick the currency a marker names: the country's own if it is a candidate."""
    if local in marker.currencies:
        return local
    if marker.attached_only and spaced:
        return None
    return marker.currencies[0]


@dataclass(slots=True)
class _Quantities:
    """Amounts, data sizes and lengths of time (in days) found in a message, in order."""

    amounts: list[tuple[Decimal, str | None]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    days: list[int] = field(default_factory=list)


def _glued_word(lex: _Lexicon, text: str, start: int, end: int) -> bool:
    """Whether a number glued to letters is part of a word such as "9mobile" or "9mobil"."""
    match = WORD_RE.match(text, start)
    if match is None or match.end() <= end:
        return False
    word = match.group()
    return word in lex.phrases or _fuzzy(lex.country, word) is not None


def _read_quantity(m: re.Match[str], units: _Units, lex: _Lexicon, found: _Quantities) -> bool:
    mult = units.multipliers.get(m.group("mult") or "", 1)
    value = _decimal(m.group("num"), mult != 1)
    if value is None:
        return False
    value *= mult
    suffix, prefix = m.group("suf"), m.group("pre")
    if suffix and suffix in units.data_units:
        mb = (value * units.data_units[suffix]).to_integral_value(rounding=ROUND_HALF_UP)
        found.sizes.append(int(mb))
        return True
    if suffix and suffix in units.duration_units:
        hours = value * units.duration_units[suffix]
        found.days.append(max(1, int((hours / 24).to_integral_value(rounding=ROUND_CEILING))))
        return True
    currency = None
    if prefix:
        currency = _currency_of(units.markers[prefix], bool(m.group("psp")), lex.currency)
    if currency is None and suffix:
        currency = _currency_of(units.markers[suffix], bool(m.group("ssp")), lex.currency)
    found.amounts.append((_integral(value), currency))
    return True


#: Cabo Verde writes escudos with the sign between units and cents: "200$00", "1.500$00".
_ESCUDOS = re.compile(r"(?<![0-9.,$])([0-9]{1,3}(?:[. \u00a0][0-9]{3})+|[0-9]+)\$([0-9]{2})(?![0-9])")


def _find_escudos(scan: _Scan, found: _Quantities) -> None:
    for m in list(_ESCUDOS.finditer(scan.text)):
        whole = re.sub(r"[^0-9]", "", m.group(1))
        found.amounts.append((_integral(Decimal(f"{whole}.{m.group(2)}")), "CVE"))
        scan.blank(m.start(), m.end())


def _negative(text: str, start: int) -> bool:
    """Whether a quantity at ``start`` has a minus sign of its own ("-500", not "1-500")."""
    return start > 0 and text[start - 1] in "-−" and (start < 2 or not text[start - 2].isalnum())


def _find_quantities(scan: _Scan, lex: _Lexicon) -> _Quantities:
    units, found = _units(), _Quantities()
    if lex.currency == "CVE":
        _find_escudos(scan, found)
    for m in list(units.pattern.finditer(scan.text)):
        if not m.group("suf") and _glued_word(lex, scan.text, m.start("num"), m.end()):
            continue
        if _negative(scan.text, m.start()):
            scan.flags.add("negative_amount")  # "-500" is no amount to buy, not 500 either
            scan.blank(m.start() - 1, m.end())
            continue
        if _read_quantity(m, units, lex, found):
            scan.blank(m.start(), m.end())
    return found


# --------------------------------------------------------------------------- words


@dataclass(slots=True)
class _Words:
    """What the words of a message say: intent weights, network, country, language evidence."""

    scores: dict[Intent, int] = field(default_factory=dict)
    network: str | None = None
    country: str | None = None
    own_number: bool = False
    validity_days: int | None = None
    languages: dict[str, int] = field(default_factory=dict)
    fuzzy: int = 0
    corrects: set[str] = field(default_factory=set)


def _apply(words: _Words, entry: _Entry) -> None:
    for intent, weight in entry.intents:
        if weight > words.scores.get(intent, 0):
            words.scores[intent] = weight
    if entry.network and words.network is None:
        words.network = entry.network
    if entry.country and words.country is None:
        words.country = entry.country
    words.own_number = words.own_number or entry.own_number
    if entry.validity_days and words.validity_days is None:
        words.validity_days = entry.validity_days
    for lang, points in entry.evidence:
        words.languages[lang] = words.languages.get(lang, 0) + points
    words.corrects.update(entry.corrects)


def _phrase_at(lex: _Lexicon, tokens: list[str], i: int) -> tuple[_Entry, int] | None:
    for size in range(min(lex.max_phrase, len(tokens) - i), 1, -1):
        entry = lex.phrases.get(" ".join(tokens[i : i + size]))
        if entry is not None:
            return entry, size
    return None


def _word_entry(lex: _Lexicon, token: str) -> tuple[_Entry | None, bool]:
    entry = lex.phrases.get(token)
    if entry is not None or token.isdigit():
        return entry, False
    corrected = _fuzzy(lex.country, token)
    return (lex.phrases[corrected], True) if corrected else (None, False)


def _read_words(lex: _Lexicon, text: str) -> _Words:
    tokens = WORD_RE.findall(text)[:MAX_TOKENS]
    words = _Words()
    i = 0
    while i < len(tokens):
        token = tokens[i]
        phrase = _phrase_at(lex, tokens, i) if token in lex.phrase_starts else None
        if phrase is not None:
            _apply(words, phrase[0])
            i += phrase[1]
            continue
        entry, fuzzed = _word_entry(lex, token)
        if entry is not None:
            _apply(words, entry)
            words.fuzzy += fuzzed
        i += 1
    return words


# --------------------------------------------------------------------------- decisions


def _choose(scores: dict[Intent, int], entities: bool) -> tuple[Intent, int]:
    if not scores:
        return Intent.UNKNOWN, 0
    best = max(scores.values())
    order = _PRIORITY_WITH_ENTITIES if entities else _PRIORITY_WITHOUT
    return next(i for i in order if scores.get(i) == best), best


def _intent(words: _Words, q: _Quantities, phone: str | None, lex: _Lexicon) -> tuple[Intent, int]:
    scores = dict(words.scores)
    if q.sizes:
        scores[Intent.BUY_DATA] = max(scores.get(Intent.BUY_DATA, 0), DATA_WORD_WEIGHT)
    entities = bool(q.amounts or q.sizes)
    if entities:
        for query in _QUERIES:
            if query in scores:
                scores[query] = 1
    intent, weight = _choose(scores, entities or phone is not None)
    if intent in (Intent.SEND_MONEY, Intent.REPEAT_ORDER) and q.sizes and not q.amounts:
        return Intent.BUY_DATA, weight
    # "saldo 500 para 955…": with an amount and a number, a balance word means credit to buy;
    # "buy 500 again for 0803…" is that purchase, not the last one again.
    implicit = intent in (Intent.UNKNOWN, Intent.HELP, Intent.THANKS, Intent.REPEAT_ORDER, *_QUERIES) or (
        intent in (Intent.CONFIRM, Intent.CANCEL) and weight == 1
    )
    if implicit and q.amounts and (phone or words.network):
        return Intent.BUY_AIRTIME, 1
    if _credit_meant(intent, weight, words, phone, lex):
        return Intent.BUY_AIRTIME, weight
    corrects = q.amounts or q.days or phone or words.network or words.validity_days or words.own_number
    if intent in (Intent.CONFIRM, Intent.CANCEL) and weight == 1 and corrects:
        return Intent.UNKNOWN, 0  # "no, make it 0809…", "ok, 1000": a correction, not a bare yes or no
    return intent, weight


def _credit_meant(intent: Intent, weight: int, words: _Words, phone: str | None, lex: _Lexicon) -> bool:
    """Whether a balance or send word is about phone credit: "quero saldo para 99…", "comprar
    saldo" (a balance has no recipient and nothing to buy), "transférer 500 de crédit au 77…",
    "send 500 credit to 0803…"; in Portuguese, where "saldo" is also the word for credit, a plain
    "manda 500 de saldo pro 99…" ("do meu saldo" says where money comes from: a transfer)."""
    scores = words.scores
    if intent is Intent.CHECK_BALANCE:
        return phone is not None or Intent.BUY_AIRTIME in scores
    if intent is not Intent.SEND_MONEY or phone is None:
        return False
    if scores.get(Intent.BUY_AIRTIME, 0) >= 2:  # "transférer 500 de crédit au 77…": credit is named
        return True
    credit = Intent.BUY_AIRTIME in scores or (Intent.CHECK_BALANCE in scores and lex.default_language == "pt")
    return weight == 1 and credit


def _language(words: _Words, lex: _Lexicon) -> str | None:
    scores = words.languages
    if not scores:
        return None
    best = max(scores.values())
    top = [lang for lang in LANGUAGES if scores.get(lang) == best]
    # Pidgin is English-based: any Pidgin marker outweighs the English words around it.
    if "pcm" in scores and top == ["en"]:
        return "pcm"
    if len(top) == 1:
        return top[0]
    return lex.default_language if lex.default_language in top else None


def _confidence(intent: Intent, weight: int, words: _Words, flags: set[str]) -> float:
    if intent is Intent.UNKNOWN:
        return 0.0
    score = _CONFIDENCE.get(weight, 0.6) - 0.1 * words.fuzzy - 0.1 * len(flags & {"ambiguous"})
    return round(max(score, 0.1), 2)


def _flags(scan: _Scan, q: _Quantities, words: _Words, country: str) -> set[str]:
    flags = set(scan.flags)
    if len(scan.phones) > 1:
        flags.add("multiple_phones")
    if len(q.amounts) > 1:
        flags.add("multiple_amounts")
    if len(q.sizes) > 1:
        flags.add("multiple_sizes")
    if words.fuzzy:
        flags.add("fuzzy")
    if scan.phones and country_of_phone(scan.phones[0]) != country:
        flags.add("foreign_phone")
    top = [w for w in words.scores.values() if w == max(words.scores.values(), default=0)]
    if len(top) > 1:
        flags.add("ambiguous")
    if words.corrects:
        flags.add("correction")
        flags.update(f"wrong:{slot}" for slot in words.corrects - {"any"})
    return flags


def _amount(q: _Quantities) -> tuple[Decimal | None, str | None]:
    marked = [a for a in q.amounts if a[1] is not None]
    first = marked[0] if marked else (q.amounts[0] if q.amounts else None)
    return first if first else (None, None)


def _parse(text: str, country: str) -> Parsed:
    code = country.upper() if country.upper() in COUNTRY_CODES else ""
    lex = _lexicon(code)
    scan = _Scan(fold(text[:MAX_TEXT]))
    _find_phones(scan, code)
    quantities = _find_quantities(scan, lex)
    words = _read_words(lex, scan.text)
    phone = scan.phones[0] if scan.phones else None
    intent, weight = _intent(words, quantities, phone, lex)
    amount, currency = _amount(quantities)
    flags = _flags(scan, quantities, words, code)
    return Parsed(
        intent=intent,
        amount=amount,
        currency=currency,
        phone=phone,
        network=words.network,
        network_guess=_network_guess(phone) if phone and not words.network else None,
        data_mb=quantities.sizes[0] if quantities.sizes else None,
        own_number=words.own_number,
        validity_days=quantities.days[0] if quantities.days else words.validity_days,
        country=words.country,
        language=_language(words, lex),
        confidence=_confidence(intent, weight, words, flags),
        strength=weight,
        flags=frozenset(flags),
    )


def parse(text: str, country: str) -> Parsed:
    """Parse one chat message sent from ``country`` (ISO code); never raises.

    Amounts are exact major units; ``currency`` is set only when the message names or
    symbolises one. ``network`` is a network the user named; ``network_guess`` comes from
    the phone number's prefix. Unknown countries still parse, without network names.
    """
    try:
        return _parse(text, country)
    except Exception:  # a chat bot must answer every message; a parser bug degrades to unknown
        return Parsed(intent=Intent.UNKNOWN, flags=frozenset({"parse_error"}))
