"""Buying airtime and data: fill the missing slots, quote with Confirm / Cancel, place the order once."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

from conversations import pin
from conversations.flows import Flow
from conversations.i18n import display_phone, example_phone
from conversations.intents import Intent
from conversations.messages import Button, ListRow, Reply, forgetting
from conversations.parser import Parsed
from conversations.turn import Turn
from conversations.vocabulary import phrase_key
from domain import orders, pins
from domain.countries import Bundle, Country, Network
from domain.models import Quote, utcnow
from domain.money import Money, MoneyError
from domain.orders import QuoteProblem
from domain.phones import guess_network, normalize_phone
from domain.purchase_terms import (
    ProductKind,
    QuoteTerms,
    TermsProblem,
    WrongCountry,
    check_airtime_amount,
    check_phone_country,
)
from domain.users import available_balance
from services import purchases
from services.purchases import InsufficientFunds, PurchaseQuote, PurchaseRequest

AWAIT_PHONE = "await_phone"
AWAIT_NETWORK = "await_network"
AWAIT_AMOUNT = "await_amount"
AWAIT_BUNDLE = "await_bundle"
AWAIT_CONFIRM = "await_confirm"
PURCHASE_STATES = (AWAIT_PHONE, AWAIT_NETWORK, AWAIT_AMOUNT, AWAIT_BUNDLE, AWAIT_CONFIRM)


def start(turn: Turn, kind: ProductKind, parsed: Parsed | None) -> dict[str, Any]:
    """Fresh slots for a new purchase, filled from what the message already said."""
    slots: dict[str, Any] = {"kind": kind.value}
    if parsed is not None:
        absorb(turn, slots, parsed)
    return slots


def absorb(turn: Turn, slots: dict[str, Any], parsed: Parsed) -> list[Reply]:
    """Copy entities from a parsed message into the slots; return complaints about bad values."""
    problems: list[Reply] = []
    phone = parsed.phone or (turn.user.phone if parsed.own_number else None)
    if not phone and "invalid_phone" in parsed.flags:
        slots.pop("phone", None)  # asked for again, rather than topping up a number they meant to change
        problems.append(_not_a_phone(turn))
    if phone and (abroad := _abroad(turn, phone)) is not None:
        problems.append(abroad)
        phone = None
    if phone and phone != slots.get("phone"):
        slots["phone"] = phone
        slots.pop("network_guessed", None)
        if not parsed.network:
            slots.pop("network", None)  # the network named was the old number's
    if parsed.network:
        slots["network"] = parsed.network
        slots["network_guessed"] = False
    if parsed.data_mb:
        slots["data_mb"] = parsed.data_mb
        slots.pop("bundle", None)
        if not parsed.validity_days:
            slots.pop("validity_days", None)  # a new size alone is a new choice, not the old one resized
    if parsed.validity_days and slots["kind"] == ProductKind.DATA.value:
        slots["validity_days"] = parsed.validity_days
        slots.pop("bundle", None)
    if parsed.amount is not None:
        problem = _absorb_amount(turn, slots, parsed.amount, parsed.currency)
        if problem:
            problems.append(problem)
    elif "huge_amount" in parsed.flags:
        slots["amount"] = OVERSIZED  # so the answer says the range, as for any amount above it
    elif "negative_amount" in parsed.flags and turn.country is not None:
        slots.pop("amount", None)
        problems.append(Reply(turn.t.bad_amount(None, turn.country.currency)))
    if "multiple_phones" in parsed.flags and slots.get("phone"):
        problems.append(
            Reply(
                turn.t._(
                    "One number at a time: this order is for %(phone)s. Send the next one after it.",
                    phone=display_phone(slots["phone"]),
                )
            )
        )
    return problems


#: Stands for an amount too long to read exactly: above every network's range and every price.
OVERSIZED = 10**18


def _absorb_old_amount(turn: Turn, slots: dict[str, Any], amount: Decimal, old: str) -> Reply | None:
    """An amount in the currency a redenomination replaced ("SLL 20,000"): taken in today's money,
    saying so, so no one buys a thousand times what they meant."""
    country = turn.country
    assert country is not None
    problem = _absorb_amount(turn, slots, country.from_old(amount), None)
    if problem is not None:
        return problem
    return Reply(
        turn.t._(
            "%(old)s in old money is %(new)s.",
            old=f"{old} {turn.t.number(amount)}",
            new=turn.t.money(Money(slots["amount"], country.currency)),
        )
    )


def _not_a_phone(turn: Turn) -> Reply:
    """A number in the message that is no valid phone (a digit missing or too many, say)."""
    country = turn.country
    assert country is not None
    return Reply(
        turn.t._(
            "That doesn't look like a valid phone number. Please send it like %(example)s.",
            example=example_phone(country.code),
        )
    )


def _abroad(turn: Turn, phone: str) -> Reply | None:
    """A number of another country: we top up only the user's own country's networks."""
    country = turn.country
    assert country is not None
    if check_phone_country(country.code, phone) is None:
        return None
    return Reply(
        turn.t._(
            "I can only top up numbers in %(country)s, and %(phone)s is not one of them.",
            country=turn.t.country(country.code),
            phone=display_phone(phone),
        )
    )


def _absorb_amount(turn: Turn, slots: dict[str, Any], amount: Decimal, currency: str | None) -> Reply | None:
    country = turn.country
    assert country is not None
    if currency and currency == country.old_currency:
        return _absorb_old_amount(turn, slots, amount, currency)
    if currency and currency != country.currency:
        slots.pop("amount", None)  # asked for again in the right currency
        return Reply(turn.t._("Prices here are in %(currency)s.", currency=turn.t.currency(country.currency)))
    try:
        slots["amount"] = Money.of(amount, country.currency).minor
    except MoneyError:
        slots.pop("amount", None)
        return Reply(turn.t.bad_amount(amount, country.currency))
    return None


async def advance(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    """Ask for the first missing slot, or quote when nothing is missing."""
    country = turn.country
    assert country is not None
    kind = ProductKind(slots["kind"])
    slots.pop(SUGGESTED, None)  # a suggestion is answered (or passed over) by the next message
    if "phone" not in slots:
        return [_ask_phone(turn, slots)]
    network = _settle_network(country, slots)
    if network is None:
        return [_ask_network(turn, slots, country)]
    if kind is ProductKind.AIRTIME:
        problem = _check_airtime_amount(turn, slots, network)
        if problem is not None:
            return [problem]
    else:
        bundle = _settle_bundle(network, slots)
        if bundle is None:
            return [_ask_bundle(turn, slots, network)]
    return [await _quote(turn, slots, country, network)]


def _ask_phone(turn: Turn, slots: dict[str, Any]) -> Reply:
    turn.set_slots(slots, AWAIT_PHONE)
    buttons = (Button("phone:self", turn.t._("My number")),) if turn.user.phone else ()
    return Reply(
        turn.t._("Which phone number should I top up?"),
        buttons=buttons,
        request_contact=turn.user.phone is None,
    )


def _settle_network(country: Country, slots: dict[str, Any]) -> Network | None:
    """The network to use: the one named, else the one the number's prefix suggests."""
    if slots.get("network"):
        return country.network(slots["network"])
    if slots.get("network_asked"):
        return None
    guess = guess_network(slots["phone"], country.code)
    if guess is None:
        return None
    slots["network"] = guess
    slots["network_guessed"] = country.portable_numbers
    return country.network(guess)


