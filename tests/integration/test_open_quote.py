"""What people type while a quote or a question is open: corrections, side questions, a yes to
the bot's own suggestion, an amount far out of range, a request for a person. Every dialogue ends
with the wallet and the ledger checked on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from conversations.engine import Engine
from domain import handoff
from domain.countries import get_country
from domain.database import Database
from domain.models import Staff
from domain.ports import TopupRequest, TopupResult, TopupStatus
from nexustop.queues import InProcessQueue
from tests.integration.dialogue import Chat, assert_ledger_balanced, chat_engine
from tests.integration.inbox_harness import conversation_of, new_staff


@pytest.fixture
async def engine(db: Database) -> AsyncIterator[tuple[Engine, InProcessQueue]]:
    async with chat_engine(db) as pair:
        yield pair


def opening(country: str) -> int:
    """A new demo user's wallet in ``country``, in minor units."""
    found = get_country(country)
    assert found is not None
    return found.demo_opening_balance.minor


def chat(pair: tuple[Engine, InProcessQueue], **kwargs: str) -> Chat:
    return Chat(pair[0], pair[1], **kwargs)


async def spent(c: Chat, db: Database, currency: str, opening: int, minor: int) -> None:
    """The wallet paid exactly ``minor`` out of ``opening`` and the ledger still balances."""
    balance = await c.wallet(db, currency)
    assert balance.posted == opening - minor and balance.debits_pending == 0
    await assert_ledger_balanced(db)


# --------------------------------------------------------------------------- 1. corrections

CORRECTED = [
    # (country, language, first message, the correction, the corrected quote, the receipt, the price)
    (
        "NG", "en", "buy 200 credit for 08051234567", "wrong number o, its 08071234567",
        "Buy ₦200.00 Glo airtime for +234 807 123 4567?", "₦200.00 Glo airtime to +234 807 123 4567", 200_00,
    ),
    (
        "GH", "en", "airtime 5 cedis for 0241234567", "sorry, wrong number. It's 0241239876",
        "Buy GH₵5.00 MTN airtime for +233 24 123 9876?", "GH₵5.00 MTN airtime to +233 24 123 9876", 5_00,
    ),
    (
        "LR", "en", "airtime 100 for 0881234567", "my mistake, make it 250",
        "Buy L$250.00", "L$250.00", 250_00,
    ),
    (
        "NG", "pcm", "abeg load 500 for 08031234567", "na wrong number i give you, na 08091234567",
        "Buy ₦500.00 9mobile airtime for +234 809 123 4567?", "₦500.00 9mobile airtime to +234 809 123 4567",
        500_00,
    ),
    (
        "NG", "pcm", "abeg load 500 for 08031234567", "sorry na airtel i mean",
        "Buy ₦500.00 Airtel airtime for +234 803 123 4567?", "₦500.00 Airtel airtime", 500_00,
    ),
    (
        "SN", "fr", "crédit 1000F pour 77 123 45 67", "mauvais numéro, c'est le 77 765 43 21",
        "Acheter 1 000 F CFA de crédit Orange pour +221 77 765 43 21 ?", "+221 77 765 43 21", 1000,
    ),
    (
        "CI", "fr", "crédit 1000F pour 07 07 08 09 10", "pardon je voulais dire 500",
        "Acheter 500 F CFA", "500 F CFA", 500,
    ),
    (
        "CV", "pt", "recarga 200 para 991 23 45", "número errado, é o 995 43 21",
        "Comprar recarga Alou de 200,00 CVE para +238 995 43 21?", "+238 995 43 21", 200_00,
    ),
]  # fmt: skip
CURRENCY = {
    "NG": "NGN",
    "GH": "GHS",
    "SN": "XOF",
    "CI": "XOF",
    "CV": "CVE",
    "LR": "LRD",
    "SL": "SLE",
    "MR": "MRU",
}


