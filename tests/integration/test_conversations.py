"""Scripted dialogues through the real engine on PostgreSQL: every language, every country."""

from __future__ import annotations

from collections.abc import AsyncIterator

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from conversations.engine import Engine
from conversations.messages import ChatKind, InboundMessage
from domain.countries import COUNTRY_CODES, get_country
from domain.database import Database
from domain.models import Gift
from domain.money import Money
from domain.phones import guess_network, normalize_phone
from nexustop.queues import InProcessQueue
from tests.integration.dialogue import Chat, assert_ledger_balanced, chat_engine, plain


@pytest.fixture
async def engine(db: Database) -> AsyncIterator[tuple[Engine, InProcessQueue]]:
    async with chat_engine(db) as pair:
        yield pair


def chat(pair: tuple[Engine, InProcessQueue], **kwargs: str) -> Chat:
    return Chat(pair[0], pair[1], **kwargs)


async def test_english_airtime_purchase_from_first_message_to_receipt(engine, db) -> None:
    c = chat(engine, country="NG")
    first = await c.say("buy 500 airtime for 08031234567")
    assert "Welcome" in first and "₦10,000.00" in first
    assert "Buy ₦500.00 MTN airtime for +234 803 123 4567?" in first
    assert "Network guessed" in first  # Nigerian numbers are portable: the guess is shown
    await c.press(c.last_choice("confirm:"))
    receipt = await c.receipts()
    assert "Delivered" in receipt and "₦500.00" in receipt and "₦9,500.00" in receipt
    assert "₦9,500.00" in await c.say("balance")
    await assert_ledger_balanced(db)


async def test_pidgin_data_purchase_with_bundle_list(engine, db) -> None:
    c = chat(engine, country="NG", phone="+2348051234567")
    text = await c.say("abeg i wan buy data for 08051234567")
    assert "Which Glo data bundle?" in text
    await c.press(c.last_choice("bundle:glo-ng-1gb-1d"))
    await c.say("yes")
    assert "Delivered" in await c.receipts()
    assert "₦9,650.00" in await c.say("wetin be my balance")


async def test_french_dialogue_in_senegal(engine, db) -> None:
    c = chat(engine, country="SN", language="fr")
    text = await c.say("bonjour")
    assert "Sénégal" in text
    text = await c.say("je veux du crédit")
    text = await c.say("77 123 45 67")
    assert "Orange" in text
    text = await c.say("1000F")
    assert "1 000 F CFA" in text
    await c.say("oui")
    receipt = await c.receipts()
    assert "1 000 F CFA" in receipt and "9 000 F CFA" in receipt


async def test_portuguese_dialogue_in_cabo_verde(engine, db) -> None:
    c = chat(engine, country="CV")
    text = await c.say("olá, quero recarga de 200 para 991 23 45")
    assert "200,00 CVE" in text
    await c.say("sim")
    assert "200,00 CVE" in await c.receipts()


async def test_cancel_at_any_point_moves_no_money(engine, db) -> None:
    c = chat(engine, country="GH")
    await c.say("airtime")
    await c.say("0241234567")
    text = await c.say("cancel")
    assert "Nothing was charged" in text or "Rien" in text
    assert "GH₵150.00" in await c.say("balance")