def _ask_network(turn: Turn, slots: dict[str, Any], country: Country) -> Reply:
    turn.set_slots(slots, AWAIT_NETWORK)
    text = turn.t._("Which network is %(phone)s on?", phone=display_phone(slots["phone"]))
    choices = [(f"net:{n.id}", n.name) for n in country.networks]
    if len(choices) <= 3:
        return Reply(text, buttons=tuple(Button(i, title) for i, title in choices))
    return Reply(text, rows=tuple(ListRow(i, title) for i, title in choices), list_title=turn.t._("Networks"))


#: The slot naming the quote a PIN being asked for will confirm.
PIN_FOR = "pin_for_quote"
#: The slot holding the amount (minor units) the bot asked "did you mean …?" about.
SUGGESTED = "suggested_amount"
#: What each slot a user calls wrong takes with it: the network and bundle belong to the number.
_WRONG_SLOTS = {
    "phone": ("phone", "network", "network_guessed", "network_asked"),
    "amount": ("amount", "bundle"),
}


def _check_airtime_amount(turn: Turn, slots: dict[str, Any], network: Network) -> Reply | None:
    """None when the amount is present and in range; otherwise the question to ask."""
    amount = slots.get("amount")
    low, high = network.airtime_min, network.airtime_max
    country = turn.country
    assert country is not None
    if amount is not None and check_airtime_amount(network, Money(amount, country.currency)) is None:
        if turn.transfers is None and orders.needs_pin_in(country.code, Money(amount, low.currency)):
            return _pin_not_yet(turn, slots, country)  # no PIN pepper: no PINs here
        return None
    asking = {k: v for k, v in slots.items() if k != "amount"}
    t = turn.t
    suggestions = [Money(low.minor * factor, low.currency) for factor in (2, 5, 10)]
    meant = _meant_in_old_money(country, Money(amount, low.currency), low, high) if amount else None
    if meant is not None:
        suggestions = [meant, *(s for s in suggestions if s != meant)][:3]
        asking[SUGGESTED] = meant.minor  # what a "yes" to "did you mean …?" accepts
    turn.set_slots(asking, AWAIT_AMOUNT)
    buttons = tuple(Button(f"amount:{s.minor}", t.money(s)) for s in suggestions if s.minor <= high.minor)
    if amount is None:
        text = t._("How much %(network)s airtime?", network=network.name)
    else:
        text = t._(
            "%(network)s airtime must be between %(low)s and %(high)s. How much would you like?",
            network=network.name,
            low=t.money(low),
            high=t.money(high),
        )
    if meant is not None:
        text += "\n" + t._(
            "Prices are in new %(currency)s: did you mean %(amount)s?",
            currency=country.currency,
            amount=t.money(meant),
        )
    return Reply(text, buttons=buttons)


