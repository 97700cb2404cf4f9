"""The 16 countries' data: currencies, languages, locales, catalogs and carrier mapping."""

from __future__ import annotations

import phonenumbers
import pytest
from babel import Locale
from phonenumbers import PhoneNumberType, carrier
from phonenumbers.carrierdata import CARRIER_DATA

from domain.countries import (
    COUNTRY_CODES,
    Country,
    all_countries,
    country_for_dialing_code,
    get_country,
)
from domain.money import minor_digits

EXPECTED_CURRENCY: dict[str, str] = {
    "NG": "NGN",
    "GH": "GHS",
    "SN": "XOF",
    "CI": "XOF",
    "BJ": "XOF",
    "BF": "XOF",
    "CV": "CVE",
    "GM": "GMD",
    "GN": "GNF",
    "GW": "XOF",
    "LR": "LRD",
    "ML": "XOF",
    "MR": "MRU",
    "NE": "XOF",
    "SL": "SLE",
    "TG": "XOF",
}

EXPECTED_MINOR_DIGITS: dict[str, int] = {
    "NGN": 2,
    "GHS": 2,
    "XOF": 0,
    "CVE": 2,
    "GMD": 2,
    "GNF": 0,
    "LRD": 2,
    "MRU": 2,
    "SLE": 2,
}

EXPECTED_DEFAULT_LANGUAGE: dict[str, str] = {
    "NG": "en",
    "GH": "en",
    "GM": "en",
    "LR": "en",
    "SL": "en",
    "SN": "fr",
    "CI": "fr",
    "BJ": "fr",
    "BF": "fr",
    "GN": "fr",
    "ML": "fr",
    "MR": "fr",
    "NE": "fr",
    "TG": "fr",
    "CV": "pt",
    "GW": "pt",
}

#: The network that owns phonenumbers' own example mobile number for each country.
EXAMPLE_NUMBER_NETWORK: dict[str, str] = {
    "NG": "AIRTEL",
    "GH": "AIRTELTIGO",
    "SN": "EXPRESSO",
    "CI": "MOOV",
    "BJ": "MOOV",
    "BF": "MOOV",
    "CV": "CVMOVEL",
    "GM": "QCELL",
    "GN": "SOTELGUI",
    "GW": "ORANGE",
    "LR": "ORANGE",
    "ML": "MOOV",
    "MR": "CHINGUITEL",
    "NE": "NIGER_TELECOMS",
    "SL": "SIERRATEL",
    "TG": "TOGOCEL",
}

#: At least one real-looking mobile number per network: (country, E.164 number, network id).
NETWORK_NUMBERS: list[tuple[str, str, str]] = [
    ("NG", "+2348031234567", "MTN"),
    ("NG", "+2348021234567", "AIRTEL"),
    ("NG", "+2348051234567", "GLO"),
    ("NG", "+2348091234567", "9MOBILE"),
    ("GH", "+233241234567", "MTN"),
    ("GH", "+233541234567", "MTN"),
    ("GH", "+233201234567", "TELECEL"),
    ("GH", "+233501234567", "TELECEL"),
    ("GH", "+233271234567", "AIRTELTIGO"),
    ("GH", "+233261234567", "AIRTELTIGO"),
    ("SN", "+221771234567", "ORANGE"),
    ("SN", "+221761234567", "YAS"),
    ("SN", "+221701234567", "EXPRESSO"),
    ("CI", "+2250712345678", "ORANGE"),
    ("CI", "+2250512345678", "MTN"),
    ("CI", "+2250112345678", "MOOV"),
    ("BJ", "+2290197123456", "MTN"),
    ("BJ", "+2290195123456", "MOOV"),
    ("BJ", "+2290192123456", "CELTIIS"),
    ("BF", "+22676123456", "ORANGE"),
    ("BF", "+22670123456", "MOOV"),
    ("BF", "+22678123456", "TELECEL_FASO"),
    ("CV", "+2389911234", "CVMOVEL"),
    ("CV", "+2389121234", "UNITEL_T_PLUS"),
    ("GM", "+2207123456", "AFRICELL"),
    ("GM", "+2203123456", "QCELL"),
    ("GM", "+2206123456", "COMIUM"),
    ("GM", "+2209123456", "GAMCEL"),
    ("GN", "+224621234567", "ORANGE"),
    ("GN", "+224661234567", "MTN"),
    ("GN", "+224651234567", "CELLCOM"),
    ("GN", "+224601234567", "SOTELGUI"),
    ("GW", "+245955123456", "ORANGE"),
    ("GW", "+245966123456", "TELECEL"),
    ("LR", "+231771234567", "ORANGE"),
    ("LR", "+231881234567", "LONESTAR"),
    ("ML", "+22376123456", "ORANGE"),
    ("ML", "+22366123456", "MOOV"),
    ("ML", "+22351234567", "TELECEL"),
    ("MR", "+22241234567", "MAURITEL"),
    ("MR", "+22231234567", "MATTEL"),
    ("MR", "+22221234567", "CHINGUITEL"),
    ("NE", "+22796123456", "AIRTEL"),
    ("NE", "+22790123456", "ZAMANI"),
    ("NE", "+22794123456", "MOOV"),
    ("NE", "+22793123456", "NIGER_TELECOMS"),
    ("SL", "+23278123456", "ORANGE"),
    ("SL", "+23277123456", "AFRICELL"),
    ("SL", "+23231123456", "QCELL"),
    ("SL", "+23225123456", "SIERRATEL"),
    ("TG", "+22890123456", "TOGOCEL"),
    ("TG", "+22899123456", "MOOV"),
]

