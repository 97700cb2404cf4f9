"""The bank and wallet directory: names as people type them, typos, misses, codes and account numbers."""

from __future__ import annotations

import pytest

from domain.banks import (
    account_number_ok,
    bank_by_code,
    banks,
    find_bank,
    find_mobile_money_network,
    mobile_money_network,
    mobile_money_networks,
    name_key,
    normalize_account_number,
)
from domain.countries import COUNTRY_CODES, get_country

#: Every bank the brief names in Nigeria, with the code Paystack uses.
NG_CODES = {
    "Access Bank": "044",
    "GTBank": "058",
    "Zenith Bank": "057",
    "First Bank": "011",
    "UBA": "033",
    "Fidelity Bank": "070",
    "FCMB": "214",
    "Union Bank": "032",
    "Sterling Bank": "232",
    "Wema Bank": "035",
    "Stanbic IBTC": "221",
    "Ecobank": "050",
    "Polaris Bank": "076",
    "Keystone Bank": "082",
    "Kuda": "50211",
    "OPay": "999992",
    "PalmPay": "999991",
    "Moniepoint": "50515",
}


@pytest.mark.parametrize(
    ("typed", "bank"),
    [
        ("gtb", "GTBank"),
        ("GTB", "GTBank"),
        ("GT Bank", "GTBank"),
        ("gtbank", "GTBank"),
        ("GTCO", "GTBank"),
        ("Guaranty Trust Bank PLC", "GTBank"),
        ("guarantee trust", "GTBank"),
        ("first bank", "First Bank"),
        ("First Bank of Nigeria", "First Bank"),
        ("fbn", "First Bank"),
        ("first city", "FCMB"),
        ("First City Monument Bank", "FCMB"),
        ("uba", "UBA"),
        ("United Bank for Africa", "UBA"),
        ("zenith", "Zenith Bank"),
        ("access", "Access Bank"),
        ("stanbic", "Stanbic IBTC"),
        ("ALAT", "Wema Bank"),
        ("palm pay", "PalmPay"),
        ("Opay", "OPay"),
        ("kuda mfb", "Kuda"),
        ("moniepoint", "Moniepoint"),
        ("send it to my gtb", "GTBank"),
        ("058", "GTBank"),
    ],
)
def test_nigerian_banks_by_the_names_people_use(typed: str, bank: str) -> None:
    found = find_bank("NG", typed)
    assert found is not None, typed
    assert found.name == bank


@pytest.mark.parametrize(
    ("typed", "bank"),
    [
        ("zenit", "Zenith Bank"),
        ("acess bank", "Access Bank"),
        ("stering", "Sterling Bank"),
        ("polarsi", "Polaris Bank"),
        ("fidelty", "Fidelity Bank"),
        ("keystne", "Keystone Bank"),
        ("ecobnak", "Ecobank"),
        ("moniepiont", "Moniepoint"),
        ("Wemma", "Wema Bank"),
    ],
)
def test_one_typo_is_forgiven(typed: str, bank: str) -> None:
    found = find_bank("NG", typed)
    assert found is not None, typed
    assert found.name == bank


@pytest.mark.parametrize(
    "typed", ["", "bank", "hello", "ubs", "gtx", "Chase", "Barclays", "0123456789", "999", "my bank plc"]
)
def test_what_names_no_bank_finds_none(typed: str) -> None:
    assert find_bank("NG", typed) is None


def test_short_names_are_never_guessed() -> None:
    # "ubn" is Union Bank and "uba" is UBA: one letter apart, so initials must be exact.
    assert find_bank("NG", "ubn").name == "Union Bank"  # type: ignore[union-attr]
    assert find_bank("NG", "uba").name == "UBA"  # type: ignore[union-attr]
    assert find_bank("NG", "ubx") is None


def test_a_name_close_to_two_banks_is_refused() -> None:
    # "ftbank" is one letter from "gtbank" and two from "firstbank"; "colbank" as far from CalBank
    # as from Ecobank. Paying the wrong bank is worse than asking again.
    assert find_bank("NG", "ftbank") is None
    assert find_bank("GH", "colbank") is None
    assert find_bank("GH", "calbnk").name == "CalBank"  # type: ignore[union-attr]