def _meant_in_old_money(country: Country, amount: Money, low: Money, high: Money) -> Money | None:
    """The amount an out-of-range figure comes to if counted in the old currency, when that fits."""
    if country.old_currency is None or amount.minor <= high.minor:
        return None
    try:
        meant = Money.of(country.from_old(amount.major), country.currency)
    except MoneyError:
        return None
    return meant if low.minor <= meant.minor <= high.minor else None


def _pin_message(turn: Turn, country: Country) -> Reply:
    return Reply(
        turn.t._(
            "Purchases above %(threshold)s need a transaction PIN, which is not available yet."
            " Please choose %(threshold)s or less.",
            threshold=turn.t.money(country.pin_threshold),
        )
    )


def _pin_not_yet(turn: Turn, slots: dict[str, Any], country: Country) -> Reply:
    """Above the no-PIN threshold: say so honestly and ask for a smaller amount."""
    turn.set_slots({k: v for k, v in slots.items() if k not in ("amount", "bundle")}, AWAIT_AMOUNT)
    return _pin_message(turn, country)


def _settle_bundle(network: Network, slots: dict[str, Any]) -> Bundle | None:
    if slots.get("bundle"):
        return network.bundle(slots["bundle"])
    matches = _wanted_bundles(network, slots)
    if matches is None or len(matches) != 1:
        return None
    slots["bundle"] = matches[0].code
    return matches[0]


def _wanted_bundles(network: Network, slots: dict[str, Any]) -> list[Bundle] | None:
    """The network's bundles fitting what the user asked for (size, validity, else price);
    None when they asked for nothing in particular."""
    wanted_mb, days, price = slots.get("data_mb"), slots.get("validity_days"), slots.get("amount")
    if wanted_mb is None and days is None and price is None:
        return None
    return [
        b
        for b in network.bundles
        if (wanted_mb is None or b.data_mb == wanted_mb)
        and (days is None or b.validity_days == days)
        and (wanted_mb is not None or price is None or b.price.minor == price)
    ]


def bundle_rows(turn: Turn, network: Network, bundles: Sequence[Bundle] = ()) -> tuple[ListRow, ...]:
    """``bundles`` (all the network's when empty) as list rows: title the size and validity,
    description the price."""
    t = turn.t
    return tuple(
        ListRow(
            f"bundle:{b.code}",
            b.name,
            t.n_(
                "%(price)s · %(days)s day",
                "%(price)s · %(days)s days",
                b.validity_days,
                price=t.money(b.price),
                days=b.validity_days,
            ),
        )
        for b in bundles or network.bundles
    )


#: The slot listing the bundles last offered, when only some of the network's were.
SHOWN_BUNDLES = "shown_bundles"


def _ask_bundle(turn: Turn, slots: dict[str, Any], network: Network) -> Reply:
    t = turn.t
    wanted = _wanted_bundles(network, slots) or []
    if wanted:
        slots[SHOWN_BUNDLES] = [b.code for b in wanted]  # what a typed row number refers to
    else:
        slots.pop(SHOWN_BUNDLES, None)
    turn.set_slots(slots, AWAIT_BUNDLE)
    if wanted or not (slots.get("data_mb") or slots.get("validity_days")):
        text = t._("Which %(network)s data bundle?", network=network.name)
    else:
        text = _no_such_bundle(turn, network, slots)
    return Reply(text, rows=bundle_rows(turn, network, wanted), list_title=t._("Bundles"))


