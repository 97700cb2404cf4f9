"""Table-driven and property tests for the chat message parser."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.intents import Intent
from conversations.parser import Parsed, parse
from domain.countries import COUNTRY_CODES

D = Decimal

# (message, country, expected fields): only the fields named are checked.
CASES: list[tuple[str, str, dict[str, Any]]] = [
    # --- English, Nigeria
    (
        "buy 500 airtime for 08031234567",
        "NG",
        {"intent": Intent.BUY_AIRTIME, "amount": D(500), "phone": "+2348031234567", "network_guess": "MTN"},
    ),
    ("1GB for 08031234567", "NG", {"intent": Intent.BUY_DATA, "data_mb": 1024, "amount": None}),
    ("data 2GB", "NG", {"intent": Intent.BUY_DATA, "data_mb": 2048}),
    (
        "500 for 0803 123 4567",
        "NG",
        {"intent": Intent.BUY_AIRTIME, "amount": D(500), "phone": "+2348031234567"},
    ),
    ("08031234567 200", "NG", {"intent": Intent.BUY_AIRTIME, "amount": D(200)}),
    (
        "send 2000 to 08031234567",
        "NG",
        {"intent": Intent.SEND_MONEY, "amount": D(2000), "phone": "+2348031234567"},
    ),
    ("fund wallet 5000", "NG", {"intent": Intent.FUND_WALLET, "amount": D(5000)}),
    ("add money", "NG", {"intent": Intent.FUND_WALLET}),
    ("top up my wallet with 3k", "NG", {"intent": Intent.FUND_WALLET, "amount": D(3000)}),
    ("pay NEPA", "NG", {"intent": Intent.PAY_BILL}),
    ("pay DSTV 7900", "NG", {"intent": Intent.PAY_BILL, "amount": D(7900)}),
    ("I want to pay my bill", "NG", {"intent": Intent.PAY_BILL, "language": "en"}),
    ("gift 500 to 08031234567", "NG", {"intent": Intent.GIFT, "amount": D(500)}),
    ("gift data 1GB to 08031234567", "NG", {"intent": Intent.GIFT, "data_mb": 1024}),
    ("balance", "NG", {"intent": Intent.CHECK_BALANCE}),
    ("check my data balance", "NG", {"intent": Intent.CHECK_BALANCE}),
    ("history", "NG", {"intent": Intent.HISTORY}),
    ("show my transactions", "NG", {"intent": Intent.HISTORY}),
    ("agent", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("I need a human", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("customer care please", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("help", "NG", {"intent": Intent.HELP}),
    ("hi", "NG", {"intent": Intent.HELP}),
    ("hello", "GH", {"intent": Intent.HELP}),
    ("yes", "NG", {"intent": Intent.CONFIRM}),
    ("confirm", "NG", {"intent": Intent.CONFIRM}),
    ("ok", "GH", {"intent": Intent.CONFIRM}),
    ("no", "NG", {"intent": Intent.CANCEL}),
    ("cancel", "NG", {"intent": Intent.CANCEL}),
    ("stop", "LR", {"intent": Intent.CANCEL}),
    ("what is the weather", "NG", {"intent": Intent.UNKNOWN}),
    ("", "NG", {"intent": Intent.UNKNOWN, "amount": None, "phone": None}),
    # --- amount shorthands
    ("1k airtime", "NG", {"amount": D(1000), "currency": None}),
    ("2.5k airtime", "NG", {"amount": D(2500)}),
    ("N500 mtn", "NG", {"intent": Intent.BUY_AIRTIME, "amount": D(500), "currency": "NGN", "network": "MTN"}),
    ("₦1,500 airtime", "NG", {"amount": D(1500), "currency": "NGN"}),
    ("recharge 1,500", "NG", {"amount": D(1500), "currency": None}),
    ("500 naira credit", "NG", {"amount": D(500), "currency": "NGN"}),
    ("N2k airtime", "NG", {"amount": D(2000), "currency": "NGN"}),
    ("airtime 1,500.50", "NG", {"amount": D("1500.50")}),
    (
        "GH₵10 for 0241234567",
        "GH",
        {"intent": Intent.BUY_AIRTIME, "amount": D(10), "currency": "GHS", "phone": "+233241234567"},
    ),
    ("GHS 10.50 airtime", "GH", {"amount": D("10.50"), "currency": "GHS"}),
    ("20 cedis credit", "GH", {"amount": D(20), "currency": "GHS"}),
    ("D50 credit", "GM", {"amount": D(50), "currency": "GMD"}),
    ("100 dalasis airtime", "GM", {"amount": D(100), "currency": "GMD"}),
    ("$5 credit", "LR", {"amount": D(5), "currency": "LRD"}),
    ("L$100 airtime", "LR", {"amount": D(100), "currency": "LRD"}),
    ("Le 20 airtime", "SL", {"amount": D(20), "currency": "SLE"}),
    ("SLE 15 top up", "SL", {"amount": D(15), "currency": "SLE"}),
    ("500 UM crédit", "MR", {"amount": D(500), "currency": "MRU"}),
    ("recharge 100 MRU", "MR", {"amount": D(100), "currency": "MRU"}),
    ("5000 FG crédit", "GN", {"amount": D(5000), "currency": "GNF"}),
    ("1000F", "GN", {"amount": D(1000), "currency": "GNF"}),
    ("1000F crédit", "CI", {"amount": D(1000), "currency": "XOF"}),
    ("1000 FCFA", "SN", {"amount": D(1000), "currency": "XOF"}),
    ("1 500 FCFA", "SN", {"amount": D(1500), "currency": "XOF"}),
    ("1.500 de crédit", "SN", {"amount": D(1500)}),
    ("2,5k de crédit", "CI", {"amount": D(2500)}),
    ("500 escudos", "CV", {"amount": D(500), "currency": "CVE"}),
    ("recarga de 1.500 escudos", "CV", {"amount": D(1500), "currency": "CVE"}),
    ("5 mil de recarga", "GW", {"amount": D(5000)}),
    # --- data sizes
    ("1.5G data", "NG", {"data_mb": 1536, "amount": None}),
    ("1gig", "NG", {"intent": Intent.BUY_DATA, "data_mb": 1024}),
    ("2 Go forfait", "SN", {"intent": Intent.BUY_DATA, "data_mb": 2048, "language": "fr"}),
    ("pass 500 Mo", "CI", {"intent": Intent.BUY_DATA, "data_mb": 500}),
    ("500MB", "NG", {"data_mb": 500, "amount": None}),
    ("2 giga de dados", "CV", {"intent": Intent.BUY_DATA, "data_mb": 2048, "language": "pt"}),
    ("pacote 1GB 300 escudos", "CV", {"data_mb": 1024, "amount": D(300), "currency": "CVE"}),
    ("send 1GB to 08031234567", "NG", {"intent": Intent.BUY_DATA, "data_mb": 1024}),
    # --- Pidgin
    (
        "abeg load my line 1k 08031234567",
        "NG",
        {"intent": Intent.BUY_AIRTIME, "amount": D(1000), "language": "pcm"},
    ),
    ("abeg buy recharge card 500 for me", "NG", {"intent": Intent.BUY_AIRTIME, "language": "pcm"}),
    ("wetin be my balance", "NG", {"intent": Intent.CHECK_BALANCE, "language": "pcm"}),
    ("na so", "NG", {"intent": Intent.CONFIRM, "language": "pcm"}),
    ("abeg i wan talk to person", "NG", {"intent": Intent.TALK_TO_AGENT, "language": "pcm"}),
    ("oga abeg dash my guy 2gig", "NG", {"intent": Intent.GIFT, "data_mb": 2048, "language": "pcm"}),
    ("leave am", "NG", {"intent": Intent.CANCEL}),
    # --- French
    (
        "je veux du crédit 1000F pour 77 123 45 67",
        "SN",
        {
            "intent": Intent.BUY_AIRTIME,
            "amount": D(1000),
            "currency": "XOF",
            "phone": "+221771234567",
            "network_guess": "ORANGE",
            "language": "fr",
        },
    ),
    ("solde", "SN", {"intent": Intent.CHECK_BALANCE, "language": "fr"}),
    ("historique", "CI", {"intent": Intent.HISTORY}),
    ("parler à un conseiller", "SN", {"intent": Intent.TALK_TO_AGENT, "language": "fr"}),
    ("aide", "SN", {"intent": Intent.HELP}),
    ("bonjour", "CI", {"intent": Intent.HELP, "language": "fr"}),
    ("oui", "SN", {"intent": Intent.CONFIRM}),
    ("annuler", "SN", {"intent": Intent.CANCEL}),
    ("non", "CI", {"intent": Intent.CANCEL}),
    (
        "envoyer 5000 au 0701234567",
        "CI",
        {"intent": Intent.SEND_MONEY, "amount": D(5000), "phone": "+2250701234567"},
    ),
    ("payer ma facture senelec", "SN", {"intent": Intent.PAY_BILL}),
    ("recharger mon portefeuille 10 000", "SN", {"intent": Intent.FUND_WALLET, "amount": D(10000)}),
    ("je suis au Sénégal", "SN", {"country": "SN", "language": "fr"}),
    ("forfait internet 1 Go orange", "CI", {"intent": Intent.BUY_DATA, "network": "ORANGE"}),
    # --- Portuguese
    ("saldo", "CV", {"intent": Intent.CHECK_BALANCE, "language": "pt"}),
    ("histórico", "CV", {"intent": Intent.HISTORY}),
    ("ajuda", "GW", {"intent": Intent.HELP}),
    ("olá", "CV", {"intent": Intent.HELP}),
    ("sim", "CV", {"intent": Intent.CONFIRM}),
    ("não", "CV", {"intent": Intent.CANCEL}),
    ("cancelar", "GW", {"intent": Intent.CANCEL}),
    (
        "quero recarregar 500 escudos para 9911234",
        "CV",
        {"intent": Intent.BUY_AIRTIME, "amount": D(500), "phone": "+2389911234", "language": "pt"},
    ),
    ("pacote de dados 2 Go", "GW", {"intent": Intent.BUY_DATA, "data_mb": 2048}),
    ("estou em Cabo Verde", "CV", {"country": "CV", "language": "pt"}),
    # --- identity checks and PIN resets, every language
    ("verify", "NG", {"intent": Intent.VERIFY_IDENTITY}),
    ("my bvn is 22123456789", "NG", {"intent": Intent.VERIFY_IDENTITY, "amount": None}),
    ("upgrade my account", "NG", {"intent": Intent.VERIFY_IDENTITY}),
    ("make i verify abeg", "NG", {"intent": Intent.VERIFY_IDENTITY, "language": "pcm"}),
    ("vérifier mon identité", "SN", {"intent": Intent.VERIFY_IDENTITY, "language": "fr"}),
    ("verificar identidade", "CV", {"intent": Intent.VERIFY_IDENTITY, "language": "pt"}),
    ("I forgot my PIN", "NG", {"intent": Intent.RESET_PIN}),
    ("reset pin", "GH", {"intent": Intent.RESET_PIN}),
    ("abeg i don forget my pin", "NG", {"intent": Intent.RESET_PIN, "language": "pcm"}),
    ("j'ai oublié mon code", "CI", {"intent": Intent.RESET_PIN, "language": "fr"}),
    ("esqueci o pin", "CV", {"intent": Intent.RESET_PIN, "language": "pt"}),
    # --- money out
    ("transfer 5k to +233241234567", "GH", {"intent": Intent.SEND_MONEY, "amount": D(5000)}),
    ("envoyer 5000 à 77 123 45 67", "SN", {"intent": Intent.SEND_MONEY, "phone": "+221771234567"}),
    ("abeg send 2k give 08031234567", "NG", {"intent": Intent.SEND_MONEY, "amount": D(2000)}),
    (
        "send 10000 to GTBank 0123456789",
        "NG",
        {"intent": Intent.SEND_MONEY, "amount": D(10000), "phone": None},
    ),
    # --- countries named
    ("I'm in Ghana", "NG", {"country": "GH"}),
    ("I live in sierra leone", "LR", {"country": "SL"}),
    ("guinea bissau", "GN", {"country": "GW"}),
    # --- typos (closed vocabulary only)
    ("airtle 500 08031234567", "NG", {"network": "AIRTEL", "intent": Intent.BUY_AIRTIME}),
    ("mnt 500 08031234567", "NG", {"network": "MTN"}),
    ("9mobil 200 08031234567", "NG", {"network": "9MOBILE", "amount": D(200)}),
    ("recharg 500", "NG", {"intent": Intent.BUY_AIRTIME}),
    ("balanse", "NG", {"intent": Intent.CHECK_BALANCE}),
    ("crédito 500", "CV", {"intent": Intent.BUY_AIRTIME}),
    ("credito 500", "CV", {"intent": Intent.BUY_AIRTIME}),
    ("orang 1000F", "SN", {"network": "ORANGE", "intent": Intent.BUY_AIRTIME}),
    ("my man now", "NG", {"intent": Intent.UNKNOWN, "network": None}),
    # --- phones are not amounts, sizes are not amounts
    ("+234 803 123 4567", "NG", {"phone": "+2348031234567", "amount": None}),
    ("2348031234567", "NG", {"phone": "+2348031234567", "amount": None}),
    ("0803123456 500", "NG", {"phone": None, "amount": D(500)}),
    ("77 123 45 67", "SN", {"phone": "+221771234567", "amount": None}),
    ("0241234567", "GH", {"phone": "+233241234567", "network_guess": "MTN"}),
    # --- thanks, in every language; a request said with thanks is still the request
    ("thanks", "NG", {"intent": Intent.THANKS}),
    ("tank you o", "NG", {"intent": Intent.THANKS, "language": "pcm"}),
    ("merci beaucoup", "SN", {"intent": Intent.THANKS}),
    ("muito obrigado", "CV", {"intent": Intent.THANKS}),
    ("thanks, 500 for 08031234567", "NG", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("yes thanks", "NG", {"intent": Intent.CONFIRM}),
    ("how far my money", "NG", {"intent": Intent.CHECK_BALANCE}),
    ("saldo 500 para 955123456", "GW", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("saldo 500", "GW", {"intent": Intent.CHECK_BALANCE}),
    # --- a complaint goes to a person, even when it names a product
    ("I did not receive my airtime", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("my airtime never reach", "NG", {"intent": Intent.TALK_TO_AGENT, "language": "pcm"}),
    ("je n'ai pas reçu mon crédit", "SN", {"intent": Intent.TALK_TO_AGENT}),
    ("não recebi a recarga", "CV", {"intent": Intent.TALK_TO_AGENT}),
    ("I need help with my order", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("where is my order", "NG", {"intent": Intent.HISTORY}),
    ("où est ma commande ?", "SN", {"intent": Intent.HISTORY}),
    ("onde está o meu pedido", "CV", {"intent": Intent.HISTORY}),
    # --- the last order again
    ("same again", "NG", {"intent": Intent.REPEAT_ORDER}),
    ("do am again", "NG", {"intent": Intent.REPEAT_ORDER}),
    ("la même chose", "SN", {"intent": Intent.REPEAT_ORDER}),
    ("outra vez", "CV", {"intent": Intent.REPEAT_ORDER}),
    ("buy 500 again for 08031234567", "NG", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("buy 1gb again", "NG", {"intent": Intent.BUY_DATA, "data_mb": 1024}),
    ("send again", "NG", {"intent": Intent.SEND_MONEY}),
    # --- the sender's own number
    (
        "buy 500 airtime for my number",
        "NG",
        {"intent": Intent.BUY_AIRTIME, "own_number": True, "phone": None},
    ),
    ("1gig for my own line abeg", "NG", {"intent": Intent.BUY_DATA, "own_number": True, "language": "pcm"}),
    ("crédit 1000F pour moi", "SN", {"intent": Intent.BUY_AIRTIME, "own_number": True, "language": "fr"}),
    ("recarga 500 para mim", "CV", {"intent": Intent.BUY_AIRTIME, "own_number": True, "language": "pt"}),
    ("Mon numéro", "CI", {"own_number": True}),
    ("my balance", "NG", {"intent": Intent.CHECK_BALANCE, "own_number": False}),
    ("buy 500 airtime for 08031234567", "NG", {"own_number": False}),
    # --- the currencies a redenomination replaced are told apart from today's
    ("airtime SLL 20000", "SL", {"amount": D(20000), "currency": "SLL"}),
    ("Le 20 airtime", "SL", {"amount": D(20), "currency": "SLE"}),
    ("credit 1000 MRO", "MR", {"amount": D(1000), "currency": "MRO"}),
    # --- words that only look like a utility's name, and credit by any other name
    ("credit 1000 stp cest urgent", "SN", {"intent": Intent.BUY_AIRTIME, "amount": D(1000)}),
    ("credit 1000 pour mon compte", "SN", {"intent": Intent.BUY_AIRTIME}),
    ("recarga 500 ecv", "CV", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("mettre de l argent dans mon compte", "SN", {"intent": Intent.FUND_WALLET}),
    ("quero saldo para 9923456", "CV", {"intent": Intent.BUY_AIRTIME, "phone": "+2389923456"}),
    ("comprar saldo", "CV", {"intent": Intent.BUY_AIRTIME}),
    ("mete saldo 500", "CV", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("manda 500 de saldo pro 9923456", "CV", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("transfert de crédit 500 au 771112233", "SN", {"intent": Intent.BUY_AIRTIME, "amount": D(500)}),
    ("send 500 credit to 08031234567", "NG", {"intent": Intent.BUY_AIRTIME}),
    ("send 1000 to 08031234567 from my balance", "NG", {"intent": Intent.SEND_MONEY}),
    ("ultimas compras", "CV", {"intent": Intent.HISTORY}),
    # --- greetings and SMS answers
    ("salam alaykoum", "SN", {"intent": Intent.HELP}),
    ("nanga def", "SN", {"intent": Intent.HELP}),
    ("cc", "SN", {"intent": Intent.HELP}),
    ("wi", "SN", {"intent": Intent.CONFIRM}),
    ("nn", "SN", {"intent": Intent.CANCEL}),
    ("👍", "NG", {"intent": Intent.CONFIRM}),
    ("moi", "SN", {"own_number": True}),
    ("o meu", "CV", {"own_number": True}),
    # --- money written the local way, or in a currency we do not sell in
    ("recarga 200$00 para 9923456", "CV", {"amount": D(200), "currency": "CVE"}),
    ("recarga 1.500$00", "CV", {"amount": D(1500), "currency": "CVE"}),
    ("credit 10 euros pour 771112233", "SN", {"amount": D(10), "currency": "EUR"}),
    ("5 dollars airtime", "LR", {"amount": D(5), "currency": "LRD"}),
    ("recarga 5 dolares", "GW", {"amount": D(5), "currency": "USD"}),
    ("credit 1000 anciens ouguiyas", "MR", {"amount": D(1000), "currency": "MRO"}),
    # --- a minus sign makes no amount; two numbers are flagged
    ("airtime -500", "NG", {"amount": None, "flags": frozenset({"negative_amount"})}),
    ("0803-123-4567 500", "NG", {"amount": D(500), "phone": "+2348031234567"}),
    (
        "1gb for 08051234567 and 08091234567",
        "NG",
        {"phone": "+2348051234567", "flags": frozenset({"multiple_phones"})},
    ),
    # --- second pass: corrections by validity or "my number", where money is sent from, signs
    ("no, weekly", "NG", {"intent": Intent.UNKNOWN, "validity_days": 7}),
    ("non, 1 jour", "SN", {"intent": Intent.UNKNOWN, "validity_days": 1}),
    ("no, for me", "NG", {"intent": Intent.UNKNOWN, "own_number": True}),
    ("send 1000 to 08051234567 from my wallet", "NG", {"intent": Intent.SEND_MONEY}),
    ("envoie 1000 au 771234568 depuis mon portefeuille", "SN", {"intent": Intent.SEND_MONEY}),
    ("transférer 500 de crédit au 771234568", "SN", {"intent": Intent.BUY_AIRTIME}),
    ("recarga 500€ para 9911235", "CV", {"amount": D(500), "currency": "EUR"}),
    ("1Go 30j", "SN", {"data_mb": 1024, "validity_days": 30}),
    ("3-day data", "NG", {"validity_days": 3}),
    ("na me", "NG", {"own_number": True}),
    # --- the network is wrong
    ("wrong network", "NG", {"intent": Intent.CHANGE_NETWORK}),
    ("changer operateur", "BJ", {"intent": Intent.CHANGE_NETWORK}),
    ("no, change network to airtel", "NG", {"intent": Intent.CHANGE_NETWORK, "network": "AIRTEL"}),
    ("mudar de operadora", "CV", {"intent": Intent.CHANGE_NETWORK}),
    # --- complaints, however they are put, go to a person
    ("i no receive my airtime", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("my airtime never come", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("una never send my data since morning", "NG", {"intent": Intent.TALK_TO_AGENT}),
    ("my data hasn't arrived", "GH", {"intent": Intent.TALK_TO_AGENT}),
    ("where is my airtime", "LR", {"intent": Intent.TALK_TO_AGENT}),
    # --- a weak yes or no with a value is a correction, not an answer
    ("no, make it 08091234567", "NG", {"intent": Intent.UNKNOWN, "phone": "+2348091234567"}),
    ("no wait, 1000", "NG", {"intent": Intent.UNKNOWN, "amount": D(1000)}),
    ("non, 2000", "SN", {"intent": Intent.UNKNOWN, "amount": D(2000)}),
    ("cancel the 1000 airtime", "NG", {"intent": Intent.CANCEL}),
    ("send it to 08091234567 instead", "NG", {"intent": Intent.SEND_MONEY, "strength": 1}),
    # --- how long a bundle lasts, in days: words, or a number and a unit (never an amount)
    ("mtn 1gb monthly", "NG", {"intent": Intent.BUY_DATA, "data_mb": 1024, "validity_days": 30}),
    ("mtn 1gb montly", "NG", {"validity_days": 30, "flags": frozenset({"fuzzy"})}),
    ("mtn 1gb 30 days", "NG", {"amount": None, "data_mb": 1024, "validity_days": 30}),
    ("2gb for 1 week", "GH", {"amount": None, "data_mb": 2048, "validity_days": 7}),
    ("1gb 24h", "NG", {"data_mb": 1024, "validity_days": 1}),
    ("1gb 36 hrs", "NG", {"validity_days": 2}),
    ("500mb daily abeg", "NG", {"data_mb": 500, "validity_days": 1}),
    ("1 Go 7 jours orange", "SN", {"amount": None, "network": "ORANGE", "validity_days": 7}),
    ("forfait 2 Go semaine", "CI", {"data_mb": 2048, "validity_days": 7, "language": "fr"}),
    ("forfait mensuel", "BJ", {"intent": Intent.BUY_DATA, "validity_days": 30}),
    ("pacote mensal 5GB", "CV", {"data_mb": 5120, "validity_days": 30}),
    ("1GB por 30 dias", "CV", {"amount": None, "validity_days": 30}),
    ("recharge 500 for 2 days", "NG", {"amount": D(500), "validity_days": 2}),
    ("D50 airtime", "GM", {"amount": D(50), "currency": "GMD", "validity_days": None}),
    ("bom dia, quero 1GB", "CV", {"data_mb": 1024, "validity_days": None}),  # a greeting, no validity
    ("bonjour 1 go", "SN", {"data_mb": 1024, "validity_days": None}),
    ("1gb", "NG", {"validity_days": None}),
]


@pytest.mark.parametrize(("text", "country", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_parse_table(text: str, country: str, expected: dict[str, Any]) -> None:
    parsed = parse(text, country)
    for name, value in expected.items():
        assert getattr(parsed, name) == value, f"{name}: {parsed}"


def test_table_is_broad() -> None:
    countries = {c[1] for c in CASES}
    assert len(CASES) >= 80
    assert {"NG", "GH", "SN", "CI", "CV", "GM", "LR", "SL", "GN", "MR"} <= countries
    assert {c[2]["intent"] for c in CASES if "intent" in c[2]} == set(Intent)


@pytest.mark.parametrize(("text", "country"), [("0803123456 500", "NG"), ("crédit pour 77 123 45", "SN")])
def test_a_number_that_is_no_phone_is_flagged(text: str, country: str) -> None:
    parsed = parse(text, country)
    assert parsed.phone is None and "invalid_phone" in parsed.flags


def test_parsed_is_frozen() -> None:
    parsed = parse("balance", "NG")
    with pytest.raises(AttributeError):
        parsed.intent = Intent.HELP  # type: ignore[misc]


def test_unknown_country_still_parses() -> None:
    parsed = parse("buy 500 airtime", "ZZ")
    assert parsed.intent is Intent.BUY_AIRTIME
    assert parsed.amount == Decimal(500)


def test_huge_input_is_capped() -> None:
    parsed = parse("airtime 500 " + "x" * 1_000_000, "NG")
    assert parsed.amount == Decimal(500)


def _check(parsed: Parsed) -> None:
    assert isinstance(parsed.intent, Intent)
    assert parsed.amount is None or parsed.amount >= 0
    assert parsed.data_mb is None or (type(parsed.data_mb) is int and parsed.data_mb >= 0)
    assert "parse_error" not in parsed.flags


_pieces = st.sampled_from(
    [
        "buy",
        "airtime",
        "data",
        "1GB",
        "2,5k",
        "N500",
        "₦1,500",
        "1.500",
        "1 500",
        "1000F",
        "GH₵10",
        "D50",
        "0803 123 4567",
        "+234",
        "77 123 45 67",
        "-",
        "—",
        "$",
        "L$",
        "Le",
        "k",
        "9mobile",
        "mnt",
        "solde",
        "saldo",
        "não",
        "😀",
        "\u202e",
        "\x00",
        "\u0627\u0644",
        ".",
        ",",
    ]
)
_texts = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=30).map(" ".join),
    st.lists(_pieces, max_size=20).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(text=_texts, country=st.sampled_from(COUNTRY_CODES))
def test_parse_never_fails(text: str, country: str) -> None:
    _check(parse(text, country))


@settings(max_examples=100, deadline=None)
@given(text=st.text(), country=st.text(max_size=4))
def test_parse_any_country_string(text: str, country: str) -> None:
    _check(parse(text, country))
