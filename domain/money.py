"""Money as integer minor units of an ISO 4217 currency, and exact conversions to and from major units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

#: ISO 4217 minor-unit digits for every currency we serve. XOF and GNF have none.
MINOR_DIGITS: dict[str, int] = {
    "NGN": 2,
    "GHS": 2,
    "XOF": 0,
    "CVE": 2,
    "GMD": 2,
    "GNF": 0,
    "LRD": 2,
    "SLE": 2,
    "MRU": 2,
}


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in a currency's minor units."""


def minor_digits(currency: str) -> int:
    """Return the ISO 4217 number of minor-unit digits for ``currency``."""
    try:
        return MINOR_DIGITS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def to_minor(major: Decimal | str | int, currency: str) -> int:
    """Convert a major-unit amount to integer minor units, refusing any sub-minor fraction."""
    try:
        value = Decimal(str(major))
    except InvalidOperation:
        raise MoneyError(f"not an amount: {major!r}") from None
    if not value.is_finite():
        raise MoneyError(f"not an amount: {major!r}")
    scaled = value.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value(rounding=ROUND_DOWN):
        raise MoneyError(f"{major} has more precision than {currency} allows")
    return int(scaled)


def to_major(minor: int, currency: str) -> Decimal:
    """Convert integer minor units to an exact major-unit ``Decimal``."""
    return Decimal(minor).scaleb(-minor_digits(currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: integer minor units of one currency."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise MoneyError("money is integer minor units")
        minor_digits(self.currency)

    @classmethod
    def of(cls, major: Decimal | str | int, currency: str) -> Money:
        """Build from a major-unit amount such as ``"1500"`` or ``Decimal("2.50")``."""
        return cls(to_minor(major, currency), currency)

    @property
    def major(self) -> Decimal:
        """The amount in major units, exact."""
        return to_major(self.minor, self.currency)

    def __str__(self) -> str:
        return f"{self.major} {self.currency}"