def _no_such_bundle(turn: Turn, network: Network, slots: dict[str, Any]) -> str:
    """Say which size or validity the network does not sell (all its bundles are listed next)."""
    t, days = turn.t, slots.get("validity_days")
    size = _size(slots["data_mb"], t.language) if slots.get("data_mb") else None
    if days is None:
        return t._("%(network)s has no %(size)s bundle. Pick one of these:", network=network.name, size=size)
    if size is None:
        return t.n_(
            "%(network)s has no bundle valid for %(days)s day. Pick one of these:",
            "%(network)s has no bundle valid for %(days)s days. Pick one of these:",
            days,
            network=network.name,
            days=days,
        )
    return t.n_(
        "%(network)s has no %(size)s bundle valid for %(days)s day. Pick one of these:",
        "%(network)s has no %(size)s bundle valid for %(days)s days. Pick one of these:",
        days,
        network=network.name,
        size=size,
        days=days,
    )


#: How each reply language writes gigabytes and megabytes.
_SIZE_UNITS = {"fr": ("Go", "Mo")}


def _size(data_mb: int, language: str) -> str:
    """A data size as people write it: ``1GB``, ``1.5GB``, ``500MB`` (``1 Go`` in French)."""
    giga, mega = _SIZE_UNITS.get(language, ("GB", "MB"))
    space = " " if language == "fr" else ""
    if data_mb >= 1024:
        amount = f"{data_mb // 1024}" if data_mb % 1024 == 0 else f"{data_mb / 1024:.1f}"
        return f"{amount}{space}{giga}"
    return f"{data_mb}{space}{mega}"


def _request(turn: Turn, slots: dict[str, Any], country: Country, network: Network) -> PurchaseRequest:
    """What the slots ask to buy, as the purchase use case takes it."""
    kind = ProductKind(slots["kind"])
    return PurchaseRequest(
        turn.user.id,
        country.code,
        kind,
        slots["phone"],
        network.id,
        amount=slots.get("amount") if kind is ProductKind.AIRTIME else None,
        bundle_code=slots.get("bundle") if kind is ProductKind.DATA else None,
        conversation_id=turn.conversation.id,
    )


def _product(terms: QuoteTerms, network: Network) -> str:
    """The product's description: the network, and the bundle's name for data."""
    bundle = network.bundle(terms.bundle_code) if terms.bundle_code else None
    return f"{network.name} {bundle.name}" if bundle else network.name


async def _quote(turn: Turn, slots: dict[str, Any], country: Country, network: Network) -> Reply:
    quoted = await purchases.quote(turn.uow, _request(turn, slots, country, network), turn.quote_ttl_seconds)
    if not isinstance(quoted, PurchaseQuote):
        return _refused_terms(turn, quoted)
    terms, product = quoted.terms, _product(quoted.terms, network)
    t = turn.t
    balance = quoted.available
    short = _shortfall(terms.price, balance)
    slots["quote"] = quoted.quote_id
    if short is None:
        slots.pop(SHORT_BY, None)
    else:
        slots[SHORT_BY] = max(short.minor, country.funding_min.minor)
    turn.set_slots(slots, AWAIT_CONFIRM)
    if terms.kind is ProductKind.DATA:
        text = t._(
            "Buy %(product)s data (%(price)s) for %(phone)s?",
            product=product,
            price=t.money(terms.price),
            phone=display_phone(terms.phone),
        )
    else:
        text = t._(
            "Buy %(price)s %(network)s airtime for %(phone)s?",
            price=t.money(terms.price),
            network=product,
            phone=display_phone(terms.phone),
        )
    text += "\n" + t._("Your balance: %(balance)s", balance=t.money(balance))
    twin = await orders.recent_twin(turn.session, turn.user.id, terms, TWIN_WINDOW)
    if twin is not None:
        text += "\n" + _twin_note(turn, twin)
    if short is not None and _can_fund(turn):
        text += "\n" + t._(
            "That is %(short)s more than you have."
            " Add money to your wallet first, or choose a smaller amount.",
            short=t.money(short),
        )
    elif short is not None:
        text += "\n" + t._(
            "That is %(short)s more than you have: choose a smaller amount.", short=t.money(short)
        )
    if slots.get("network_guessed"):
        text += "\n" + t._(
            "Network guessed from the number: %(network)s. Numbers can move between networks;"
            " tap Change network if this is wrong.",
            network=network.name,
        )
    return Reply(text, buttons=_quote_buttons(turn, slots))


#: How far back the same purchase is pointed out before it is bought again.
TWIN_WINDOW = timedelta(minutes=30)


def _twin_note(turn: Turn, twin: orders.Twin) -> str:
    """The same top-up was bought minutes ago: say so, so a double tap is not paid twice."""
    minutes = max(1, round((utcnow() - twin.created_at).total_seconds() / 60))
    return turn.t.n_(
        "⚠️ You bought this same top-up %(minutes)s minute ago (ref %(ref)s)."
        " Confirm only if you want it twice.",
        "⚠️ You bought this same top-up %(minutes)s minutes ago (ref %(ref)s)."
        " Confirm only if you want it twice.",
        minutes,
        minutes=minutes,
        ref=twin.reference,
    )