@pytest.mark.parametrize(
    ("country", "language", "first", "correction", "quote", "receipt", "price"), CORRECTED
)
async def test_a_correction_however_worded_changes_the_quote_and_the_old_one_buys_nothing(
    engine, db, country: str, language: str, first: str, correction: str, quote: str, receipt: str, price: int
) -> None:
    c = chat(engine, country=country, language=language)
    await c.say(first)
    old = c.last_choice("confirm:")
    text = await c.say(correction)
    assert quote in text, text
    assert "person" not in text and "personne" not in text and "pessoa" not in text
    new = c.last_choice("confirm:")
    assert new != old
    refused = await c.press(old)
    assert "Order placed" not in refused and "Commande" not in refused and "Pedido" not in refused
    await c.press(new)
    assert receipt in await c.receipts()
    await spent(c, db, CURRENCY[country], opening(country), price)


@pytest.mark.parametrize(
    ("country", "language", "first", "wrong", "question"),
    [
        ("NG", "pcm", "abeg load 500 for 08031234567", "e be wrong number o", "Which phone number"),
        ("SN", "fr", "crédit 1000F pour 77 123 45 67", "mauvais numéro", "Quel numéro"),
        ("CV", "pt", "recarga 200 para 991 23 45", "número errado", "Que número devo carregar?"),
        ("NG", "en", "buy 500 airtime for 08031234567", "wrong amount", "How much MTN airtime?"),
    ],
)
async def test_saying_only_what_is_wrong_asks_for_it_again_and_the_old_quote_buys_nothing(
    engine, db, country: str, language: str, first: str, wrong: str, question: str
) -> None:
    c = chat(engine, country=country, language=language)
    await c.say(first)
    old = c.last_choice("confirm:")
    text = await c.say(wrong)
    assert question in text and "person" not in text
    assert "Order placed" not in await c.press(old)
    await spent(c, db, CURRENCY[country], opening(country), 0)


# --------------------------------------------------------------------------- 2. side questions

SIDE_QUESTIONS = [
    ("NG", "en", "buy 500 airtime for 08031234567", "how much is left in my wallet?", "₦10,000.00"),
    ("NG", "pcm", "abeg load 500 for 08031234567", "how much remain for my account?", "₦10,000.00"),
    ("NG", "pcm", "abeg load 500 for 08031234567", "wetin remain for my wallet", "₦10,000.00"),
    (
        "SN",
        "fr",
        "crédit 1000F pour 77 123 45 67",
        "il me reste combien dans mon portefeuille ?",
        "10 000 F CFA",
    ),
    ("CV", "pt", "recarga 200 para 991 23 45", "quanto tenho na carteira?", "1 500,00 CVE"),
    ("GH", "en", "airtime 5 cedis for 0241234567", "show my transactions", "You have no orders yet."),
]
STILL_OPEN = ("Your quote is still open", "Votre devis est toujours ouvert", "A sua proposta continua aberta")


@pytest.mark.parametrize(("country", "language", "first", "question", "answer"), SIDE_QUESTIONS)
async def test_a_side_question_at_a_quote_is_answered_and_the_quote_stays_open(
    engine, db, country: str, language: str, first: str, question: str, answer: str
) -> None:
    c = chat(engine, country=country, language=language)
    text = await c.say(first)
    first_confirm = c.last_choice("confirm:")
    text = await c.say(question)
    assert answer in text, text
    assert any(words in text for words in STILL_OPEN), text
    assert c.last_choice("confirm:") == first_confirm
    await c.say("yes")
    assert "✅" in await c.receipts()
    price = {"NG": 500_00, "GH": 5_00, "SN": 1000, "CV": 200_00}[country]
    await spent(c, db, CURRENCY[country], opening(country), price)


async def test_a_question_asked_while_the_bot_waits_for_an_answer_is_answered_and_asked_again(
    engine, db
) -> None:
    c = chat(engine, country="NG")
    await c.say("buy airtime for 08031234567")
    text = await c.say("how much remain for my wallet?")
    assert "₦10,000.00" in text and text.rstrip().endswith("How much MTN airtime?")
    assert "Buy ₦300.00 MTN airtime" in await c.say("300")
    await c.press("cancel")
    await spent(c, db, "NGN", opening("NG"), 0)


# --------------------------------------------------------------------------- 3. yes to a suggestion

