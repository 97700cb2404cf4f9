"""Phone numbers: normalize what users type to E.164, find their country and guess their network."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import PhoneNumberType, carrier
from phonenumbers.phonemetadata import PhoneMetadata

from domain.countries import COUNTRY_CODES, get_country

#: Longest input ``normalize_phone`` looks at; nothing longer can be a phone number.
MAX_PHONE_TEXT = 40

_SEPARATORS = re.compile(r"[\s\-.()/\u00a0\u202f]+")
_DIGITS = re.compile(r"\+?[0-9]+")
_MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Types phonenumbers checks before mobile: a number matching one of these is not mobile-ish.
_SPECIAL_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The compiled numbering plan of one of our countries, from phonenumbers' metadata."""

    region: str
    country_code: str
    national_prefix: str | None
    general: re.Pattern[str]
    mobile: re.Pattern[str]
    special: tuple[re.Pattern[str], ...]
    legacy_prefix: str | None = None
    """What a renumbering put in front of every number ("01" in Benin since 2024)."""

    def e164(self, national: str) -> str | None:
        """Return the E.164 form of a national significant number if it is mobile-ish here
        (a number from before a renumbering gets today's prefix)."""
        found = self._e164(national)
        if found is None and self.legacy_prefix:
            found = self._e164(self.legacy_prefix + national)
        return found

    def _e164(self, national: str) -> str | None:
        if not self.general.fullmatch(national) or not self.mobile.fullmatch(national):
            return None
        if any(p.fullmatch(national) for p in self.special):
            return None
        return f"+{self.country_code}{national}"

    def local(self, digits: str) -> str | None:
        """Return the E.164 form of a number dialled locally, with or without the trunk prefix."""
        found = self.e164(digits)
        prefix = self.national_prefix
        if found is None and prefix and digits.startswith(prefix):
            found = self.e164(digits[len(prefix) :])
        return found


def _pattern(desc: object) -> re.Pattern[str] | None:
    raw = getattr(desc, "national_number_pattern", None) if desc is not None else None
    return re.compile(raw) if raw else None


def _plan(region: str) -> _Plan | None:
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.country_code is None:
        return None
    general, mobile = _pattern(meta.general_desc), _pattern(meta.mobile)
    if general is None or mobile is None:
        return None
    special = tuple(p for p in (_pattern(getattr(meta, d, None)) for d in _SPECIAL_DESCS) if p)
    return _Plan(
        region=region,
        country_code=str(meta.country_code),
        national_prefix=meta.national_prefix or None,
        general=general,
        mobile=mobile,
        special=special,
        legacy_prefix=_LEGACY_PREFIXES.get(region),
    )


#: Renumberings people still dial the old way: Benin's eight-digit numbers became ten on
#: 30 November 2024 by taking "01" in front ("97 12 34 56" is now "01 97 12 34 56").
_LEGACY_PREFIXES = {"BJ": "01"}


@lru_cache(maxsize=1)
def _plans() -> dict[str, _Plan]:
    """Numbering plans of our countries, by ISO code (built once)."""
    plans = {code: _plan(code) for code in COUNTRY_CODES}
    return {code: plan for code, plan in plans.items() if plan is not None}


@lru_cache(maxsize=1)
def _plans_by_dialing_code() -> dict[str, _Plan]:
    return {plan.country_code: plan for plan in _plans().values()}


def _ours(digits: str) -> tuple[bool, str | None]:
    """Normalize digits that start with one of our countries' dialing codes: (was ours, E.164)."""
    by_code = _plans_by_dialing_code()
    for size in (3, 2, 1):
        plan = by_code.get(digits[:size])
        if plan is not None:
            return True, plan.e164(digits[size:])
    return False, None


def _international(digits: str) -> str | None:
    """Normalize digits that follow a ``+`` or international prefix."""
    ours, found = _ours(digits)
    return found if ours else _foreign("+" + digits)


@lru_cache(maxsize=4096)
def _foreign(text: str) -> str | None:
    """Normalize a number outside our countries with the full (slower) phonenumbers parser."""
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _digits_of(text: str) -> str | None:
    """Strip separators; return ``+digits`` or ``digits``, or None if anything else remains."""
    compact = _SEPARATORS.sub("", text[:MAX_PHONE_TEXT])
    if not _DIGITS.fullmatch(compact):
        return None
    return compact


def _local_or_prefixed(digits: str, plan: _Plan | None) -> str | None:
    """Normalize digits typed without ``+``: local first, then after one of our dialing codes."""
    if plan is not None:
        found = plan.local(digits)
        if found is not None:
            return found
    # Without a "+", only our own dialing codes count: a bare digit run is far likelier to be
    # a mistyped local number than a foreign one.
    return _ours(digits)[1] if len(digits) >= 9 else None


def normalize_phone(text: str, country: str) -> str | None:
    """Return ``text`` as an E.164 mobile number, reading local forms as dialled in ``country``.

    Accepts local forms ("08031234567", "0803 123 4567", "77 123 45 67"), international
    forms ("+234 803 123 4567", "00234...") and country-code-prefixed digits
    ("2348031234567"). Returns None unless the result is a valid mobile-ish number.
    """
    digits = _digits_of(text)
    if digits is None or len(digits.lstrip("+")) < 6 or len(digits) > 16:
        return None
    if digits.startswith("+"):
        return _international(digits[1:])
    plan = _plans().get(country.upper())
    if digits.startswith("00") and not (plan and plan.local(digits)):
        return _international(digits[3:] if digits.startswith("009") else digits[2:])
    return _local_or_prefixed(digits, plan)


def country_of_phone(e164: str) -> str | None:
    """Return the ISO code of the country (one of our 16) that owns the E.164 number ``e164``."""
    if not e164.startswith("+"):
        return None
    by_code = _plans_by_dialing_code()
    for size in (3, 2, 1):
        plan = by_code.get(e164[1 : 1 + size])
        if plan is not None:
            return plan.region
    return None


@lru_cache(maxsize=8192)
def _carrier_name(e164: str) -> str:
    """The original carrier phonenumbers records for the number's prefix ("" if unknown)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ""
    return str(carrier.name_for_number(number, "en"))


def guess_network(e164: str, country: str) -> str | None:
    """Guess our network id for ``e164`` from its prefix in ``country`` (None if unknown).

    With number portability this is only a guess: the number may have moved network.
    """
    served = get_country(country)
    if served is None or country_of_phone(e164) != served.code:
        return None
    name = _carrier_name(e164)
    if not name:
        return None
    network = served.network_for_carrier(name)
    return network.id if network is not None else None


def mask_phone(value: str | None, hidden: str = "*", *, empty: str = "") -> str:
    """A phone number, account number or chat id with every digit but the last four hidden and
    its separators kept, for logs and staff pages ("+234*******4567"); four digits or fewer are
    all hidden. ``empty`` stands for no number at all."""
    if not value:
        return empty
    digits = sum(ch.isdigit() for ch in value)
    shown_from = digits - 4 if digits > 4 else digits
    out, seen = [], 0
    for ch in value:
        if ch.isdigit():
            out.append(ch if seen >= shown_from else hidden)
            seen += 1
        else:
            out.append(ch)
    return "".join(out)