#: The slot holding how much to add to the wallet for a quote's price (at least the funding minimum).
SHORT_BY = "short_by"


def _shortfall(price: Money, balance: Money) -> Money | None:
    """How much more than the wallet holds a price is (None when it can be paid)."""
    if price.minor <= balance.minor:
        return None
    return Money(price.minor - balance.minor, price.currency)


def _can_fund(turn: Turn) -> bool:
    """Whether the user can add money to their wallet here (a gateway serves their country)."""
    country = turn.country
    return turn.funding is not None and country is not None and bool(country.funding_gateways)


def _quote_buttons(turn: Turn, slots: dict[str, Any]) -> tuple[Button, ...]:
    """Confirm and Cancel (Change network for a guess); a wallet too short for the price gets,
    instead of a Confirm doomed to fail, a button to add the difference where that is possible."""
    t = turn.t
    buttons = [Button("cancel", t._("Cancel"))]
    if SHORT_BY not in slots:
        buttons.insert(0, Button(f"confirm:{slots['quote']}", t._("Confirm")))
    elif _can_fund(turn):
        buttons.insert(0, Button(f"fund:{slots[SHORT_BY]}", t._("Add money")))
    if slots.get("network_guessed"):
        buttons.append(Button("changenet", t._("Change network")))
    return tuple(buttons)


def _at_quote(turn: Turn, confirm: str, add_money: str, smaller: str) -> Reply:
    """The open quote again with the sentence that names the buttons it really has: Confirm, or
    for a wallet too short for it Add money, or nothing to confirm with (choose a smaller amount)."""
    slots = turn.slots
    if SHORT_BY not in slots:
        return Reply(confirm, buttons=_quote_buttons(turn, slots))
    return Reply(add_money if _can_fund(turn) else smaller, buttons=_quote_buttons(turn, slots))


def quote_still_open(turn: Turn) -> Reply:
    """The quote is still there to confirm after a detour (a greeting, help)."""
    t = turn.t
    return _at_quote(
        turn,
        t._("Your quote is still open: tap Confirm to buy, or Cancel."),
        t._("Your quote is still open: tap Add money to top up your wallet first, or Cancel."),
        t._("Your quote is still open, but your wallet is short: choose a smaller amount, or Cancel."),
    )


def remind_quote(turn: Turn) -> Reply:
    """A message at the quote that changes nothing: point at its buttons, keeping the same quote."""
    t = turn.t
    return _at_quote(
        turn,
        t._("Sorry, I didn't get that. Tap Confirm to buy, or Cancel."),
        t._("Sorry, I didn't get that. Tap Add money to top up your wallet first, or Cancel."),
        t._("Sorry, I didn't get that. Choose a smaller amount, or Cancel."),
    )


async def accept_suggestion(turn: Turn) -> list[Reply] | None:
    """A "yes" to the bot's own "did you mean …?": that amount, as if its button were tapped."""
    suggested = turn.slots.get(SUGGESTED)
    if turn.conversation.state != AWAIT_AMOUNT or not isinstance(suggested, int):
        return None
    return await choose_amount(turn, suggested)


async def forget_wrong(turn: Turn, wrong: set[str]) -> list[Reply] | None:
    """ "Wrong number" with no new one: forget it (and the quote) and ask for it again."""
    names = [name for slot in sorted(wrong) for name in _WRONG_SLOTS.get(slot, ())]
    slots = turn.slots
    if not any(name in slots for name in names):
        return None
    for name in (*names, "quote"):
        slots.pop(name, None)
    return await advance(turn, slots)


async def open_again(turn: Turn) -> list[Reply]:
    """After a side answer (balance, history): the quote, still open, or the question again."""
    if "quote" in turn.slots:
        return [quote_still_open(turn)]
    return await advance(turn, turn.slots)


async def repeat_last(turn: Turn) -> list[Reply]:
    """ "Same again": quote the user's last order anew (same number and product, today's price)."""
    country = turn.country
    assert country is not None
    last = await orders.last_order(turn.session, turn.user.id)
    if last is None or last.country != country.code:
        return [Reply(turn.t._("I can't find an order to repeat. What would you like to buy?"))]
    slots: dict[str, Any] = {
        "kind": last.kind,
        "phone": last.phone,
        "network": last.network,
        "network_guessed": False,
    }
    if last.bundle_code:
        slots["bundle"] = last.bundle_code
    else:
        slots["amount"] = last.amount
    return await advance(turn, slots)