#: Networks phonenumbers has no carrier name for (their numbers fall in another's range there).
NETWORKS_WITHOUT_CARRIER_DATA: set[tuple[str, str]] = {("GH", "GLO")}

#: Carrier names phonenumbers returns for valid mobile numbers that deliberately map to no network:
#: defunct operators, MVNOs we cannot top up, and non-public networks.
KNOWN_UNMAPPED_CARRIERS: dict[str, set[str]] = {
    "NG": {"Smile", "Ntel", "Prestel", "Multilinks", "Starcomms", "Lebara", "MAFAB"},
    "GH": {"Expresso", "National Security"},
    "SN": {"ADIE", "HAYO", "Promobile"},
    "GN": {"Intercel"},
    "GW": {"Guinetel"},
    "LR": {"Liberia Telecom", "West Africa Telecom", "Connect"},
    "SL": {"Onlime"},
}


def _country(code: str) -> Country:
    country = get_country(code)
    assert country is not None, code
    return country


def _example_mobile(code: str) -> phonenumbers.PhoneNumber:
    example = phonenumbers.example_number_for_type(code, PhoneNumberType.MOBILE)
    assert example is not None, code
    return example


def _is_mobile(number: phonenumbers.PhoneNumber) -> bool:
    return phonenumbers.is_valid_number(number) and phonenumbers.number_type(number) in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


def _carrier_names_for_mobiles(code: str) -> set[str]:
    """Carrier names phonenumbers gives valid mobile numbers of ``code``, over every carrier prefix."""
    dialing = str(phonenumbers.country_code_for_region(code))
    length = len(phonenumbers.national_significant_number(_example_mobile(code)))
    names: set[str] = set()
    for prefix in CARRIER_DATA:
        if not prefix.startswith(dialing):
            continue
        national = prefix[len(dialing) :]
        for extension in (f"{i:02d}" for i in range(100)):
            digits = (national + extension + "1234567890" * 2)[:length]
            number = phonenumbers.parse("+" + dialing + digits)
            if _is_mobile(number) and phonenumbers.region_code_for_number(number) == code:
                name = carrier.name_for_number(number, "en")
                if name:
                    names.add(name)
    return names