async def test_replayed_and_stale_confirmations_buy_once(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("airtime 100 for 08031234567")
    stale = c.last_choice("confirm:")
    await c.say("airtime 200 for 08031234567")
    fresh = c.last_choice("confirm:")
    assert "no longer valid" in await c.press(stale)
    await c.press(fresh)
    assert "already placed" in await c.press(fresh)
    assert "already placed" in await c.press(fresh)
    await c.receipts()
    assert "₦9,800.00" in await c.say("balance")
    await assert_ledger_balanced(db)


async def test_a_purchase_the_wallet_cannot_afford_is_refused_without_moving_money(engine, db) -> None:
    c = chat(engine, country="NG")
    text = await c.say("airtime 15000 for 08031234567")
    assert "That is ₦5,000.00 more than you have: choose a smaller amount." in text
    assert not any(b.id.startswith("confirm:") for b in c.transcript[-1].buttons)
    text = await c.say("yes")  # confirming anyway is refused by the ledger
    assert "not enough" in text and "Nothing was charged" in text
    assert "₦10,000.00" in await c.say("balance")


async def test_failed_delivery_is_refunded_and_told(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("airtime 300 for 08031230000")
    await c.press(c.last_choice("confirm:"))
    receipt = await c.receipts()
    assert "could not be delivered" in receipt and "₦10,000.00" in receipt
    await assert_ledger_balanced(db)


async def test_first_message_without_country_is_kept_until_the_country_is_known(engine, db) -> None:
    c = chat(engine)
    assert "Which country" in await c.say("I want 1GB data")
    text = await c.press("country:GH")
    assert "Ghana" in text and "Which phone number" in text


async def test_unsupported_intents_get_an_honest_answer(engine, db) -> None:
    c = chat(engine, country="NG")
    assert "not available yet" in await c.say("send 2000 to 08031234567")
    assert "coming soon" in await c.say("fund my wallet 5000")
    assert "Sorry" in await c.say("qwertyuiop")


async def test_purchases_above_the_pin_threshold_are_refused_until_pins_exist(engine, db) -> None:
    c = chat(engine, country="NG")
    text = await c.say("airtime 25000 for 08031234567")
    assert "need a transaction PIN" in text and "₦20,000.00" in text
    text = await c.say("20000")
    assert "Buy ₦20,000.00 MTN airtime" in text


async def test_out_of_range_amount_is_explained(engine, db) -> None:
    c = chat(engine, country="NG")
    text = await c.say("airtime 10 for 08031234567")
    assert "between ₦50.00 and ₦50,000.00" in text


async def test_a_number_that_is_no_phone_is_explained_and_asked_for_again(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    text = await c.say("buy 500 airtime for 0803123456")  # one digit short
    assert "doesn't look like a valid phone number" in text and "0802 123 4567" in text
    assert "Which phone number should I top up?" in text
    text = await c.say("08031234567")
    assert "Buy ₦500.00 MTN airtime for +234 803 123 4567?" in text  # the amount was kept


async def test_changing_a_quote_to_a_bad_number_or_currency_asks_again_instead_of_quoting(engine, db) -> None:
    c = chat(engine, country="SN", language="fr")
    await c.say("bonjour")
    assert "Acheter 1 000 F CFA" in await c.say("crédit 1000F pour 77 123 45 67")
    text = await c.say("crédit pour 77 123 45")
    assert "numéro de téléphone valide" in text and "Quel numéro" in text and "Acheter" not in text
    assert "Acheter 1 000 F CFA" in await c.say("77 123 45 67")
    text = await c.say("crédit GH₵10 pour 77 123 45 67")
    assert "F CFA" in text and "Combien" in text and "Acheter" not in text
    await c.press("cancel")
    assert (await c.wallet(db, "XOF")).available == 10_000


async def test_my_number_tops_up_the_senders_own_phone_in_every_language(engine, db) -> None:
    c = chat(engine, country="NG", phone="+2348030001111")
    await c.say("hi")
    assert "Buy ₦500.00 MTN airtime for +234 803 000 1111?" in await c.say("buy 500 airtime for my number")
    await c.press("cancel")
    assert "Which phone number" in await c.say("airtime 200")
    assert "Buy ₦200.00 MTN airtime for +234 803 000 1111?" in await c.say("my own line")
    fr = chat(engine, country="SN", language="fr", phone="+221770001111")
    await fr.say("bonjour")
    assert "pour +221 77 000 11 11 ?" in await fr.say("crédit 1000F pour moi")
    pt = chat(engine, country="CV", language="pt", phone="+2389911234")
    await pt.say("olá")
    assert "para +238 991 12 34?" in await pt.say("recarga 500 para mim")


async def test_my_number_without_a_known_phone_asks_for_it(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    text = await c.say("buy 500 airtime for me")
    assert "Which phone number should I top up?" in text
    assert c.transcript[-1].request_contact


async def test_thanks_and_a_yes_to_a_question_get_a_sensible_answer(engine, db) -> None:
    c = chat(engine, country="NG", phone="+2348030001111")
    await c.say("hi")
    assert "You're welcome" in await c.say("thanks")
    assert "Which phone number should I top up?" in await c.say("buy 500 airtime")
    text = await c.say("yes")
    assert "Which phone number should I top up?" in text and "nothing to confirm" not in text
    fr = chat(engine, country="SN", language="fr")
    first = await fr.say("merci")  # a first message: greeted and shown what the bot does
    assert "Bienvenue" in first and "Essayez" in first and "Avec plaisir" not in first
    assert "Avec plaisir" in await fr.say("merci")


async def test_chatter_at_a_quote_keeps_the_same_quote_and_its_confirm_button(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    first = c.last_choice("confirm:")
    text = await c.say("hmm lemme think")
    assert "Tap Confirm to buy, or Cancel" in text and c.last_choice("confirm:") == first
    assert "Order placed" in await c.press(first)
    assert (await c.wallet(db, "NGN")).available == 10_000_00 - 500_00
    await assert_ledger_balanced(db)


async def test_a_number_of_another_country_is_refused_and_asked_again(engine, db) -> None:
    c = chat(engine, country="NG")
    text = await c.say("buy 500 airtime for +233241234567")
    assert "I can only top up numbers in Nigeria, and +233 24 123 4567 is not one of them." in text
    assert "Which phone number should I top up?" in text
    assert "Buy ₦500.00 Glo airtime for +234 805 123 4567?" in await c.say("08051234567")
    fr = chat(engine, country="SN", language="fr")
    text = await fr.say("crédit 1000F pour +2250707123456")
    assert "Je ne peux recharger que des numéros de ce pays (Sénégal)" in text


async def test_the_quote_takes_corrections_and_a_new_recipient(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 1000 airtime for 08051234567")
    assert "Buy ₦1,000.00 9mobile airtime for +234 809 123 4567?" in await c.say("no, make it 08091234567")
    assert "Buy ₦2,000.00 9mobile airtime" in await c.say("no wait, 2000")
    assert "Buy ₦2,000.00 Glo airtime for +234 807 123 4567?" in await c.say("send it to 08071234567 instead")
    await c.press(c.last_choice("confirm:"))
    assert "Delivered: ₦2,000.00 Glo airtime to +234 807 123 4567" in await c.receipts()
    assert (await c.wallet(db, "NGN")).available == 10_000_00 - 2_000_00
    await assert_ledger_balanced(db)


async def test_while_a_person_is_on_the_way_chatter_is_told_so_and_the_bot_still_serves(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    assert "passing you to a person" in await c.say("i no receive my airtime")
    for line in ("hello?", "anybody there"):
        text = await c.say(line)
        assert "already has your request and will reply here soon" in text and "Sorry" not in text
    assert "Your balance: ₦10,000.00" in await c.say("balance")
    fr = chat(engine, country="SN", language="fr")
    await fr.say("bonjour")
    await fr.say("je n'ai pas reçu mon crédit")
    assert "En attendant, je peux toujours vous aider" in await fr.say("allo ?")


async def test_old_leones_and_ouguiyas_are_read_in_todays_money(engine, db) -> None:
    c = chat(engine, country="SL", phone="+23276123456")
    await c.say("hi")
    text = await c.say("airtime SLL 20000 for my number")  # 1,000 old leones are Le 1
    assert "SLL 20,000 in old money is Le 20.00." in text and "Buy Le 20.00 Orange airtime" in text
    await c.press("cancel")
    text = await c.say("airtime 20,000 leones for my number")  # too much in new leones: the hint
    assert "Prices are in new SLE: did you mean Le 20.00?" in text
    assert plain(c.transcript[-1].buttons[0].title) == "Le 20.00"
    assert "Buy Le 20.00 Orange airtime" in await c.press(c.transcript[-1].buttons[0].id)
    await c.press("cancel")
    text = await c.say("airtime 300 for my number")  # within today's range: taken as it is
    assert "Buy Le 300.00 Orange airtime" in text and "old money" not in text
    await c.press("cancel")
    mr = chat(engine, country="MR", language="fr", phone="+22222123456")
    await mr.say("bonjour")
    assert "MRO 1 000 en ancienne monnaie font 100,00 UM." in await mr.say("crédit 1000 MRO pour mon numéro")
    assert (await c.wallet(db, "SLE")).available == 350_00  # nothing bought


async def test_french_and_portuguese_money_habits_get_clear_answers(engine, db) -> None:
    sn = chat(engine, country="SN", language="fr")
    await sn.say("bonjour")
    assert "Ici, les prix sont en F CFA." in await sn.say("credit 10 euros pour 771112233")
    await sn.press("cancel")
    text = await sn.say("credit 1000,5 pour 771112233")
    assert "Les montants en F CFA n'ont pas de décimales" in text
    await sn.press("cancel")
    assert "Acheter 1 000 F CFA de crédit" in await sn.say("transfert de crédit 1000 au 771112233")
    await sn.press("cancel")
    cv = chat(engine, country="CV", language="pt")
    await cv.say("olá")
    assert "Comprar recarga Alou de 200,00 CVE" in await cv.say("recarga 200$00 para 9923456")
    await cv.press("cancel")
    # "saldo" with a number is credit for it, not the wallet's balance
    assert "Qual o valor da recarga Alou?" in await cv.say("quero saldo para 9923456")
    gn = chat(engine, country="GN", language="fr")  # no gateway funds wallets in Guinea
    await gn.say("bonjour")
    text = await gn.say("credit 150000 pour 622123456")  # more than the demo wallet holds
    assert "choisissez un montant plus petit" in text and "Alimentez" not in text
    assert [b.id for b in gn.transcript[-1].buttons] == ["cancel"]  # neither a doomed Confirm nor Add money


async def test_a_negative_amount_moves_nothing_and_two_numbers_are_one_at_a_time(engine, db) -> None:
    c = chat(engine, country="NG")
    text = await c.say("airtime -500 for 08051234567")
    assert "That amount is not valid in ₦." in text and "How much Glo airtime?" in text
    text = await c.say("data 1gb for 08051234567 and 08091234567")
    assert "One number at a time: this order is for +234 805 123 4567." in text
    assert "Buy Glo 1GB Daily data (₦350.00) for +234 805 123 4567?" in text
    assert (await c.wallet(db, "NGN")).available == 10_000_00


async def test_row_numbers_as_typed_and_corrections_by_validity(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("monthly data for 08031234567")
    text = await c.say("4")  # the list has three rows
    assert "Please pick a number from 1 to 3." in text and "Which MTN data bundle?" in text
    assert "Buy MTN 5GB Monthly data" in await c.say("#2")  # the row's number is no price either
    assert "Buy MTN 1GB Weekly data" in await c.say("no, weekly")  # MTN's one weekly bundle
    await c.say("monthly")
    assert "Buy MTN 10GB Monthly data" in await c.say("3.")
    text = await c.say("hello")  # a greeting at the quote: the quote is still there
    assert "Your quote is still open" in text
    assert c.last_choice("confirm:")


async def test_a_wrong_network_can_be_said_in_words(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    assert "Which network is +234 803 123 4567 on?" in await c.say("wrong network")
    assert "Buy ₦500.00 Airtel airtime" in await c.say("Airtel")
    assert "Buy ₦500.00 Glo airtime" in await c.say("no, change network to glo")
    bj = chat(engine, country="BJ", language="fr")
    await bj.say("bonjour")
    await bj.say("credit 500 pour 0197123456")
    assert "Quel est l'opérateur" in await bj.say("changer operateur")


async def test_the_same_top_up_again_within_minutes_is_pointed_out(engine, db) -> None:
    c = chat(engine, country="NG")
    assert "You bought this same top-up" not in await c.say("airtime 1000 for 08051234567")
    await c.press(c.last_choice("confirm:"))
    await c.receipts()
    text = await c.say("airtime 1000 for 08051234567")
    assert "⚠️ You bought this same top-up 1 minute ago" in text and c.last_choice("confirm:")
    await c.press("cancel")
    assert "You bought this same top-up" not in await c.say("airtime 1000 for 08091234567")  # another number
    await c.press("cancel")
    await c.say("airtime 300 for 08051230000")  # 0000: fails and is refunded
    await c.press(c.last_choice("confirm:"))
    assert "could not be delivered" in await c.receipts()
    assert "You bought this same top-up" not in await c.say("airtime 300 for 08051230000")
    assert (await c.wallet(db, "NGN")).available == 10_000_00 - 1_000_00  # the refund came back
    await assert_ledger_balanced(db)


async def test_a_greeting_mid_purchase_asks_the_question_again_and_cancel_explains_an_order_in_flight(
    engine, db
) -> None:
    c = chat(engine, country="SN", language="fr")
    await c.say("forfait internet")
    text = await c.say("bonjour")
    assert "Essayez" in text and text.rstrip().endswith("Quel numéro dois-je recharger ?")
    ng = chat(engine, country="NG")
    await ng.say("buy 500 airtime for 08051232222")  # 2222: the network confirms later
    await ng.press(ng.last_choice("confirm:"))
    assert "already with the network and can't be cancelled" in await ng.say("cancel")
    assert "Delivered" in await ng.receipts()
    assert "There is nothing to cancel." in await ng.say("cancel")
    bj = chat(engine, country="BJ", language="fr")
    await bj.say("bonjour")
    assert "+229 01 97 12 34 56" in await bj.say("credit 500 pour 97 12 34 56")  # an eight-digit number
    ci = chat(engine, country="CI", language="fr")
    await ci.say("bonjour")
    assert "+225 07 07 08 09 10" in await ci.say("credit 500 pour 0707080910")


async def test_a_bundle_can_be_picked_by_a_word_of_its_name(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy data for 08031234567")
    assert "Buy MTN 1GB Weekly data (₦800.00)" in await c.say("weekly")
    await c.press("cancel")
    await c.say("buy data for 08031234567")
    assert "Which MTN data bundle?" in await c.say("monthly")  # three monthly bundles: which?
    assert [row.title for row in c.transcript[-1].rows] == ["2GB Monthly", "5GB Monthly", "10GB Monthly"]
    fr = chat(engine, country="SN", language="fr")
    await fr.say("forfait pour 77 123 45 67")
    assert "Pass 1 Go Semaine" in await fr.say("semaine")


async def test_a_bundle_asked_for_by_validity_is_that_one_or_the_list_says_it_is_not_sold(engine, db) -> None:
    c = chat(engine, country="NG", phone="+2348036660421")  # a number of its own: a phone is one user
    await c.say("hi")
    text = await c.say("mtn 1gb monthly for my number")
    assert "MTN has no 1GB bundle valid for 30 days. Pick one of these:" in text
    assert len(c.transcript[-1].rows) == 5  # every bundle, so the weekly 1GB and the monthly 2GB show
    assert "Buy MTN 1GB Weekly data (₦800.00)" in await c.say("1gb for 7 days")
    await c.press("cancel")
    assert "Buy MTN 5GB Monthly data (₦3,500.00)" in await c.say("5gb monthly for my number")
    await c.press("cancel")
    await c.say("mtn monthly for my number")  # a network and a validity: a data purchase, the monthly ones
    assert [row.title for row in c.transcript[-1].rows] == ["2GB Monthly", "5GB Monthly", "10GB Monthly"]
    text = await c.say("2")  # the second row shown, not the network's second bundle (1GB Weekly)
    assert "Buy MTN 5GB Monthly data (₦3,500.00)" in text and "Network guessed" not in text
    await c.press("cancel")
    assert "MTN has no bundle valid for 14 days" in await c.say("mtn data for 2 weeks for my number")
    await c.press("cancel")
    assert "Sorry, I didn't get that." in await c.say("have a nice day")
    pt = chat(engine, country="CV", language="pt")
    await pt.say("olá")
    assert "não há pacote de 1GB válido por 30 dias" in await pt.say("pacote 1GB mensal para 991 23 45")
    assert (await c.wallet(db, "NGN")).available == 10_000_00  # nothing was bought
    await assert_ledger_balanced(db)


async def test_a_gift_without_an_amount_says_how_to_ask_and_drafts_nothing(engine, db) -> None:
    async def gifts() -> int | None:
        async with db.transaction() as session:
            return await session.scalar(select(func.count()).select_from(Gift))

    before = await gifts()
    c = chat(engine, country="NG")
    await c.say("hi")
    text = await c.say("gift")
    assert "How much would you like to gift?" in text and "₦500.00" in text and "0802 123 4567" in text
    assert "Combien voulez-vous offrir" in await chat(engine, country="SN", language="fr").say("offrir")
    assert await gifts() == before


async def test_the_reply_language_changes_when_asked_in_a_sentence(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    await c.say("en français svp")
    assert "Votre solde" in await c.say("balance")
    await c.say("fala português por favor")
    assert "Saldo" in await c.say("balance")
    await c.say("speak english please")
    assert "Your balance" in await c.say("solde")
    assert "Sorry, I didn't get that." in await c.say("french fries")  # a language name is not enough


async def test_an_english_speaker_in_senegal_reads_english_names_and_spaced_amounts(engine, db) -> None:
    c = chat(engine, language="en")
    text = await c.say("buy 1000F credit for 77 123 45 67")
    assert "Which country are you in?" in text
    assert "Senegal" in [row.title for row in c.transcript[-1].rows]
    text = await c.press("country:SN")
    assert "You're set up for Senegal." in text and "Buy F CFA 1,000 Orange airtime" in text


async def test_a_complaint_about_a_product_goes_to_a_person_not_to_a_new_purchase(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    text = await c.say("I did not receive my airtime")
    assert "passing you to a person" in text and "Which phone number" not in text
    fr = chat(engine, country="SN", language="fr")
    await fr.say("bonjour")
    assert "Quel numéro" not in await fr.say("je n'ai pas reçu mon crédit")


async def test_a_bare_amount_or_number_starts_airtime_and_data_keeps_the_number(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    assert "Which phone number should I top up?" in await c.say("500")
    assert "Buy ₦500.00 MTN airtime for +234 803 123 4567?" in await c.say("08031234567")
    await c.press("cancel")
    assert "How much Glo airtime?" in await c.say("08051234567")
    text = await c.say("data")  # changed their mind: the number stays
    assert "Which Glo data bundle?" in text and "Which phone number" not in text
    assert "Buy Glo 1GB Daily data (₦350.00) for +234 805 123 4567?" in await c.say("1gb")


async def test_same_again_quotes_the_last_order_anew(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("hi")
    assert "I can't find an order to repeat" in await c.say("same again")
    await c.say("1gb for 08051234567")
    await c.press(c.last_choice("confirm:"))
    await c.receipts()
    text = await c.say("same again")
    assert "Buy Glo 1GB Daily data (₦350.00) for +234 805 123 4567?" in text
    await c.press(c.last_choice("confirm:"))
    await c.receipts()
    assert (await c.wallet(db, "NGN")).available == 10_000_00 - 2 * 350_00
    await c.say("airtime 200 for 08031234567")
    await c.press(c.last_choice("confirm:"))
    assert "Buy ₦200.00 MTN airtime for +234 803 123 4567?" in await c.say("again")  # the latest one
    await assert_ledger_balanced(db)


@pytest.mark.parametrize("text", ["balance", "same again", "500 for 08031234567", "history"])
async def test_wallet_and_purchases_are_refused_in_a_group_chat(engine, db, text: str) -> None:
    def group(words: str) -> InboundMessage:
        return InboundMessage(
            channel="test", channel_user_id="member-1", chat_id="group-1", text=words,
            chat_kind=ChatKind.GROUP, phone="+2348030001111",
        )  # fmt: skip

    await engine[0].handle(group("hi"))
    replies = await engine[0].handle(group(text))
    assert [r.text for r in replies] == ["Let's do that in a private chat with me."]


async def test_the_balance_shows_what_is_on_hold_until_the_order_settles(engine, db) -> None:
    c = chat(engine, country="NG")
    await c.say("buy 500 airtime for 08031234567")
    await c.press(c.last_choice("confirm:"))
    text = await c.say("balance")
    assert "Your balance: ₦9,500.00" in text and "₦500.00 more is on hold" in text
    await c.receipts()
    text = await c.say("balance")
    assert "Your balance: ₦9,500.00" in text and "on hold" not in text
    fr = chat(engine, country="SN", language="fr")
    await fr.say("crédit 1000F pour 77 123 45 67")
    await fr.press(fr.last_choice("confirm:"))
    assert "En plus, 1 000 F CFA sont réservés" in await fr.say("solde")
    await assert_ledger_balanced(db)


def _sample_mobile(country: str) -> tuple[str, str | None]:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    local = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
    e164 = normalize_phone(local, country)
    assert e164 is not None, (country, local)
    return local, guess_network(e164, country)


@pytest.mark.parametrize("code", COUNTRY_CODES)
async def test_one_airtime_purchase_in_every_country(engine, db, code: str) -> None:
    country = get_country(code)
    assert country is not None
    local, guessed = _sample_mobile(code)
    amount = country.networks[0].airtime_min.major * 2
    c = chat(engine, country=code)
    text = await c.say(f"airtime {amount} for {local}")
    if guessed is None:
        text = await c.press(c.last_choice("net:"))
    assert c.last_choice("confirm:")
    await c.press(c.last_choice("confirm:"))
    receipt = await c.receipts()
    assert "✅" in receipt, (code, text, receipt)
    spent = Money.of(amount, country.currency)
    balance = await c.wallet(db, country.currency)
    assert balance.posted == country.demo_opening_balance.minor - spent.minor
    assert balance.debits_pending == 0
    await assert_ledger_balanced(db)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=st.text(max_size=300))
async def test_any_text_gets_a_reply_and_moves_no_money(db, text: str) -> None:
    async with chat_engine(db) as pair:
        c = chat(pair, country="NG")
        await c.say("hi")
        reply = await c.say(text)
        assert reply.strip()
        assert (await c.wallet(db, "NGN")).available == 1_000_000


@pytest.mark.parametrize(
    "payload",
    [
        "confirm:\x00bogus",
        "confirm:" + "x" * 5000,
        "net:NOPE",
        "bundle:../../etc",
        "amount:-5",
        "country:ZZ",
        "lang:xx",
        "?",
    ],
)
async def test_forged_or_broken_button_payloads_are_refused_politely(engine, db, payload: str) -> None:
    c = chat(engine, country="NG")
    await c.say("airtime 100 for 08031234567")
    assert (await c.press(payload)).strip()
    assert "₦10,000.00" in await c.say("balance")


async def test_a_one_to_one_gift_link_is_claimed_and_paid_from_the_senders_wallet(engine, db) -> None:
    sender, friend = chat(engine, country="NG"), chat(engine, country="NG")
    text = await sender.say("gift 500 to 08031234567")
    assert "Gift ₦500.00 to +234 803 123 4567" in text
    await sender.press(sender.last_choice("giftok:"))
    link = sender.transcript[-1].link
    assert link is not None and link.startswith("start:")

    text = await friend.say(f"claim {link.removeprefix('start:')}")
    assert "sent you ₦500.00 airtime" in text
    await friend.say("08031234567")
    assert "✅ Delivered: ₦500.00 MTN airtime" in await friend.receipts()
    assert "received your gift" in await sender.receipts()

    # A second claim moves nothing (typed with the French word the French replies give).
    assert "already claimed" in await friend.say(f"réclamer {link.removeprefix('start:')}")
    await friend.receipts()
    assert (await sender.wallet(db, "NGN")).posted == 950_000
    assert (await friend.wallet(db, "NGN")).posted == 1_000_000
    await assert_ledger_balanced(db)