def change_network(turn: Turn) -> Reply:
    """The user says the guessed network is wrong: ask which one it is."""
    country = turn.country
    assert country is not None
    slots = turn.slots
    slots.pop("network", None)
    slots.pop("quote", None)
    slots["network_guessed"] = False
    slots["network_asked"] = True
    return _ask_network(turn, slots, country)


async def choose_network(turn: Turn, network_id: str) -> list[Reply]:
    """The user picked a network."""
    country = turn.country
    assert country is not None
    if country.network(network_id) is None or "kind" not in turn.slots:
        return [Reply(turn.t._("That choice is no longer available."))]
    slots = turn.slots
    slots["network"] = network_id
    slots["network_guessed"] = False
    slots.pop("bundle", None)
    return await advance(turn, slots)


async def choose_bundle(turn: Turn, code: str) -> list[Reply]:
    """The user picked a bundle from the list."""
    country = turn.country
    slots = turn.slots
    network = country.network(slots.get("network", "")) if country else None
    if network is None or network.bundle(code) is None:
        return [Reply(turn.t._("That choice is no longer available."))]
    slots["bundle"] = code
    return await advance(turn, slots)


async def choose_amount(turn: Turn, minor: int) -> list[Reply]:
    """The user tapped a suggested amount."""
    if "kind" not in turn.slots:
        return [Reply(turn.t._("That choice is no longer available."))]
    slots = turn.slots
    slots["amount"] = minor
    return await advance(turn, slots)


async def use_own_number(turn: Turn) -> list[Reply]:
    """The user tapped "My number"."""
    if not turn.user.phone or "kind" not in turn.slots:
        return [Reply(turn.t._("That choice is no longer available."))]
    slots = turn.slots
    slots["phone"] = turn.user.phone
    return await advance(turn, slots)


def phone_from_text(turn: Turn, text: str) -> str | None:
    """A phone number typed on its own while we wait for one."""
    country = turn.country
    return normalize_phone(text, country.code) if country else None


#: A list row's number as people type it: "3", "3.", "#2", "no 2", "number 2", "option 3", "n°2".
_ROW = re.compile(
    r"^\s*(?:#|n°|no\.?|nº|num(?:ber|ero|éro)?|option|opção|opcao)?\s*(\d{1,2})\s*[.)]?\s*$", re.I
)


def row_number(text: str) -> int | None:
    """The row number a message is, if it is nothing but one."""
    found = _ROW.match(text)
    return int(found.group(1)) if found else None


def not_a_row(turn: Turn) -> list[Reply]:
    """A row number the list does not have: say so and show the same list again."""
    country = turn.country
    network = country.network(turn.slots.get("network", "")) if country else None
    assert network is not None
    shown = turn.slots.get(SHOWN_BUNDLES) or network.bundles
    return [
        Reply(turn.t._("Please pick a number from 1 to %(count)s.", count=len(shown))),
        _ask_bundle(turn, turn.slots, network),
    ]


def bundle_from_text(turn: Turn, text: str) -> str | None:
    """A bundle chosen by typing its row number, name or code while we wait for one."""
    country = turn.country
    network = country.network(turn.slots.get("network", "")) if country else None
    if network is None:
        return None
    cleaned = text.strip().lower()
    shown = turn.slots.get(SHOWN_BUNDLES) or [b.code for b in network.bundles]
    row = row_number(text)
    if row is not None and 1 <= row <= len(shown):
        return str(shown[row - 1])
    exact = next((b.code for b in network.bundles if cleaned in (b.code.lower(), b.name.lower())), None)
    return exact or _bundle_by_words(network, text)


def _bundle_by_words(network: Network, text: str) -> str | None:
    """The one bundle whose name has every word typed ("weekly", "mtn 2gb monthly"), if only one has."""
    names = {phrase_key(alias) for alias in (network.id, network.name, *network.aliases)}
    words = set(phrase_key(text).split()) - names
    if not words:
        return None
    found = [b.code for b in network.bundles if words <= set(phrase_key(b.name).split())]
    return found[0] if len(found) == 1 else None


async def confirm(turn: Turn, quote_id: str | None) -> list[Reply]:
    """Place the order for a quote, once; refuse stale, foreign or expired confirmations."""
    t = turn.t
    current = turn.slots.get("quote")
    if quote_id is None:
        quote_id = current
    if quote_id is None:
        return [Reply(t._("There is nothing to confirm. What would you like to buy?"))]
    if quote_id != current:
        existing = await orders.order_for_quote(turn.session, quote_id)
        if existing is not None:
            return [_already_placed(turn, existing.reference)]
        if await orders.quote_expired(turn.session, quote_id):
            return [Reply(t._("That offer has expired. Please start again."))]
        return [Reply(t._("That offer is no longer valid. Please use the latest one."))]
    if turn.transfers is not None and await _above_pin_threshold(turn, quote_id):
        available = await _short_of(turn, quote_id)
        if available is not None:
            turn.reset()
            return [
                _not_enough(turn, available)
            ]  # a PIN for a purchase the ledger will refuse asks for nothing
        slots = turn.slots
        slots[PIN_FOR] = quote_id
        return [await pin.ask(turn, slots)]
    return await _place(turn, quote_id)