def test_all_sixteen_countries_load() -> None:
    countries = all_countries()
    assert len(COUNTRY_CODES) == 16
    assert set(countries) == set(COUNTRY_CODES)
    for code, country in countries.items():
        assert country.code == code
        assert country.name
        assert country.networks


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_dialing_code_matches_phonenumbers(code: str) -> None:
    country = _country(code)
    assert country.dialing_code == str(phonenumbers.country_code_for_region(code))
    assert country_for_dialing_code(country.dialing_code) == country


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_currency_and_minor_digits(code: str) -> None:
    country = _country(code)
    assert country.currency == EXPECTED_CURRENCY[code]
    assert minor_digits(country.currency) == EXPECTED_MINOR_DIGITS[country.currency]
    assert country.pin_threshold.currency == country.currency
    assert country.demo_opening_balance.currency == country.currency
    assert country.pin_threshold.minor > 0
    assert 0 < country.demo_opening_balance.minor <= country.pin_threshold.minor


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_default_language(code: str) -> None:
    country = _country(code)
    assert country.default_language == EXPECTED_DEFAULT_LANGUAGE[code]
    assert len(set(country.languages)) == len(country.languages)
    assert set(country.languages) <= {"en", "fr", "pt"}


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_locale_parses_with_babel(code: str) -> None:
    country = _country(code)
    locale = Locale.parse(country.locale)
    assert locale.language == country.default_language
    assert locale.territory == code


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_portable_numbers_match_phonenumbers(code: str) -> None:
    expected = phonenumbers.is_mobile_number_portable_region(code)
    assert _country(code).portable_numbers is expected


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_networks_have_sane_airtime_and_bundles(code: str) -> None:
    country = _country(code)
    ids = [n.id for n in country.networks]
    assert len(ids) == len(set(ids)), ids
    for network in country.networks:
        assert network.id == network.id.upper()
        assert network.name
        assert network.service_id == network.service_id.lower()
        assert all(alias == alias.lower() for alias in network.aliases), network.id
        assert network.airtime_min.currency == network.airtime_max.currency == country.currency
        assert 0 < network.airtime_min.minor < network.airtime_max.minor, network.id
        assert len(network.bundles) >= 2, network.id
        for bundle in network.bundles:
            assert bundle.name
            assert bundle.data_mb > 0, bundle.code
            assert bundle.validity_days > 0, bundle.code
            assert bundle.price.currency == country.currency
            assert bundle.price.minor > 0, bundle.code
            assert network.bundle(bundle.code) == bundle


def test_bundle_codes_and_service_ids_are_unique() -> None:
    networks = [n for c in all_countries().values() for n in c.networks]
    service_ids = [n.service_id for n in networks]
    codes = [b.code for n in networks for b in n.bundles]
    assert len(service_ids) == len(set(service_ids))
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_example_mobile_number_maps_to_expected_network(code: str) -> None:
    name = carrier.name_for_number(_example_mobile(code), "en")
    network = _country(code).network_for_carrier(name)
    assert network is not None, (code, name)
    assert network.id == EXAMPLE_NUMBER_NETWORK[code]


@pytest.mark.parametrize(("code", "e164", "network_id"), NETWORK_NUMBERS)
def test_network_number_maps_via_carrier_name(code: str, e164: str, network_id: str) -> None:
    number = phonenumbers.parse(e164)
    assert phonenumbers.region_code_for_number(number) == code
    assert phonenumbers.number_type(number) == PhoneNumberType.MOBILE
    network = _country(code).network_for_carrier(carrier.name_for_number(number, "en"))
    assert network is not None, e164
    assert network.id == network_id


def test_number_table_covers_every_network() -> None:
    covered = {(code, network_id) for code, _, network_id in NETWORK_NUMBERS}
    every = {(c.code, n.id) for c in all_countries().values() for n in c.networks}
    assert every - covered == NETWORKS_WITHOUT_CARRIER_DATA
    assert covered <= every


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_every_phonenumbers_carrier_is_mapped_or_known(code: str) -> None:
    country = _country(code)
    names = _carrier_names_for_mobiles(code)
    assert names
    unmapped = {name for name in names if country.network_for_carrier(name) is None}
    assert unmapped == KNOWN_UNMAPPED_CARRIERS.get(code, set())


def test_network_for_carrier_is_case_insensitive_and_rejects_unknown() -> None:
    ghana = _country("GH")
    telecel = ghana.network_for_carrier("TELECEL")
    assert telecel is not None and telecel.id == "TELECEL"
    assert ghana.network_for_carrier("No Such Carrier") is None
    assert ghana.network("airteltigo") is not None