def test_every_bank_the_brief_names_is_there_with_its_code() -> None:
    known = {bank.name: bank.code for bank in banks("NG")}
    assert {name: known.get(name) for name in NG_CODES} == NG_CODES


def test_fintech_codes_differ_at_flutterwave() -> None:
    kuda = find_bank("NG", "kuda")
    gtb = find_bank("NG", "gtb")
    assert kuda is not None and gtb is not None
    assert kuda.code_at("paystack") == "50211" and kuda.code_at("flutterwave") == "090267"
    assert gtb.code_at("paystack") == gtb.code_at("flutterwave") == "058"
    assert bank_by_code("NG", "090267") == kuda


def test_ghana_banks_use_paystack_sort_codes() -> None:
    gcb = find_bank("GH", "ghana commercial bank")
    assert gcb is not None and gcb.code == "040100"
    assert find_bank("GH", "barclays").name == "Absa Bank Ghana"  # type: ignore[union-attr]
    assert find_bank("GH", "gtb").code == "230100"  # type: ignore[union-attr]
    assert find_bank("GH", "kuda") is None  # a Nigerian fintech


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_aliases_name_one_entry_each(code: str) -> None:
    for entries in (banks(code), mobile_money_networks(code)):
        keys = [(name_key(alias), entry.name) for entry in entries for alias in entry.aliases]
        owners: dict[str, set[str]] = {}
        for key, name in keys:
            assert key, (code, name)
            owners.setdefault(key, set()).add(name)
        assert {k: v for k, v in owners.items() if len(v) > 1} == {}
    for bank in banks(code):
        assert find_bank(code, bank.name) == bank
        assert find_bank(code, bank.code) == bank
    for network in mobile_money_networks(code):
        assert find_mobile_money_network(code, network.name) == network


@pytest.mark.parametrize(
    ("country", "typed", "network"),
    [
        ("GH", "momo", "MTN"),
        ("GH", "MTN Mobile Money", "MTN"),
        ("GH", "vodafone cash", "TELECEL"),
        ("GH", "Telecel Cash", "TELECEL"),
        ("GH", "airteltigo money", "AIRTELTIGO"),
        ("GH", "AT money", "AIRTELTIGO"),
        ("CI", "orange money", "ORANGE"),
        ("CI", "wave", "WAVE"),
        ("CI", "flooz", "MOOV"),
        ("SN", "free money", "YAS"),
        ("SN", "orange mony", "ORANGE"),
        ("LR", "lonestar", "LONESTAR"),
    ],
)
def test_wallets_by_the_names_people_use(country: str, typed: str, network: str) -> None:
    found = find_mobile_money_network(country, typed)
    assert found is not None, typed
    assert found.network == network


def test_wallet_misses_and_countries_without_payouts() -> None:
    assert find_mobile_money_network("GH", "orange money") is None
    assert find_mobile_money_network("NG", "momo") is None
    assert mobile_money_networks("CV") == ()
    assert banks("SN") == ()


def test_wallet_codes_per_gateway() -> None:
    telecel = mobile_money_network("GH", "telecel")
    mtn = mobile_money_network("GH", "MTN")
    assert telecel is not None and mtn is not None
    assert telecel.code_at("paystack") == "VOD" and telecel.code_at("momo") is None
    assert mtn.code_at("momo") == "MTN" and mtn.code_at("paystack") == "MTN"


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_wallet_networks_are_the_countrys_networks(code: str) -> None:
    country = get_country(code)
    assert country is not None
    ours = {n.id for n in country.networks} | {"WAVE"}  # Wave is a wallet, not a mobile network
    assert {n.network for n in mobile_money_networks(code)} <= ours


@pytest.mark.parametrize(
    ("country", "typed", "expected"),
    [
        ("NG", "0123456789", "0123456789"),
        ("NG", "0123 456 789", "0123456789"),
        ("NG", "012-345-6789", "0123456789"),
        ("NG", "012345678", None),
        ("NG", "01234567890", None),
        ("NG", "01234S6789", None),
        ("NG", "", None),
        ("GH", "1041234567890", "1041234567890"),
        ("GH", "123456789", None),
        ("SN", "0123456789", None),  # no bank payouts there
    ],
)
def test_account_numbers(country: str, typed: str, expected: str | None) -> None:
    assert normalize_account_number(country, typed) == expected
    assert account_number_ok(country, typed) is (expected is not None)
