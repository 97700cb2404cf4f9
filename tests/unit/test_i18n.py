"""Replies are formatted for the user's locale without ever rounding money."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from conversations.i18n import display_phone, localizer, reply_language
from domain.countries import get_country
from domain.money import Money


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\u00a0", " ")


@pytest.mark.parametrize(
    ("language", "country", "money", "expected"),
    [
        ("en", "NG", Money(150_050, "NGN"), "₦1,500.50"),
        ("fr", "SN", Money(1_000, "XOF"), "1 000 F CFA"),
        ("fr", "GN", Money(25_000, "GNF"), "25 000 FG"),
        ("pt", "CV", Money(20_000, "CVE"), "200,00 CVE"),
        ("en", "GH", Money(1_050, "GHS"), "GH₵10.50"),
        ("en", "GM", Money(5_000, "GMD"), "D50.00"),
        ("en", "SN", Money(10_000, "XOF"), "F CFA 10,000"),
        ("en", "GN", Money(10_000, "GNF"), "GNF 10,000"),
        ("en", "MR", Money(1_000, "MRU"), "MRU 10.00"),
        ("en", "SL", Money(1_000, "SLE"), "Le 10.00"),
        ("en", "LR", Money(20_000, "LRD"), "L$200.00"),  # not "$200.00", which reads as US dollars
        ("pt", "SN", Money(10_000, "XOF"), "F CFA 10.000"),
        ("fr", "NG", Money(150_050, "NGN"), "1 500,50 NGN"),
        ("pt", "NG", Money(150_050, "NGN"), "NGN 1.500,50"),
    ],
)
def test_money_is_formatted_for_the_locale(language: str, country: str, money: Money, expected: str) -> None:
    assert _plain(localizer(language, get_country(country)).money(money)) == expected


def test_xof_is_never_rounded_because_it_has_no_minor_units() -> None:
    t = localizer("fr", get_country("SN"))
    assert _plain(t.money(Money(1_501, "XOF"))) == "1 501 F CFA"


def test_pidgin_and_unknown_languages_are_answered_in_english() -> None:
    assert reply_language("pcm") == "en"
    assert reply_language(None) == "en"
    assert reply_language("fr") == "fr"


def test_translations_follow_the_language() -> None:
    assert localizer("fr", None)._("Cancel") == "Annuler"
    assert localizer("pt", None)._("Confirm") == "Confirmar"
    assert localizer("en", None)._("Confirm") == "Confirm"


def test_phone_numbers_are_shown_in_international_form() -> None:
    assert display_phone("+2348031234567") == "+234 803 123 4567"
    assert display_phone("+2250707080910") == "+225 07 07 08 09 10"  # Ivorians write pairs


def test_amounts_a_currency_cannot_hold_are_explained_in_its_local_sign() -> None:
    fr = localizer("fr", get_country("SN"))
    assert _plain(fr.bad_amount(Decimal("1000.5"), "XOF")) == (
        "Les montants en F CFA n'ont pas de décimales : envoyez un nombre entier."
    )
    en = localizer("en", get_country("NG"))
    assert en.bad_amount(Decimal("10.555"), "NGN") == "₦ amounts have at most two decimals."
    assert en.bad_amount(Decimal("0"), "NGN") == "That amount is not valid in ₦."
    assert en.currency("CVE") == "CVE" and en.currency("LRD") == "L$"
    assert _plain(fr.currency("XOF")) == "F CFA"


def test_history_times_are_shown_in_the_users_time_zone() -> None:
    moment = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    assert localizer("en", get_country("NG")).when(moment) == "28 Nov 00:30"  # Lagos, UTC+1
    assert localizer("fr", get_country("SN")).when(moment) == "27 nov. 23:30"  # Dakar, UTC
    assert localizer("en", get_country("NG")).when(moment.replace(tzinfo=None)) == "28 Nov 00:30"  # SQLite


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("en", "SN", "Senegal"),
        ("fr", "SN", "Sénégal"),
        ("pt", "CI", "Costa do Marfim"),
        ("en", "CV", "Cape Verde"),
    ],
)
def test_country_names_are_in_the_users_language(language: str, code: str, expected: str) -> None:
    assert localizer(language, get_country(code)).country(code) == expected
