"""KYC tiers as data (all 16 countries), number formats, the keyed hash and what a tier needs."""

from __future__ import annotations

import pytest

from domain import kyc
from domain.countries import COUNTRY_CODES, get_country
from domain.kyc import Limit, NumberProblem, Requirement
from domain.money import Money
from domain.ports import IdentityKind

UEMOA = ("SN", "CI", "BJ", "BF", "ML", "NE", "TG", "GW")
OURS_ONLY = ("GH", "CV", "GM", "GN", "LR", "MR", "SL")
ALL_LIMITS = frozenset(Limit)


def test_every_country_has_tiers_in_its_own_currency_numbered_from_zero() -> None:
    tiers = kyc.all_tiers()
    assert set(tiers) == set(COUNTRY_CODES)
    for code in COUNTRY_CODES:
        country = get_country(code)
        assert country is not None
        assert [t.tier for t in tiers[code]] == list(range(len(tiers[code])))
        for limits in tiers[code]:
            assert limits.country == code and limits.currency == country.currency
            assert limits.basis
            for cap in (limits.max_balance, limits.monthly_in):
                assert cap is None or cap.currency == country.currency


def test_nigeria_follows_the_cbn_tiers() -> None:
    def ngn(amount: str) -> Money:
        return Money.of(amount, "NGN")

    zero, one, two, three = kyc.tiers_of("NG")
    assert (zero.name, zero.requires, zero.daily_out) == ("unverified", Requirement.NONE, ngn("0"))
    assert zero.max_balance is not None and zero.ours == ALL_LIMITS
    assert (one.requires, one.daily_out, one.max_balance, one.monthly_in) == (
        Requirement.BVN_OR_NIN,
        ngn("50000"),
        ngn("300000"),
        None,
    )
    assert (two.requires, two.daily_out, two.max_balance) == (
        Requirement.BVN_AND_NIN,
        ngn("200000"),
        ngn("500000"),
    )
    assert (three.requires, three.daily_out, three.max_balance) == (
        Requirement.STAFF_REVIEW,
        ngn("5000000"),
        None,
    )
    assert one.ours == two.ours == three.ours == frozenset()


@pytest.mark.parametrize("code", UEMOA)
def test_uemoa_identified_clients_get_the_bceao_caps(code: str) -> None:
    zero, identified = kyc.tiers_of(code)
    assert identified.requires is Requirement.NATIONAL_ID
    assert identified.max_balance == Money.of("2000000", "XOF")
    assert identified.monthly_in == Money.of("10000000", "XOF")
    assert identified.ours == frozenset({Limit.DAILY_OUT})
    assert zero.daily_out.minor == 0 and zero.ours == ALL_LIMITS
    assert zero.max_balance is not None and zero.max_balance.minor < identified.max_balance.minor


@pytest.mark.parametrize("code", OURS_ONLY)
def test_countries_not_researched_use_our_own_limits_and_say_so(code: str) -> None:
    for limits in kyc.tiers_of(code):
        assert limits.ours == ALL_LIMITS
        assert "our policy" in limits.basis.lower()
    assert kyc.tiers_of(code)[0].daily_out.minor == 0


@pytest.mark.parametrize("code", COUNTRY_CODES)
def test_tier_zero_sends_nothing_out_and_holds_more_than_the_demo_balance(code: str) -> None:
    country = get_country(code)
    assert country is not None
    zero = kyc.limits_for(code, 0)
    assert zero.daily_out.minor == 0
    assert zero.max_balance is not None and zero.max_balance.minor > country.demo_opening_balance.minor


def test_limits_for_a_tier_above_the_top_gives_the_top_and_unknowns_are_refused() -> None:
    assert kyc.limits_for("SN", 3).tier == 1
    assert kyc.limits_for("ng", 2).tier == 2
    with pytest.raises(kyc.KycError):
        kyc.limits_for("FR", 0)
    with pytest.raises(kyc.KycError):
        kyc.limits_for("NG", -1)


def test_next_tier_says_what_it_needs() -> None:
    following = kyc.next_tier("NG", 0)
    assert following is not None and following.requires is Requirement.BVN_OR_NIN
    following = kyc.next_tier("NG", 2)
    assert following is not None and following.requires is Requirement.STAFF_REVIEW
    assert kyc.next_tier("NG", 3) is None
    following = kyc.next_tier("GH", 0)
    assert following is not None and following.requires is Requirement.NATIONAL_ID
    assert kyc.next_tier("GH", 1) is None


