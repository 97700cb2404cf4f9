"""Table-driven tests for phone normalization, country lookup, network guessing and masking."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.countries import COUNTRY_CODES, get_country
from domain.phones import country_of_phone, guess_network, mask_phone, normalize_phone

NORMALIZE = [
    ("08031234567", "NG", "+2348031234567"),
    ("0803 123 4567", "NG", "+2348031234567"),
    ("0803-123-4567", "NG", "+2348031234567"),
    ("+234 803 123 4567", "NG", "+2348031234567"),
    ("+234 (0) 803 123 4567", "NG", None),
    ("2348031234567", "NG", "+2348031234567"),
    ("002348031234567", "NG", "+2348031234567"),
    ("8031234567", "NG", "+2348031234567"),
    ("77 123 45 67", "SN", "+221771234567"),
    ("+221 77 123 45 67", "SN", "+221771234567"),
    ("221771234567", "NG", "+221771234567"),
    ("0701234567", "CI", "+2250701234567"),
    ("0241234567", "GH", "+233241234567"),
    ("024 123 4567", "GH", "+233241234567"),
    ("9911234", "CV", "+2389911234"),
    ("3012345", "GM", "+2203012345"),
    ("601 12 34 56", "GN", "+224601123456"),
    ("0770123456", "LR", "+231770123456"),
    ("076 123456", "SL", "+23276123456"),
    ("22 12 34 56", "MR", "+22222123456"),
    ("01 97 12 34 56", "BJ", "+2290197123456"),
    ("97 12 34 56", "BJ", "+2290197123456"),  # dialled as before the 2024 renumbering
    ("+229 97 12 34 56", "BJ", "+2290197123456"),
    ("+44 7911 123456", "NG", "+447911123456"),
    ("01 234 5678", "NG", None),  # Lagos landline: not mobile
    ("0803123456", "NG", None),  # one digit short
    ("12345", "NG", None),
    ("", "NG", None),
    ("call me", "NG", None),
    ("0803123456a", "NG", None),
    ("9" * 500, "NG", None),
]


@pytest.mark.parametrize(("text", "country", "expected"), NORMALIZE)
def test_normalize_phone(text: str, country: str, expected: str | None) -> None:
    assert normalize_phone(text, country) == expected


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+2348031234567", "NG"),
        ("+221771234567", "SN"),
        ("+2250701234567", "CI"),
        ("+2389911234", "CV"),
        ("+447911123456", None),
        ("08031234567", None),
        ("", None),
    ],
)
def test_country_of_phone(e164: str, expected: str | None) -> None:
    assert country_of_phone(e164) == expected


@pytest.mark.parametrize(
    ("e164", "country", "expected"),
    [
        ("+2348031234567", "NG", "MTN"),
        ("+2348021234567", "NG", "AIRTEL"),
        ("+2348051234567", "NG", "GLO"),
        ("+2348091234567", "NG", "9MOBILE"),
        ("+221771234567", "SN", "ORANGE"),
        ("+221701234567", "SN", "EXPRESSO"),
        ("+233241234567", "GH", "MTN"),
        ("+2250701234567", "CI", "ORANGE"),
        ("+2348031234567", "SN", None),
        ("+2348031234567", "XX", None),
    ],
)
def test_guess_network(e164: str, country: str, expected: str | None) -> None:
    assert guess_network(e164, country) == expected


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        ("+2348031234567", "+*********4567"),
        ("+221771234567", "+********4567"),
        ("1234", "****"),
        ("", ""),
    ],
)
def test_mask_phone(e164: str, expected: str) -> None:
    assert mask_phone(e164) == expected


def _reference(digits: str, country: str) -> str | None:
    found = _by_phonenumbers(digits, country)
    if found is None and country == "BJ":  # Benin's renumbering: old numbers take "01" in front
        found = _by_phonenumbers("01" + digits, country)
    return found


def _by_phonenumbers(digits: str, country: str) -> str | None:
    try:
        number = phonenumbers.parse(digits, country)
    except phonenumbers.NumberParseException:
        return None
    mobile = {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in mobile:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@settings(max_examples=500, deadline=None)
@given(country=st.sampled_from(COUNTRY_CODES), digits=st.from_regex(r"[1-9][0-9]{6,9}", fullmatch=True))
def test_local_numbers_agree_with_phonenumbers(country: str, digits: str) -> None:
    codes = [served.dialing_code for served in map(get_country, COUNTRY_CODES) if served]
    if any(digits.startswith(code) for code in codes):
        return  # we also read our dialing codes without "+"; phonenumbers does not
    assert normalize_phone(digits, country) == _reference(digits, country)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), country=st.text(max_size=3))
def test_normalize_never_raises(text: str, country: str) -> None:
    result = normalize_phone(text, country)
    assert result is None or result.startswith("+")


@pytest.mark.parametrize(
    ("value", "hidden", "empty", "expected"),
    [
        ("+234 803 123 4567", "•", "—", "+••• ••• ••• 4567"),
        ("0123456789", "*", "", "******6789"),
        (None, "•", "—", "—"),
        ("-1001234567890", "*", "", "-*********7890"),  # a Telegram group's chat id
    ],
)
def test_one_mask_keeps_separators_and_the_last_four_digits(
    value: str | None, hidden: str, empty: str, expected: str
) -> None:
    assert mask_phone(value, hidden, empty=empty) == expected