SUGGESTIONS = [
    # (country, language, the user's own phone, first message, the yes, the quote, the suggested price)
    (
        "SL",
        "en",
        "+23276120001",
        "airtime 10,000 leones for my number",
        "yes",
        "Buy Le 10.00 Orange airtime",
        10_00,
    ),
    (
        "SL",
        "pcm",
        "+23276120002",
        "abeg load 20000 leones for my line",
        "yes o",
        "Buy Le 20.00 Orange airtime",
        20_00,
    ),
    ("SL", "en", "+23276120003", "airtime 30000 for my number", "👍", "Buy Le 30.00 Orange airtime", 30_00),
    ("MR", "fr", "+22222120004", "crédit 6000 pour mon numéro", "oui", "Acheter 600,00 UM de crédit", 600_00),
    (
        "SL",
        "pt",
        "+23276120005",
        "recarga 50000 para o meu número",
        "sim",
        "Comprar recarga Orange de SLE 50,00",
        50_00,
    ),
]


@pytest.mark.parametrize(("country", "language", "phone", "first", "yes", "quote", "price"), SUGGESTIONS)
async def test_yes_accepts_the_amount_the_bot_suggested(
    engine, db, country: str, language: str, phone: str, first: str, yes: str, quote: str, price: int
) -> None:
    c = chat(engine, country=country, language=language, phone=phone)
    await c.say("hi")
    opening = (await c.wallet(db, CURRENCY[country])).posted
    text = await c.say(first)
    assert c.transcript[-1].buttons[0].id == f"amount:{price}", text
    text = await c.say(yes)
    assert quote in text, text
    await c.press(c.last_choice("confirm:"))
    assert "✅" in await c.receipts()
    await spent(c, db, CURRENCY[country], opening, price)