async def _above_pin_threshold(turn: Turn, quote_id: str) -> bool:
    quote = await turn.session.get(Quote, quote_id)
    return quote is not None and orders.needs_pin_in(quote.country, Money(quote.amount, quote.currency))


async def _short_of(turn: Turn, quote_id: str) -> int | None:
    """What the wallet holds when that is less than a quote's price (None when it can pay)."""
    quote = await turn.session.get(Quote, quote_id)
    if quote is None:
        return None
    available = await available_balance(turn.session, turn.user.id, quote.currency)
    return available if available < quote.amount else None


def _not_enough(turn: Turn, balance: int) -> Reply:
    """The wallet (holding ``balance``) cannot pay the purchase: say so."""
    country = turn.country
    assert country is not None
    return Reply(
        turn.t._(
            "Your balance (%(balance)s) is not enough for this purchase. Nothing was charged.",
            balance=turn.t.money(Money(balance, country.currency)),
        )
    )


def waits_for_pin(turn: Turn) -> bool:
    """True when the PIN being asked for confirms a purchase (not a transfer)."""
    return turn.conversation.state in pin.STATES and PIN_FOR in turn.slots


async def on_pin(turn: Turn, text: str) -> list[Reply]:
    """The PIN for a purchase above the no-PIN threshold: check it, then place the order."""
    service = turn.transfers
    assert service is not None
    entry = await pin.take(turn, text, service.pepper)
    if isinstance(entry, Reply):
        return forgetting([entry])
    replies = [
        Reply(turn.t._("Your PIN is saved. Keep it to yourself: NexusTop staff will never ask for it."))
    ]
    if not entry.new:
        replies = []
        check = await pins.verify(turn.session, turn.user.id, entry.pin, service.pepper)
        if check.verdict is pins.PinVerdict.LOCKED:
            turn.reset()
            return forgetting([pin.locked_reply(turn.t, check.locked_until)])
        if not check.ok:
            return forgetting([pin.wrong_reply(turn.t, check.attempts_left)])
    quote_id = str(turn.slots[PIN_FOR])
    return forgetting([*replies, *(await _place(turn, quote_id, pin_verified=True))])


def _already_placed(turn: Turn, reference: str) -> Reply:
    return Reply(turn.t._("That order is already placed (ref %(ref)s).", ref=reference))


def _refused_terms(turn: Turn, problem: TermsProblem) -> Reply:
    """Terms the catalog refused when quoting (the slots were checked before, so rarely seen)."""
    abroad = _abroad(turn, str(turn.slots.get("phone", ""))) if isinstance(problem, WrongCountry) else None
    turn.reset()
    return abroad or Reply(turn.t._("That offer is no longer valid. Please use the latest one."))


async def _place(turn: Turn, quote_id: str, *, pin_verified: bool = False) -> list[Reply]:
    t = turn.t
    country = turn.country
    assert country is not None
    # No savepoint needed: a refused placement writes nothing (the ledger removes its own trace).
    placed = await purchases.confirm(
        turn.uow, turn.queue, user_id=turn.user.id, quote_id=quote_id, pin_verified=pin_verified
    )
    if isinstance(placed, InsufficientFunds):
        turn.reset()
        return [_not_enough(turn, placed.available.minor)]
    if isinstance(placed, QuoteProblem):
        if placed is QuoteProblem.NOT_YOURS:
            existing = await orders.order_for_quote(turn.session, quote_id)
            if existing is not None:
                return [_already_placed(turn, existing.reference)]
        turn.reset()
        if placed is QuoteProblem.EXPIRED:
            return [Reply(t._("That offer has expired. Please start again."))]
        if placed is QuoteProblem.PIN_REQUIRED:
            return [_pin_message(turn, country)]
        return [Reply(t._("That offer is no longer valid. Please use the latest one."))]
    if not placed.created:
        return [_already_placed(turn, placed.order.reference)]
    turn.reset()
    turn.placed_orders.append(placed.order.id)
    return [
        Reply(
            t._(
                "Order placed (ref %(ref)s). I'll message you as soon as it is delivered.",
                ref=placed.order.reference,
            )
        )
    ]


# ---- the flow in the engine -------------------------------------------------------------------

