"""Payout routing data for the 16 countries, checked against the directory and the real adapters."""

from __future__ import annotations

from typing import Any

import pytest

from domain.banks import banks, find_bank, mobile_money_network, mobile_money_networks
from domain.countries import COUNTRY_CODES, get_country
from domain.payout_routes import route_payout
from domain.ports import PayoutDestination, PayoutKind
from payments.flutterwave import FlutterwaveGateway
from payments.momo import MomoDisbursement
from payments.paystack import PaystackGateway

GATEWAYS = ("paystack", "flutterwave", "momo")
#: Where each gateway pays out, as the routing data must say (countries we serve only).
EXPECTED = {
    "NG": {"bank": ("paystack", "flutterwave"), "mobile_money": ()},
    "GH": {"bank": ("paystack",), "mobile_money": ("momo", "paystack")},
    "SN": {"bank": (), "mobile_money": ("flutterwave",)},
    "CI": {"bank": (), "mobile_money": ("momo", "flutterwave")},
    "BJ": {"bank": (), "mobile_money": ("momo",)},
    "BF": {"bank": (), "mobile_money": ("flutterwave",)},
    "GN": {"bank": (), "mobile_money": ("momo",)},
    "LR": {"bank": (), "mobile_money": ("momo",)},
}
#: A plausible account or wallet number per country and kind.
NUMBERS = {
    ("NG", "bank"): "0123456789",
    ("GH", "bank"): "1041234567890",
    ("GH", "mobile_money"): "+233241234567",
    ("SN", "mobile_money"): "+221771234567",
    ("CI", "mobile_money"): "+2250712345678",
    ("BJ", "mobile_money"): "+2290197123456",
    ("BF", "mobile_money"): "+22676123456",
    ("GN", "mobile_money"): "+224661234567",
    ("LR", "mobile_money"): "+231881234567",
}


def _adapters(momo_countries: tuple[str, ...] = ("GH", "CI", "BJ", "GN", "LR")) -> dict[str, Any]:
    """Real adapters (no request is sent: building one opens nothing)."""
    return {
        "paystack": PaystackGateway("http://127.0.0.1:9", "sk"),
        "flutterwave": FlutterwaveGateway("http://127.0.0.1:9", "sk", "hash"),
        "momo": MomoDisbursement("http://127.0.0.1:9", "k", "u", "s", countries=momo_countries),
    }


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_every_country_says_who_pays_out_to_banks_and_wallets(code: str) -> None:
    country = get_country(code)
    assert country is not None
    assert {kind for kind, _ in country.payouts} == {"bank", "mobile_money"}
    for kind in PayoutKind:
        routed = country.payout_gateways(kind)
        assert routed == EXPECTED.get(code, {}).get(kind.value, ())
        assert len(set(routed)) == len(routed)
        assert set(routed) <= set(GATEWAYS)


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_the_directory_matches_the_routing(code: str) -> None:
    country = get_country(code)
    assert country is not None
    assert bool(banks(code)) is bool(country.payout_gateways(PayoutKind.BANK))
    assert bool(mobile_money_networks(code)) is bool(country.payout_gateways(PayoutKind.MOBILE_MONEY))
    routed = set(country.payout_gateways(PayoutKind.MOBILE_MONEY))
    for network in mobile_money_networks(code):
        served = {gateway for gateway, _ in network.gateway_codes}
        assert served and served <= routed, (code, network.network)


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_every_bank_and_wallet_has_a_gateway_that_takes_it(code: str) -> None:
    country = get_country(code)
    assert country is not None
    adapters = _adapters()
    for bank in banks(code):
        route = route_payout(adapters, bank, NUMBERS[(code, "bank")])
        assert route is not None, bank.name
        assert route.destination.bank_code == bank.code_at(route.gateway.name)
        assert route.destination.currency == country.currency
    for network in mobile_money_networks(code):
        route = route_payout(adapters, network, NUMBERS[(code, "mobile_money")])
        assert route is not None, network.network
        assert route.destination.kind is PayoutKind.MOBILE_MONEY
        assert route.destination.bank_code == network.code_at(route.gateway.name)


def test_routes_follow_preference_and_skip_what_is_not_configured() -> None:
    adapters = _adapters()
    kuda = find_bank("NG", "kuda")
    assert kuda is not None
    first = route_payout(adapters, kuda, "0123456789")
    assert first is not None and first.gateway.name == "paystack" and first.destination.bank_code == "50211"
    second = route_payout({"flutterwave": adapters["flutterwave"]}, kuda, "0123456789")
    assert second is not None and second.destination.bank_code == "090267"
    assert route_payout({}, kuda, "0123456789") is None
    telecel, mtn = mobile_money_network("GH", "TELECEL"), mobile_money_network("GH", "MTN")
    assert telecel is not None and mtn is not None
    assert route_payout(adapters, mtn, "+233241234567").gateway.name == "momo"  # type: ignore[union-attr]
    assert route_payout(adapters, telecel, "+233201234567").gateway.name == "paystack"  # type: ignore[union-attr]
    # MoMo credentials for Ghana only: an Ivorian MTN wallet goes through Flutterwave.
    ci_mtn = mobile_money_network("CI", "MTN")
    assert ci_mtn is not None
    route = route_payout(_adapters(("GH",)), ci_mtn, "+2250512345678")
    assert route is not None and route.gateway.name == "flutterwave" and route.destination.bank_code == "FMM"


@pytest.mark.parametrize(
    ("destination", "takers"),
    [
        (PayoutDestination(PayoutKind.BANK, "NG", "NGN", "0123456789", "058"), {"paystack", "flutterwave"}),
        (PayoutDestination(PayoutKind.BANK, "NG", "NGN", "012345678", "058"), set()),
        (PayoutDestination(PayoutKind.BANK, "NG", "NGN", "0123456789", None), set()),
        (PayoutDestination(PayoutKind.BANK, "GH", "GHS", "1041234567890", "040100"), {"paystack"}),
        (
            PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "GHS", "+233241234567", "MTN"),
            {"paystack", "momo"},
        ),
        (PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "GHS", "+233201234567", "VOD"), {"paystack"}),
        (PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "NGN", "+233241234567", "MTN"), set()),
        (
            PayoutDestination(PayoutKind.MOBILE_MONEY, "CI", "XOF", "+2250712345678", "orangemoney"),
            {"flutterwave"},
        ),
        (PayoutDestination(PayoutKind.MOBILE_MONEY, "ML", "XOF", "+22376123456", "FMM"), set()),
        (PayoutDestination(PayoutKind.BANK, "SN", "XOF", "0123456789", "SN010"), set()),
    ],
)
def test_which_adapter_supports_what(destination: PayoutDestination, takers: set[str]) -> None:
    assert {name for name, gateway in _adapters().items() if gateway.supports(destination)} == takers
