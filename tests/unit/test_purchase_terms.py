"""The catalog's rules for any quote, whichever door asks: one table of cases."""

from __future__ import annotations

import pytest

from domain.money import Money
from domain.purchase_terms import (
    OutOfRange,
    ProductKind,
    QuoteTerms,
    TermsProblem,
    UnknownBundle,
    UnknownCountry,
    UnknownNetwork,
    WrongCountry,
    WrongCurrency,
    WrongPrice,
    check_terms,
)

NG_NUMBER, GH_NUMBER = "+2348031234567", "+233241234567"
AIRTIME, DATA = ProductKind.AIRTIME, ProductKind.DATA


def ngn(minor: int) -> Money:
    return Money(minor, "NGN")


CASES: list[tuple[str, QuoteTerms, TermsProblem | None]] = [
    ("airtime in range", QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, ngn(50_000)), None),
    ("the lowest amount", QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, ngn(5_000)), None),
    ("the highest amount", QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, ngn(5_000_000)), None),
    (
        "one kobo",
        QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, ngn(1)),
        OutOfRange(ngn(5_000), ngn(5_000_000)),
    ),
    (
        "a million naira",
        QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, ngn(100_000_000)),
        OutOfRange(ngn(5_000), ngn(5_000_000)),
    ),
    (
        "a Ghanaian number from Nigeria",
        QuoteTerms(AIRTIME, "NG", "mtn", GH_NUMBER, ngn(1)),
        WrongCountry("NG", "GH"),
    ),
    (
        "a number of no country we serve",
        QuoteTerms(AIRTIME, "NG", "mtn", "+14155550100", ngn(50_000)),
        WrongCountry("NG", None),
    ),
    (
        "a country we do not serve",
        QuoteTerms(AIRTIME, "KE", "mtn", NG_NUMBER, ngn(50_000)),
        UnknownCountry("KE"),
    ),
    (
        "cedis in Nigeria",
        QuoteTerms(AIRTIME, "NG", "mtn", NG_NUMBER, Money(5_000, "GHS")),
        WrongCurrency("GHS", "NGN"),
    ),
    (
        "a network Nigeria lacks",
        QuoteTerms(AIRTIME, "NG", "orange", NG_NUMBER, ngn(50_000)),
        UnknownNetwork("NG", "orange"),
    ),
    ("a bundle at its price", QuoteTerms(DATA, "NG", "mtn", NG_NUMBER, ngn(35_000), "mtn-ng-500mb-1d"), None),
    (
        "a bundle below its price",
        QuoteTerms(DATA, "NG", "mtn", NG_NUMBER, ngn(1), "mtn-ng-500mb-1d"),
        WrongPrice(ngn(35_000)),
    ),
    (
        "a bundle the network lacks",
        QuoteTerms(DATA, "NG", "mtn", NG_NUMBER, ngn(35_000), "nope"),
        UnknownBundle("MTN", "nope"),
    ),
    (
        "data without a bundle",
        QuoteTerms(DATA, "NG", "mtn", NG_NUMBER, ngn(35_000)),
        UnknownBundle("MTN", None),
    ),
]


@pytest.mark.parametrize(("terms", "problem"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_check_terms(terms: QuoteTerms, problem: TermsProblem | None) -> None:
    assert check_terms(terms) == problem