#: The intents that name a product.
PRODUCT_OF = {Intent.BUY_AIRTIME: ProductKind.AIRTIME, Intent.BUY_DATA: ProductKind.DATA}


def implied_product(parsed: Parsed) -> ProductKind | None:
    """A bare amount or phone number ("500", "0803…") starts an airtime purchase, our main product;
    a network's bundle validity ("mtn monthly", not "have a nice day") a data purchase."""
    if parsed.intent is not Intent.UNKNOWN:
        return None
    if parsed.validity_days is not None and parsed.network and parsed.amount is None:
        return ProductKind.DATA
    if parsed.amount is not None or parsed.phone:
        return ProductKind.AIRTIME
    return None


async def start_buying(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    """Answer "airtime 500 for 0803…", "mtn 1gb", a bare amount or number: ask what is missing, or quote."""
    kind = PRODUCT_OF.get(parsed.intent) or implied_product(parsed)
    assert kind is not None
    turn.conversation.misunderstood = 0
    slots = start(turn, kind, None)
    _carry_recipient(turn, slots)
    problems = absorb(turn, slots, parsed)
    return [*problems, *(await advance(turn, slots))]


async def _repeat(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return await repeat_last(turn)


def _carry_recipient(turn: Turn, slots: dict[str, object]) -> None:
    """Switching between airtime and data mid-purchase keeps the number (and network) already given."""
    if turn.conversation.state in PURCHASE_STATES:
        previous = turn.slots
        for key in ("phone", "network", "network_guessed"):
            if key in previous:
                slots[key] = previous[key]


def continues_flow(turn: Turn, parsed: Parsed) -> bool:
    """True when a message in the middle of a purchase answers it rather than starting something new."""
    kind = turn.slots.get("kind")
    wanted = PRODUCT_OF.get(parsed.intent)
    # "send it to 0809… instead": a bare "send" with only a number moves the top-up, not money.
    redirect = parsed.intent is Intent.SEND_MONEY and parsed.strength == 1 and parsed.amount is None
    return (
        parsed.intent is Intent.UNKNOWN
        or (parsed.intent is Intent.CHANGE_NETWORK and parsed.network is not None)
        or (wanted is not None and wanted.value == kind)
        or (redirect and parsed.phone is not None)
    )


async def continue_purchase(turn: Turn, text: str, parsed: Parsed) -> list[Reply]:
    """Take what a message in the middle of a purchase says, then ask the next question or quote."""
    state = turn.conversation.state
    slots = turn.slots
    if state == AWAIT_BUNDLE and (code := bundle_from_text(turn, text)):
        slots["bundle"] = code
        if row_number(text) is not None:
            parsed = Parsed(intent=Intent.UNKNOWN)  # the number picked a row: it is no price
    elif state == AWAIT_BUNDLE and row_number(text) is not None:
        return not_a_row(turn)
    elif state == AWAIT_PHONE and not parsed.phone and (phone := phone_from_text(turn, text)):
        slots["phone"] = phone
    problems = absorb(turn, slots, parsed)
    if not problems and slots == turn.slots:
        turn.conversation.misunderstood += 1
        if state == AWAIT_CONFIRM and "quote" in slots:
            return [remind_quote(turn)]
        problems = [Reply(turn.t._("Sorry, I didn't get that."))]
    slots.pop("quote", None)
    return [*problems, *(await advance(turn, slots))]


async def _on_state(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """A message while a purchase waits (after the engine read it against the open quote)."""
    if parsed.intent is Intent.CONFIRM and "quote" not in turn.slots:
        return await advance(turn, turn.slots)  # "yes" to a question: ask it again
    if continues_flow(turn, parsed):
        return await continue_purchase(turn, text, parsed)
    return None


async def _on_payload(turn: Turn, action: str, value: str) -> list[Reply] | None:
    """The purchase buttons: confirm, a network, a bundle, an amount, "my number", "change network"."""
    match action:
        case "confirm":
            return await confirm(turn, value or None)
        case "net":
            return await choose_network(turn, value)
        case "bundle":
            return await choose_bundle(turn, value)
        case "amount" if value.isdigit():
            return await choose_amount(turn, int(value))
        case "phone" if value == "self":
            return await use_own_number(turn)
        case "changenet" if turn.conversation.state == AWAIT_CONFIRM:
            return [change_network(turn)]
    return None


FLOW = Flow(
    "purchase",
    states=PURCHASE_STATES,
    on_state=_on_state,
    actions=("confirm", "net", "bundle", "amount", "phone", "changenet"),
    on_payload=_on_payload,
    starts={Intent.BUY_AIRTIME: start_buying, Intent.BUY_DATA: start_buying, Intent.REPEAT_ORDER: _repeat},
    private_only=True,
)