def test_accepted_kinds_per_country() -> None:
    assert kyc.accepted_kinds("NG") == {IdentityKind.BVN, IdentityKind.NIN}
    assert kyc.accepted_kinds("CI") == {IdentityKind.NATIONAL_ID}


def test_earned_tier_climbs_in_order_and_never_reaches_staff_review() -> None:
    bvn, nin = IdentityKind.BVN, IdentityKind.NIN
    assert kyc.earned_tier("NG", frozenset()) == 0
    assert kyc.earned_tier("NG", frozenset({bvn})) == 1
    assert kyc.earned_tier("NG", frozenset({nin})) == 1
    assert kyc.earned_tier("NG", frozenset({bvn, nin})) == 2
    assert kyc.earned_tier("SN", frozenset({IdentityKind.NATIONAL_ID})) == 1
    assert kyc.earned_tier("SN", frozenset({bvn, nin})) == 0


@pytest.mark.parametrize(
    ("kind", "typed", "expected"),
    [
        (IdentityKind.BVN, "22212345678", "22212345678"),
        (IdentityKind.BVN, " 222-1234-5678 ", "22212345678"),
        (IdentityKind.NIN, "701 2345 6789", "70123456789"),
        (IdentityKind.BVN, "2221234567", NumberProblem.WRONG_LENGTH),
        (IdentityKind.NIN, "701234567890", NumberProblem.WRONG_LENGTH),
        (IdentityKind.BVN, "2221234567O", NumberProblem.NOT_DIGITS),
        (IdentityKind.BVN, "２２２１２３４５６７８", NumberProblem.NOT_DIGITS),
        (IdentityKind.NIN, "", NumberProblem.WRONG_LENGTH),
        (IdentityKind.BVN, "1" * 200, NumberProblem.WRONG_LENGTH),
        (IdentityKind.NATIONAL_ID, "GHA-123456789-0", "GHA1234567890"),
        (IdentityKind.NATIONAL_ID, "ci 0012 3456 78", "CI0012345678"),
        (IdentityKind.NATIONAL_ID, "1 234 5678 90123", "1234567890123"),
        (IdentityKind.NATIONAL_ID, "ABC12", NumberProblem.MALFORMED),
        (IdentityKind.NATIONAL_ID, "ABCDEFGH12", NumberProblem.MALFORMED),
        (IdentityKind.NATIONAL_ID, "GHA_1234567890", NumberProblem.MALFORMED),
        (IdentityKind.NATIONAL_ID, "X" * 30 + "1234", NumberProblem.MALFORMED),
    ],
)
def test_validate_number(kind: IdentityKind, typed: str, expected: str | NumberProblem) -> None:
    assert kyc.validate_number(kind, typed) == expected


def test_identity_hash_is_keyed_and_separates_kinds_and_countries() -> None:
    number = "22212345678"
    digest = kyc.identity_hash(IdentityKind.BVN, "NG", number, "pepper-one")
    assert len(digest) == 64 and number not in digest
    assert digest == kyc.identity_hash(IdentityKind.BVN, "ng", number, b"pepper-one")
    assert digest != kyc.identity_hash(IdentityKind.BVN, "NG", number, "pepper-two")
    assert digest != kyc.identity_hash(IdentityKind.NIN, "NG", number, "pepper-one")
    national = kyc.identity_hash(IdentityKind.NATIONAL_ID, "SN", number, "pepper-one")
    assert national != kyc.identity_hash(IdentityKind.NATIONAL_ID, "CI", number, "pepper-one")
    with pytest.raises(kyc.KycError):
        kyc.identity_hash(IdentityKind.BVN, "NG", number, "")


@pytest.mark.parametrize(
    ("name", "other", "same"),
    [
        ("ADAEZE CHIOMA OKAFOR", "Adaeze Okafor", True),
        ("OKAFOR ADAEZE", "ADAEZE C. OKAFOR", True),
        ("ADA OKAFOR", "ADAEZE OKAFOR", True),
        ("MUSA", "MUSA BELLO", True),
        ("ADAEZE OKAFOR", "CHINEDU OKAFOR", False),
        ("ADAEZE OKAFOR", "EMEKA BELLO", False),
        ("A OKAFOR", "ADAEZE OKAFOR", False),
    ],
)
def test_same_person_tolerates_spelling_not_strangers(name: str, other: str, same: bool) -> None:
    assert kyc.same_person(name, other) is same
