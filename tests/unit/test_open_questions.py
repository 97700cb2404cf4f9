"""Table-driven tests of what a message says to an open quote or question, in every language."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conversations.intents import Intent
from conversations.parser import parse
from conversations.vocabulary import LANGUAGES, load_language

D = Decimal

# (message, country, expected fields): only the fields named are checked.
ASKING_FOR_A_PERSON: list[tuple[str, str]] = [
    ("I want to talk to a person", "NG"),
    ("can I speak to someone", "GH"),
    ("connect me to a person", "NG"),
    ("please let me chat with an agent", "LR"),
    ("I'd like to speak with customer care", "GM"),
    ("can I talk to support?", "SL"),
    ("put me through to a human please", "GH"),
    ("abeg make i talk to una person", "NG"),
    ("i wan yarn with person abeg", "NG"),
    ("connect me with una customer care", "NG"),
    ("je veux parler à quelqu'un", "SN"),
    ("je voudrais parler avec un conseiller", "CI"),
    ("mettez-moi en relation avec un agent svp", "BJ"),
    ("puis-je discuter avec une personne ?", "ML"),
    ("passez-moi le service client", "TG"),
    ("quero falar com uma pessoa", "CV"),
    ("posso falar com alguém?", "GW"),
    ("quero conversar com um atendente", "CV"),
    ("passa-me ao apoio ao cliente", "CV"),
]

#: A correction worded like a complaint still carries the new value, and says it corrects.
CORRECTIONS: list[tuple[str, str, dict[str, Any]]] = [
    ("wrong number o, its 08071234567", "NG", {"phone": "+2348071234567"}),
    ("sorry wrong number, it's 0241234567", "GH", {"phone": "+233241234567"}),
    ("i mean 08071234567", "NG", {"phone": "+2348071234567"}),
    ("na wrong number i give you, na 08091234567", "NG", {"phone": "+2348091234567"}),
    ("no be that number, abeg use 08091234567", "NG", {"phone": "+2348091234567"}),
    ("mauvais numéro, c'est le 76 123 45 67", "SN", {"phone": "+221761234567"}),
    ("pardon je voulais dire 2000", "CI", {"amount": D(2000)}),
    ("número errado, é o 951 23 45", "CV", {"phone": "+2389512345"}),
    ("desculpa, quis dizer 500", "CV", {"amount": D(500)}),
]

#: A correction that names what was wrong without the new value.
WRONG_VALUES: list[tuple[str, str, str]] = [
    ("wrong number", "NG", "phone"),
    ("e be wrong number o", "NG", "phone"),
    ("mauvais numéro", "SN", "phone"),
    ("número errado", "CV", "phone"),
    ("wrong amount", "NG", "amount"),
    ("mauvais montant", "SN", "amount"),
    ("valor errado", "CV", "amount"),
]

#: How much is left in the wallet, asked the ways people ask: a question, never "add money".
BALANCE_QUESTIONS: list[tuple[str, str]] = [
    ("how much remain for my account?", "NG"),
    ("how much remain for my wallet?", "NG"),
    ("wetin remain for my wallet", "NG"),
    ("how much is in my wallet", "GH"),
    ("how much is left in my account?", "LR"),
    ("what's my wallet balance", "NG"),
    ("combien il me reste dans mon portefeuille ?", "SN"),
    ("il me reste combien sur mon compte", "CI"),
    ("quanto tenho na carteira?", "CV"),
    ("quanto me resta na carteira", "GW"),
]

YESES: list[tuple[str, str]] = [
    ("yes", "SL"),
    ("yes o", "NG"),
    ("👍", "GH"),
    ("oui", "MR"),
    ("oui c'est ça", "SN"),
    ("sim", "CV"),
    ("yes please", "LR"),
    ("ok na", "NG"),
]

#: Amounts far above any range are still amounts (the range is then said), whatever their size.
BIG_AMOUNTS: list[tuple[str, str, Decimal]] = [
    ("airtime 1000000 for 08031234567", "NG", D(1_000_000)),
    ("airtime 5000000 for 08031234567", "NG", D(5_000_000)),
    ("abeg load 20000000 for my line", "NG", D(20_000_000)),
    ("crédit 10000000 pour 77 123 45 67", "SN", D(10_000_000)),
    ("recarga 1000000 para 991 23 45", "CV", D(1_000_000)),
    ("no, 300000000", "GH", D(300_000_000)),
]


@pytest.mark.parametrize(("text", "country"), ASKING_FOR_A_PERSON)
def test_asking_for_a_person_is_understood(text: str, country: str) -> None:
    assert parse(text, country).intent is Intent.TALK_TO_AGENT


@pytest.mark.parametrize(("text", "country", "expected"), CORRECTIONS)
def test_a_correction_is_flagged_and_keeps_its_value(
    text: str, country: str, expected: dict[str, Any]
) -> None:
    parsed = parse(text, country)
    assert "correction" in parsed.flags
    for name, value in expected.items():
        assert getattr(parsed, name) == value, (name, parsed)


@pytest.mark.parametrize(("text", "country", "slot"), WRONG_VALUES)
def test_saying_a_value_is_wrong_names_the_value(text: str, country: str, slot: str) -> None:
    parsed = parse(text, country)
    assert "correction" in parsed.flags and f"wrong:{slot}" in parsed.flags


@pytest.mark.parametrize(
    ("text", "country"), [("I need a human", "NG"), ("buy 500 airtime for 08031234567", "NG"), ("oui", "SN")]
)
def test_a_plain_message_is_no_correction(text: str, country: str) -> None:
    assert not any(flag == "correction" or flag.startswith("wrong:") for flag in parse(text, country).flags)


@pytest.mark.parametrize(("text", "country"), BALANCE_QUESTIONS)
def test_a_balance_question_is_no_request_to_add_money(text: str, country: str) -> None:
    assert parse(text, country).intent is Intent.CHECK_BALANCE


@pytest.mark.parametrize(
    ("text", "country"),
    [("wallet", "NG"), ("fund my wallet", "NG"), ("add money to my wallet", "GH"), ("carteira 500", "CV")],
)
def test_asking_to_add_money_is_still_understood(text: str, country: str) -> None:
    assert parse(text, country).intent is Intent.FUND_WALLET


@pytest.mark.parametrize(("text", "country"), YESES)
def test_yes_in_every_language(text: str, country: str) -> None:
    assert parse(text, country).intent is Intent.CONFIRM


@pytest.mark.parametrize(("text", "country", "amount"), BIG_AMOUNTS)
def test_a_big_amount_is_read_as_an_amount(text: str, country: str, amount: Decimal) -> None:
    parsed = parse(text, country)
    assert parsed.amount == amount and "invalid_phone" not in parsed.flags


@pytest.mark.parametrize(("text", "country"), [("airtime 99999999999999999999999 for 08031234567", "NG")])
def test_an_amount_too_long_to_read_is_flagged_as_too_big(text: str, country: str) -> None:
    assert "huge_amount" in parse(text, country).flags


@pytest.mark.parametrize(
    ("text", "country"), [("0803123456 500", "NG"), ("1234567", "NG"), ("97 12 34 5", "BJ")]
)
def test_a_number_that_looks_like_a_phone_is_still_no_amount(text: str, country: str) -> None:
    parsed = parse(text, country)
    assert "invalid_phone" in parsed.flags and parsed.amount in (None, D(500))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_ways_to_ask_for_a_person_and_to_correct(language: str) -> None:
    vocab = load_language(language)
    assert len(vocab.intents[Intent.TALK_TO_AGENT][3]) >= 20
    assert vocab.corrections.get("phone") and vocab.corrections.get("any")
