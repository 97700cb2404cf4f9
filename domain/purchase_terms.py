"""What a purchase may be: the catalog's rules every quote obeys, whoever asks for it.

``check_terms`` is the one place those rules live (Zulip's ``check_*``): the chat, gift claims
and any other door ask it, and ``orders.create_quote`` refuses terms it finds wrong, so no caller
can quote a price the catalog does not allow.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.countries import Country, Network, get_country
from domain.money import Money
from domain.phones import country_of_phone


class ProductKind(StrEnum):
    """What an order buys."""

    AIRTIME = "airtime"
    DATA = "data"


@dataclass(frozen=True, slots=True)
class QuoteTerms:
    """What a user is about to buy."""

    kind: ProductKind
    country: str
    network: str
    phone: str
    price: Money
    bundle_code: str | None = None


@dataclass(frozen=True, slots=True)
class UnknownCountry:
    """The terms name a country we do not serve."""

    country: str


@dataclass(frozen=True, slots=True)
class WrongCountry:
    """The number to top up belongs to another country (``phone_country``; None: to none of ours)."""

    country: str
    phone_country: str | None


@dataclass(frozen=True, slots=True)
class WrongCurrency:
    """The price is not in the country's currency."""

    currency: str
    expected: str


@dataclass(frozen=True, slots=True)
class UnknownNetwork:
    """The network is not one the country has."""

    country: str
    network: str


@dataclass(frozen=True, slots=True)
class OutOfRange:
    """An airtime amount outside what the network sells."""

    low: Money
    high: Money


@dataclass(frozen=True, slots=True)
class UnknownBundle:
    """A data bundle the network does not sell."""

    network: str
    bundle_code: str | None


@dataclass(frozen=True, slots=True)
class WrongPrice:
    """A data bundle quoted at another price than the catalog's."""

    expected: Money


TermsProblem = (
    UnknownCountry | WrongCountry | WrongCurrency | UnknownNetwork | OutOfRange | UnknownBundle | WrongPrice
)


class TermsRefused(Exception):
    """Terms that break the catalog's rules (raised where a caller should have checked first)."""

    def __init__(self, problem: TermsProblem) -> None:
        super().__init__(repr(problem))
        self.problem = problem


def check_terms(terms: QuoteTerms) -> TermsProblem | None:
    """Why the catalog does not allow ``terms``, or None when it does."""
    country = get_country(terms.country)
    if country is None:
        return UnknownCountry(terms.country)
    if wrong := check_phone_country(country.code, terms.phone):
        return wrong
    if terms.price.currency != country.currency:
        return WrongCurrency(terms.price.currency, country.currency)
    network = country.network(terms.network)
    if network is None:
        return UnknownNetwork(country.code, terms.network)
    if terms.kind is ProductKind.AIRTIME:
        return check_airtime_amount(network, terms.price)
    return _check_bundle(network, terms)


def check_phone_country(country_code: str, phone: str) -> WrongCountry | None:
    """We top up only numbers of the buyer's own country (``phone`` in E.164)."""
    phone_country = country_of_phone(phone)
    return None if phone_country == country_code else WrongCountry(country_code, phone_country)


def check_gift_airtime(country: Country, price: Money) -> OutOfRange | None:
    """An airtime gift must be claimable on any network of the country: within all their ranges."""
    low = max(network.airtime_min.minor for network in country.networks)
    high = min(network.airtime_max.minor for network in country.networks)
    if low <= price.minor <= high:
        return None
    return OutOfRange(Money(low, country.currency), Money(high, country.currency))


def check_airtime_amount(network: Network, price: Money) -> OutOfRange | None:
    """An airtime amount must lie within what the network sells."""
    low, high = network.airtime_min, network.airtime_max
    return None if low.minor <= price.minor <= high.minor else OutOfRange(low, high)


def _check_bundle(network: Network, terms: QuoteTerms) -> UnknownBundle | WrongPrice | None:
    bundle = network.bundle(terms.bundle_code) if terms.bundle_code else None
    if bundle is None:
        return UnknownBundle(network.id, terms.bundle_code)
    return None if bundle.price == terms.price else WrongPrice(bundle.price)


def service_id_for(country_code: str, network_id: str) -> str:
    """The provider's service id for a network's top-ups (the catalog decides, not the door)."""
    country = get_country(country_code)
    if country is None:
        raise TermsRefused(UnknownCountry(country_code))
    network = country.network(network_id)
    if network is None:
        raise TermsRefused(UnknownNetwork(country.code, network_id))
    return network.service_id
