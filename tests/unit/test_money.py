"""Money is exact: integer minor units with ISO 4217 digits, never floats."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.money import MINOR_DIGITS, Money, MoneyError, minor_digits, to_major, to_minor


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [("1500", "NGN", 150_000), ("2.50", "GHS", 250), ("1000", "XOF", 1000), ("25000", "GNF", 25000),
     ("0.01", "CVE", 1), ("199.99", "SLE", 19_999)],
)  # fmt: skip
def test_major_to_minor(major: str, currency: str, minor: int) -> None:
    assert to_minor(major, currency) == minor
    assert Money.of(major, currency).minor == minor


@pytest.mark.parametrize(("major", "currency"), [("0.5", "XOF"), ("1.001", "NGN"), ("12.5", "GNF")])
def test_sub_minor_precision_is_refused_not_rounded(major: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        to_minor(major, currency)


@pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", ""])
def test_non_amounts_are_refused(bad: str) -> None:
    with pytest.raises(MoneyError):
        to_minor(bad, "NGN")


def test_money_is_integer_minor_units_of_a_served_currency() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "NGN")  # type: ignore[arg-type]
    with pytest.raises(MoneyError):
        Money(100, "USD")
    assert minor_digits("XOF") == 0 and minor_digits("GNF") == 0 and minor_digits("NGN") == 2


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(sorted(MINOR_DIGITS)))
def test_round_trip_is_exact(minor: int, currency: str) -> None:
    assert to_minor(to_major(minor, currency), currency) == minor
    assert isinstance(to_major(minor, currency), Decimal)
