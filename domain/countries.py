"""The 16 countries we serve, their networks and catalogs, loaded from operator-editable data."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from domain.money import Money

#: ISO codes of every country we serve, in the order operators list them.
COUNTRY_CODES: tuple[str, ...] = (
    "NG",
    "GH",
    "SN",
    "CI",
    "BJ",
    "BF",
    "CV",
    "GM",
    "GN",
    "GW",
    "LR",
    "ML",
    "MR",
    "NE",
    "SL",
    "TG",
)

#: The default funding bounds of a country that lists none (nothing can be funded).
NO_MONEY = Money(0, "NGN")


@dataclass(frozen=True, slots=True)
class Bundle:
    """A data bundle a network sells: size, price and validity."""

    code: str
    name: str
    data_mb: int
    price: Money
    validity_days: int


@dataclass(frozen=True, slots=True)
class Network:
    """A mobile network operator in one country."""

    id: str
    name: str
    aliases: tuple[str, ...]
    carrier_names: tuple[str, ...]
    service_id: str
    airtime_min: Money
    airtime_max: Money
    bundles: tuple[Bundle, ...]

    def bundle(self, code: str) -> Bundle | None:
        """Return the bundle with ``code``, if this network sells it."""
        return next((b for b in self.bundles if b.code == code), None)


@dataclass(frozen=True, slots=True)
class Country:
    """A country we serve: dialing code, currency, languages, networks and limits."""

    code: str
    name: str
    dialing_code: str
    currency: str
    languages: tuple[str, ...]
    locale: str
    portable_numbers: bool
    pin_threshold: Money
    demo_opening_balance: Money
    networks: tuple[Network, ...]
    funding_gateways: tuple[str, ...] = ()
    """Payment gateways that fund wallets here, preferred first (``paystack``, ``flutterwave``, ``momo``…)."""
    funding_min: Money = NO_MONEY
    funding_max: Money = NO_MONEY
    payouts: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Payout kind (``bank``, ``mobile_money``) → gateways that pay out to it here, preferred first."""
    old_currency: str | None = None
    """The currency a redenomination replaced, which people still count in (SLL, MRO)."""
    old_per_new: int = 1
    """How many units of ``old_currency`` make one of ``currency``."""

    def from_old(self, amount: Decimal) -> Decimal:
        """An amount counted in the old currency, in the current one (20,000 SLL → 20 SLE)."""
        return amount / self.old_per_new

    @property
    def default_language(self) -> str:
        """The language new users here get until they choose another."""
        return self.languages[0]

    def payout_gateways(self, kind: str) -> tuple[str, ...]:
        """Gateways that pay out to ``kind`` (a ``PayoutKind``) here, preferred first; () when none."""
        return next((gateways for name, gateways in self.payouts if name == kind), ())

    def network(self, network_id: str) -> Network | None:
        """Return the network with ``network_id`` (case-insensitive)."""
        wanted = network_id.upper()
        return next((n for n in self.networks if n.id.upper() == wanted), None)

    def network_for_carrier(self, carrier_name: str) -> Network | None:
        """Map a ``phonenumbers`` carrier name to one of our networks."""
        lowered = carrier_name.lower()
        for network in self.networks:
            if any(lowered == c.lower() for c in network.carrier_names):
                return network
        return None


def _money(value: Any, currency: str) -> Money:
    return Money.of(Decimal(str(value)), currency)


def _bundle(raw: dict[str, Any], currency: str) -> Bundle:
    return Bundle(
        code=raw["code"],
        name=raw["name"],
        data_mb=int(raw["data_mb"]),
        price=_money(raw["price"], currency),
        validity_days=int(raw["validity_days"]),
    )


def _network(raw: dict[str, Any], currency: str) -> Network:
    return Network(
        id=raw["id"],
        name=raw["name"],
        aliases=tuple(raw.get("aliases", ())),
        carrier_names=tuple(raw.get("carrier_names", ())),
        service_id=raw["service_id"],
        airtime_min=_money(raw["airtime"]["min"], currency),
        airtime_max=_money(raw["airtime"]["max"], currency),
        bundles=tuple(_bundle(b, currency) for b in raw.get("bundles", ())),
    )


def _country(code: str, raw: dict[str, Any]) -> Country:
    currency = raw["currency"]
    return Country(
        code=code,
        name=raw["name"],
        dialing_code=raw["dialing_code"],
        currency=currency,
        languages=tuple(raw["languages"]),
        locale=raw["locale"],
        portable_numbers=bool(raw.get("portable_numbers", False)),
        pin_threshold=_money(raw["pin_threshold"], currency),
        demo_opening_balance=_money(raw["demo_opening_balance"], currency),
        networks=tuple(_network(n, currency) for n in raw["networks"]),
        funding_gateways=tuple(raw.get("funding", {}).get("gateways", ())),
        funding_min=_money(raw.get("funding", {}).get("min", 0), currency),
        funding_max=_money(raw.get("funding", {}).get("max", 0), currency),
        payouts=tuple((kind, tuple(names)) for kind, names in raw.get("payouts", {}).items()),
        old_currency=raw.get("old_currency", {}).get("code"),
        old_per_new=int(raw.get("old_currency", {}).get("per_new", 1)),
    )


@cache
def all_countries() -> dict[str, Country]:
    """Load every country from ``domain/data/countries.json`` (cached)."""
    text = resources.files("domain.data").joinpath("countries.json").read_text("utf-8")
    raw: dict[str, Any] = json.loads(text)
    return {code: _country(code, raw[code]) for code in COUNTRY_CODES if code in raw}


def get_country(code: str) -> Country | None:
    """Return the country with ISO code ``code`` (case-insensitive), if we serve it."""
    return all_countries().get(code.upper())


def country_for_dialing_code(dialing_code: str) -> Country | None:
    """Return the country whose international dialing code is ``dialing_code``."""
    return next((c for c in all_countries().values() if c.dialing_code == dialing_code), None)