async def test_yes_without_a_suggestion_still_asks_the_question_again(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy airtime for 08031234567")
    assert "How much MTN airtime?" in await c.say("yes")
    await spent(c, db, "NGN", opening("NG"), 0)


# --------------------------------------------------------------------------- 4. far out of range

OUT_OF_RANGE = [
    ("NG", "en", "airtime 1000000 for 08031234567", "between ₦50.00 and ₦50,000.00"),
    ("NG", "en", "airtime 99999999999999999999999 for 08031234567", "between ₦50.00 and ₦50,000.00"),
    ("NG", "pcm", "abeg load 20000000 for 08031234567", "between ₦50.00 and ₦50,000.00"),
    ("SN", "fr", "crédit 10000000 pour 77 123 45 67", "entre 100 F CFA et 100 000 F CFA"),
    ("CV", "pt", "recarga 1000000 para 991 23 45", "entre 50,00 CVE e 10 000,00 CVE"),
]


@pytest.mark.parametrize(("country", "language", "message", "range_"), OUT_OF_RANGE)
async def test_an_amount_far_above_the_maximum_says_the_range(
    engine, db, country: str, language: str, message: str, range_: str
) -> None:
    c = chat(engine, country=country, language=language)
    text = await c.say(message)
    assert range_ in text, text
    await spent(c, db, CURRENCY[country], opening(country), 0)


async def test_an_amount_far_above_the_maximum_at_a_quote_says_the_range(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    old = c.last_choice("confirm:")
    text = await c.say("no, make it 5000000")
    assert "between ₦50.00 and ₦50,000.00" in text
    assert "Order placed" not in await c.press(old)
    await spent(c, db, "NGN", opening("NG"), 0)


# --------------------------------------------------------------------------- 5. asking for a person

ASKS = [
    ("NG", "en", "I want to talk to a person", "passing you to a person"),
    ("GH", "en", "can I speak to someone", "passing you to a person"),
    ("LR", "en", "connect me to customer care", "passing you to a person"),
    ("NG", "pcm", "abeg make i talk to una person", "passing you to a person"),
    ("SN", "fr", "je voudrais parler avec un conseiller", "Je vous passe à une personne"),
    ("CI", "fr", "mettez-moi en relation avec quelqu'un svp", "Je vous passe à une personne"),
    ("CV", "pt", "quero falar com uma pessoa", "Vou passá-lo a uma pessoa"),
]


@pytest.mark.parametrize(("country", "language", "ask", "handed"), ASKS)
async def test_asking_for_a_person_in_plain_words_hands_the_chat_over(
    engine, db, country: str, language: str, ask: str, handed: str
) -> None:
    c = chat(engine, country=country, language=language)
    await c.say("hi")
    text = await c.say(ask)
    assert handed in text and "Sorry" not in text, text


# --------------------------------------------------------------------------- the quote after a handoff

EXPIRED = ("That offer has expired", "Cette offre a expiré", "Esta oferta expirou")


def _expired(text: str) -> bool:
    return any(words in text for words in EXPIRED)


@pytest.mark.parametrize(
    ("country", "language", "first", "ask"),
    [
        ("NG", "en", "buy 500 airtime for 08031234567", "I want to talk to a person"),
        ("NG", "pcm", "abeg load 500 for 08031234567", "i wan yarn with una customer care"),
        ("SN", "fr", "crédit 1000F pour 77 123 45 67", "je veux parler à quelqu'un"),
        ("CV", "pt", "recarga 200 para 991 23 45", "posso falar com um atendente?"),
    ],
)
async def test_a_quote_open_when_a_person_is_asked_for_expires(
    engine, db, country: str, language: str, first: str, ask: str
) -> None:
    c = chat(engine, country=country, language=language)
    await c.say(first)
    old = c.last_choice("confirm:")
    await c.say(ask)
    assert _expired(await c.press(old))
    assert "Order placed" not in await c.say("yes")
    await spent(c, db, CURRENCY[country], opening(country), 0)


async def test_a_quote_open_when_two_misunderstood_turns_hand_off_expires(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    old = c.last_choice("confirm:")
    await c.say("hmm lemme think")
    text = await c.say("qwertyuiop")
    assert "passing you to a person" in text
    assert not any(
        choice.id.startswith("confirm:") for reply in c.transcript[-2:] for choice in reply.choices()
    )
    assert _expired(await c.press(old))
    await spent(c, db, "NGN", opening("NG"), 0)


async def test_a_quote_open_when_another_flow_starts_expires(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    old = c.last_choice("confirm:")
    await c.say("gift 500 to 08051234567")  # a different flow: a gift
    assert _expired(await c.press(old))
    await spent(c, db, "NGN", opening("NG"), 0)


async def test_a_quote_open_when_a_person_takes_the_chat_over_expires(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    old = c.last_choice("confirm:")
    email = await new_staff(db)
    conversation = await conversation_of(db, "test", c.user)
    async with db.transaction() as session:
        staff = await session.scalar(select(Staff).where(Staff.email == email))
        assert staff is not None
        assert await handoff.take_over(session, conversation.id, staff.id, staff.name)
        assert await handoff.hand_back(session, conversation.id, staff.id, staff.name)
    assert _expired(await c.press(old))
    assert "Order placed" not in await c.say("yes")
    await spent(c, db, "NGN", opening("NG"), 0)


class HeldProvider:
    """A provider that answers only when released, and then never with a final word."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        await self.release.wait()
        return TopupResult(TopupStatus.PENDING, detail="processing")

    async def query_topup(self, reference: str) -> TopupResult:
        return TopupResult(TopupStatus.PENDING, detail="processing")


async def test_a_quote_open_when_an_order_goes_to_review_expires(db) -> None:
    provider = HeldProvider()
    queue = InProcessQueue(db, provider, (0.0, 0.0))
    c = Chat(Engine(db, queue, demo=True), queue, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    await c.press(c.last_choice("confirm:"))
    await c.say("airtime 300 for 08051234567")  # a second quote, open while the first order is out
    second = c.last_choice("confirm:")
    provider.release.set()
    await queue.drain(10)
    assert "while our team checks it" in await c.receipts()
    assert _expired(await c.press(second))
    balance = await c.wallet(db, "NGN")
    assert balance.available == opening("NG") - 500_00 and balance.debits_pending == 500_00  # only the first
    await queue.close()
    await assert_ledger_balanced(db)
