"""Replies in the user's language: gettext catalogs from ``locales/`` and Babel formatting."""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_DOWN, Decimal
from functools import cache, lru_cache
from io import BytesIO
from pathlib import Path

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_datetime, format_time, get_timezone
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_symbol
from babel.support import Translations

from domain.countries import Country
from domain.money import Money, MoneyError, minor_digits

#: Languages we reply in. Nigerian Pidgin is understood and answered in English.
REPLY_LANGUAGES = ("en", "fr", "pt")
LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

#: Babel's CVE symbol is a zero-width space: spell the code out instead. Its LRD symbol is a bare
#: "$", which reads as US dollars where both circulate: write Liberian dollars "L$", as Liberians do.
_CURRENCY_PATTERNS = {"CVE": "#,##0.00\u00a0¤¤", "LRD": "L$#,##0.00"}
_CURRENCY_SIGNS = {"CVE": "CVE", "LRD": "L$"}


def reply_language(language: str | None) -> str:
    """The language we answer in for a detected or chosen ``language``."""
    if language in REPLY_LANGUAGES:
        return language
    return "en"


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Load ``locales/<language>/LC_MESSAGES/messages.po`` (compiled in memory, cached)."""
    po_path = LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def _locale(language: str, country_code: str | None) -> Locale:
    candidates = [f"{language}_{country_code}"] if country_code else []
    candidates.append(language)
    for name in candidates:
        try:
            return Locale.parse(name)
        except (UnknownLocaleError, ValueError):
            continue
    return Locale.parse("en")


@dataclass(frozen=True, slots=True)
class Localizer:
    """Translate and format for one user: their language and their country's conventions."""

    language: str
    locale: Locale
    catalog: gettext.NullTranslations
    zone: tzinfo = UTC
    """The time zone of the user's country, for times they act on (until when, by when)."""

    def _(self, message: str, **values: object) -> str:
        """Translate ``message`` and fill its ``%(name)s`` placeholders."""
        translated = self.catalog.gettext(message)
        return translated % values if values else translated

    def n_(self, singular: str, plural: str, count: int, **values: object) -> str:
        """Translate a message whose wording depends on ``count`` (fill ``%(name)s`` as ``_``)."""
        return self.catalog.ngettext(singular, plural, count) % values

    def money(self, amount: Money) -> str:
        """Format exactly (amounts are whole minor units, so Babel never has to round)."""
        return _formatted_money(amount, self.locale)

    def currency(self, code: str) -> str:
        """A currency as people here write it: its sign ("F CFA", "UM", "₦"), or a clearer one
        where Babel's is blank (CVE) or reads as another currency (LRD)."""
        return _CURRENCY_SIGNS.get(code) or str(get_currency_symbol(code, locale=self.locale))

    def bad_amount(self, amount: Decimal | None, currency: str) -> str:
        """Why ``amount`` is no sum of ``currency`` to pay: too many decimals (F CFA has none), or
        not an amount at all."""
        sign = self.currency(currency)
        if amount is not None and amount.is_finite() and amount > 0:
            try:
                digits = minor_digits(currency)
            except MoneyError:
                digits = 2
            if amount != amount.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_DOWN):
                if digits == 0:
                    return self._(
                        "%(currency)s amounts have no decimals: please send a whole number.", currency=sign
                    )
                return self._("%(currency)s amounts have at most two decimals.", currency=sign)
        return self._("That amount is not valid in %(currency)s.", currency=sign)

    def number(self, value: Decimal) -> str:
        """A plain number as the user's locale writes it ("20,000", "20 000")."""
        return str(format_decimal(value, locale=self.locale))

    def country(self, code: str) -> str:
        """A country's name in the user's language ("Senegal", "Sénégal", "Senegal")."""
        return str(self.locale.territories.get(code, code))

    def when(self, moment: datetime) -> str:
        """A short localized date and time in the user's time zone (a naive moment is UTC)."""
        return format_datetime(moment, "d MMM HH:mm", tzinfo=self.zone, locale=self.locale)

    def clock(self, moment: datetime) -> str:
        """A moment in the user's time zone: the time of day when it is today there, else date and time."""
        local = moment.astimezone(self.zone)
        if local.date() == datetime.now(self.zone).date():
            return format_time(local, "short", tzinfo=self.zone, locale=self.locale)
        return format_datetime(local, "d MMM HH:mm", tzinfo=self.zone, locale=self.locale)


def localizer(language: str | None, country: Country | None) -> Localizer:
    """The localizer for a user who speaks ``language`` in ``country`` (shared, it is immutable)."""
    return _localizer(reply_language(language), country.code if country else None)


@cache
def _localizer(language: str, country_code: str | None) -> Localizer:
    return Localizer(language, _locale(language, country_code), translations(language), _zone(country_code))


def _zone(country_code: str | None) -> tzinfo:
    """The main time zone of a country (CLDR's first for the territory), UTC when unknown."""
    zones = get_global("territory_zones").get(country_code or "", ())
    return get_timezone(zones[0]) if zones else UTC


# Formatting is a pure function of its inputs and costs tens of microseconds in Babel and
# phonenumbers; the same prices, balances and numbers come back turn after turn.
@lru_cache(maxsize=4096)
def _formatted_money(amount: Money, locale: Locale) -> str:
    text = format_currency(
        amount.major,
        amount.currency,
        format=_CURRENCY_PATTERNS.get(amount.currency),
        locale=locale,
        currency_digits=True,
    )
    return _LETTERS_BEFORE_DIGITS.sub("\\1\u00a0\\2", text, count=1)


# CLDR's currency spacing, which Babel does not apply: a symbol made of letters is kept apart from
# the digits ("F CFA 10,000", "GNF 10,000", not "F CFA10,000"). One-letter symbols stay as people
# write them ("D50.00").
_LETTERS_BEFORE_DIGITS = re.compile(r"^(\D*?[^\W\d_]{2})(\d)")


@lru_cache(maxsize=4096)
def display_phone(e164: str) -> str:
    """A phone number in readable international form, e.g. ``+234 803 123 4567``."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return _in_pairs(number, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))


#: Where people write a mobile number in pairs of digits though libphonenumber groups it otherwise
#: (Côte d'Ivoire's ten digits: "07 07 08 09 10", not "07 07 08 0910").
_PAIRED = frozenset({"CI"})


def _in_pairs(number: phonenumbers.PhoneNumber, formatted: str) -> str:
    """``formatted`` with its national digits in pairs where that is the local habit."""
    national = phonenumbers.national_significant_number(number)
    if phonenumbers.region_code_for_number(number) not in _PAIRED or len(national) % 2:
        return formatted
    pairs = " ".join(national[i : i + 2] for i in range(0, len(national), 2))
    return f"+{number.country_code} {pairs}" if formatted.startswith("+") else pairs


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


def example_airtime(country: Country) -> Money:
    """A typical airtime amount to show in examples: ten times the first network's minimum."""
    low = country.networks[0].airtime_min
    return Money(low.minor * 10, low.currency)


@cache
def example_phone(country: str) -> str:
    """A sample mobile number of ``country`` in the local format people type."""
    number = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if number is None:
        return ""
    return _in_pairs(number, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
