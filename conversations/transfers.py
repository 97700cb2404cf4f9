"""Sending money in chat: to a phone (at once, or as a claimable link), a bank account, a mobile-money wallet.

"send 2000 to 0803 123 4567" → ask only for what is missing (amount, recipient) → a quote with
Confirm / Cancel naming who gets what (the registered user's name, or the name the payout
gateway's account lookup returned) → the PIN (chosen first, typed twice, when the user has none)
→ ``TransferService.send``. The account lookup is an outside call: asked once the turn has
committed, and the quote is made by the turn that gets its answer. The transfer's reference is
made with the quote and kept in the slots, so a replayed or double-pressed Confirm, or a PIN
sent twice, never sends twice; a quote older
than the quote lifetime is refused. A send refused because the user is not verified yet waits
for the identity flow to resume it (``conversations.after_verify`` has the rule). Claims are
``conversations.claims``; the news about transfers afterwards, ``conversations.transfer_news``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import after_verify, payees, pin, purchase
from conversations.flows import Flow
from conversations.funding import short_reference
from conversations.gifting import start_link
from conversations.i18n import N_, Localizer, display_phone, example_phone
from conversations.intents import Intent
from conversations.messages import Button, ChatKind, Reply, forgetting
from conversations.parser import Parsed
from conversations.turn import OutsideCall, Turn
from conversations.vocabulary import LANGUAGES, load_language, phrase_key
from domain import banks, kyc, pins, risk
from domain.countries import Country
from domain.kyc import Requirement
from domain.models import MoneyTransfer, User, utcnow
from domain.money import Money, MoneyError
from domain.payout_routes import route_payout
from domain.phones import country_of_phone, mask_phone
from domain.pins import PinProblem
from domain.ports import AccountLookup, LookupStatus, PayoutDestination, PayoutGateway, PayoutKind
from domain.transfers import (
    Recipient,
    Refusal,
    SendRequest,
    Sent,
    TransferState,
    by_reference,
    new_reference,
)
from domain.users import available_balance

#: Waiting for the amount, the recipient, a bank account number, the bank of an account number.
AMOUNT, RECIPIENT, ACCOUNT, BANK = "send_amount", "send_recipient", "send_account", "send_bank"
ASKING = (AMOUNT, RECIPIENT, ACCOUNT, BANK)
#: Waiting for the payout gateway's account-name lookup (made after the turn commits).
LOOKUP = "send_lookup"
#: A quote is shown with Confirm / Cancel.
CONFIRM = "send_confirm"
#: The button action that confirms a quote (``sendok:<reference>``).
ACTIONS = ("sendok",)
#: What a bare PIN-like or BVN-like number gets when nothing waits for one: it may be a secret sent late.
_STRAY_SECRET = N_(
    "I wasn't waiting for a PIN or an ID number, so if that was one, I've hidden it."
    " Only send them when I ask."
)
#: Digits in a BVN or NIN.
_ID_DIGITS = 11
#: The slots that say who gets the money.
_RECIPIENT_SLOTS = ("phone", "payout", "bank", "network", "account")

_ACCOUNT_RUN = re.compile(r"\d+(?:[ \-.]\d+)*")


# ---- reading the request ------------------------------------------------------------------


@cache
def _send_words() -> re.Pattern[str]:
    """Every language's words for "send money": they never name a bank or a wallet ("send am money")."""
    phrases = {
        phrase
        for language in LANGUAGES
        for tier in load_language(language).intents.get(Intent.SEND_MONEY, {}).values()
        for phrase in tier
    }
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


def _payee_words(text: str) -> str:
    """The words of a message that may name a bank or a wallet."""
    return _send_words().sub(" ", phrase_key(text))


def _account_number(country: str, text: str, amount: Decimal | None) -> str | None:
    """A bank account number in the message (not the amount), if the country's rule allows it."""
    amount_digits = format(amount, "f") if amount is not None else None
    for run in _ACCOUNT_RUN.findall(text):
        for candidate in (run, *re.split(r"[ \-.]", run)):
            number = banks.normalize_account_number(country, candidate)
            if number is not None and number != amount_digits:
                return number
    return None


def _country(turn: Turn) -> Country:
    country = turn.country
    assert country is not None
    return country


def _absorb_amount(turn: Turn, slots: dict[str, Any], parsed: Parsed) -> Reply | None:
    country = _country(turn)
    t = turn.t
    if parsed.amount is None:
        return None
    if parsed.currency and parsed.currency != country.currency:
        return Reply(
            t._("I can only send %(currency)s from your wallet.", currency=t.currency(country.currency))
        )
    try:
        minor = Money.of(parsed.amount, country.currency).minor
    except MoneyError:
        minor = 0
    if minor <= 0:
        return Reply(t.bad_amount(parsed.amount, country.currency))
    slots["amount"] = minor
    return None


def _choose_payout(slots: dict[str, Any], payout: str, **fields: str) -> None:
    """Send to a bank or a wallet from now on; an account number typed before a bank was named stays."""
    keep_account = payout == PayoutKind.BANK and slots.get("payout") is None
    account = slots.get("account") if keep_account else None
    for name in _RECIPIENT_SLOTS:
        slots.pop(name, None)
    slots.update(payout=payout, **fields)
    if account:
        slots["account"] = account


def _absorb_recipient(turn: Turn, slots: dict[str, Any], text: str, parsed: Parsed) -> None:
    """Copy who gets the money from a message into the slots: a phone, a bank and account, a wallet."""
    code = _country(turn).code
    words = _payee_words(text)
    if bank := banks.find_bank(code, words):
        _choose_payout(slots, PayoutKind.BANK, bank=bank.code)
    elif wallet := banks.find_mobile_money_network(code, words):
        _choose_payout(slots, PayoutKind.MOBILE_MONEY, network=wallet.network)
    payout = slots.get("payout")
    account = _account_number(code, text, parsed.amount)
    if payout == PayoutKind.BANK:
        if account:
            slots["account"] = account
    elif payout == PayoutKind.MOBILE_MONEY:
        if parsed.phone:
            slots["account"] = parsed.phone
    elif parsed.phone:
        slots.pop("account", None)
        slots["phone"] = parsed.phone
    elif account and banks.banks(code):
        slots.pop("phone", None)
        slots["account"] = account


def _absorb(turn: Turn, slots: dict[str, Any], text: str, parsed: Parsed) -> Reply | None:
    """Copy amount and recipient into the slots; return a complaint about a bad amount."""
    if turn.conversation.state not in (ACCOUNT, BANK):  # there, digits are an account number
        problem = _absorb_amount(turn, slots, parsed)
        if problem is not None:
            return problem
    _absorb_recipient(turn, slots, text, parsed)
    return None


# ---- the flow -------------------------------------------------------------------------------


async def start(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    """Answer "send 2000 to 0803…", "transfer 5k", "send 10000 to GTBank 0123456789"."""
    if turn.message.chat_kind is not ChatKind.PRIVATE:
        return [Reply(turn.t._("Let's do that in a private chat with me."))]
    turn.conversation.misunderstood = 0
    slots: dict[str, Any] = {}
    problem = _absorb(turn, slots, text, parsed)
    return [problem] if problem else await _advance(turn, slots)


async def resume(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    """Pick a send refused until the user verified back up: the quote, or why it still can't go."""
    if turn.transfers is None:
        return []
    return await _advance(turn, dict(slots))


async def on_pin_text(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """A message while a PIN is asked for (a purchase's or a send's); None when it is another request."""
    if pins.pin_problem(text.strip()) is PinProblem.FORMAT and parsed.intent is not Intent.UNKNOWN:
        return None  # "balance", "forgot my PIN"…: not a PIN, another request
    if purchase.waits_for_pin(turn):
        return await purchase.on_pin(turn, text)
    return await _on_pin(turn, text)


async def stray_secret(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """With nothing going on, a bare number that may be a PIN or an ID number: hidden, and why."""
    if parsed.intent is Intent.UNKNOWN and await _maybe_secret(turn, text, parsed):
        return forgetting([Reply(turn.t._(_STRAY_SECRET))])
    return None


async def on_text(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """A message while a send waits for something; None when it starts something else instead."""
    state = turn.conversation.state
    if state == CONFIRM and parsed.intent is Intent.CONFIRM:
        return await confirm(turn, None)
    if state in (*ASKING, LOOKUP, CONFIRM) and parsed.intent in (Intent.UNKNOWN, Intent.SEND_MONEY):
        return await _continue(turn, text, parsed)
    return None


async def _maybe_secret(turn: Turn, text: str, parsed: Parsed) -> bool:
    """True for a bare number that may be a BVN/NIN (not a phone), or a PIN of a user who has one."""
    digits = text.strip()
    # BVNs start with 22, like the international forms of many West African numbers; a bare number
    # without "+" or a leading 0 is more likely an identity number than a phone, so it is hidden.
    if digits.isdigit() and len(digits) == _ID_DIGITS and not digits.startswith("0"):
        return True
    return pins.looks_like_pin(digits) and await pins.has_pin(turn.session, turn.user.id)


async def _continue(turn: Turn, text: str, parsed: Parsed) -> list[Reply]:
    slots = turn.slots
    after_verify.drop(slots)  # answered here: a send kept for after verifying is gone
    before = dict(slots)
    problem = _absorb(turn, slots, text, parsed)
    if problem is not None:
        return [problem]
    if slots == before:
        turn.conversation.misunderstood += 1
        return [_not_understood(turn), *(await _advance(turn, slots))]
    return await _advance(turn, slots)


def _not_understood(turn: Turn) -> Reply:
    t = turn.t
    if turn.conversation.state != BANK:
        return Reply(t._("Sorry, I didn't get that."))
    examples = ", ".join(bank.name for bank in banks.banks(_country(turn).code)[:3])
    return Reply(
        t._(
            "I don't know that bank. Write its name as your banking app shows it, e.g. %(examples)s.",
            examples=examples,
        )
    )


async def _advance(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    """Ask for the first missing thing, refuse what cannot be sent, or quote."""
    for key in ("ref", "quoted_at", "name"):
        slots.pop(key, None)
    if "amount" not in slots:
        return [_ask_amount(turn, slots)]
    question = _ask_recipient(turn, slots)
    if question is not None:
        return [question]
    refused = await _refuse_early(turn, slots)
    if refused is not None:
        return refused
    return await _quote(turn, slots)


def _ask_amount(turn: Turn, slots: dict[str, Any]) -> Reply:
    turn.set_slots(slots, AMOUNT)
    return Reply(turn.t._("How much would you like to send?"))


def _ask_recipient(turn: Turn, slots: dict[str, Any]) -> Reply | None:
    """The question for the missing part of the recipient, or None when it is complete."""
    t = turn.t
    country = _country(turn)
    payout = slots.get("payout")
    if payout == PayoutKind.BANK and "account" not in slots:
        turn.set_slots(slots, ACCOUNT)
        return Reply(
            t._("What is the %(bank)s account number?", bank=payees.bank_name(country.code, slots["bank"]))
        )
    if payout == PayoutKind.MOBILE_MONEY and "account" not in slots:
        turn.set_slots(slots, RECIPIENT)
        return Reply(
            t._("What is the %(wallet)s number?", wallet=payees.wallet_name(country.code, slots["network"]))
        )
    if payout is None and "account" in slots:
        turn.set_slots(slots, BANK)
        return Reply(t._("Which bank is account %(account)s with?", account=mask_phone(slots["account"])))
    if payout is None and "phone" not in slots:
        turn.set_slots(slots, RECIPIENT)
        return Reply(_who_question(t, country, Money(slots["amount"], country.currency)))
    return None


def _who_question(t: Localizer, country: Country, amount: Money) -> str:
    lines = [t._("Who should I send %(amount)s to? Send their phone number.", amount=t.money(amount))]
    known_banks = banks.banks(country.code)
    if known_banks and country.payout_gateways(PayoutKind.BANK):
        bank_example = " ".join((known_banks[0].name, "0123456789"))
        lines.append(t._("Or a bank and an account number, e.g. %(example)s.", example=bank_example))
    wallets = banks.mobile_money_networks(country.code)
    if wallets and country.payout_gateways(PayoutKind.MOBILE_MONEY):
        wallet_example = " ".join((wallets[0].name, example_phone(country.code)))
        lines.append(
            t._("Or a mobile-money wallet and its number, e.g. %(example)s.", example=wallet_example)
        )
    return "\n".join(lines)


async def _refuse_early(turn: Turn, slots: dict[str, Any]) -> list[Reply] | None:
    """What can be refused before the quote (and before any PIN): self, abroad, balance, limits."""
    country = _country(turn)
    number = slots.get("phone") or (
        slots["account"] if slots.get("payout") == PayoutKind.MOBILE_MONEY else None
    )
    if number is not None and number == turn.user.phone and slots.get("payout") is None:
        turn.reset()
        return [await refusal_reply(turn, Refusal.SELF, None)]
    if number is not None and country_of_phone(number) != country.code:
        for key in ("phone", "account"):
            slots.pop(key, None)
        refused = await refusal_reply(turn, Refusal.OTHER_COUNTRY, None)
        return [refused, *(await _advance(turn, slots))]
    amount = Money(slots["amount"], country.currency)
    refusal, room = await _money_problem(turn, amount)
    if refusal is Refusal.UNVERIFIED:
        after_verify.pause(turn, slots)
        return [await refusal_reply(turn, refusal, room)]
    if refusal is not None:
        refused = await refusal_reply(turn, refusal, room)
        if any(button.id == "idverify" for button in refused.buttons):
            slots |= after_verify.kept(slots)  # verifying raises the limit: the send may resume
        slots.pop("amount")
        return [refused, _ask_amount(turn, slots)]
    return None


async def _money_problem(turn: Turn, amount: Money) -> tuple[Refusal | None, Money | None]:
    """The refusal the balance or the user's level would give ``amount`` now (the domain checks again)."""
    session, user_id = turn.session, turn.user.id
    if await available_balance(session, user_id, amount.currency) < amount.minor:
        return Refusal.INSUFFICIENT_FUNDS, None
    limits = kyc.limits_for(_country(turn).code, await kyc.tier_of(session, user_id))
    if limits.daily_out.minor <= 0:
        return Refusal.UNVERIFIED, None
    room = limits.daily_out.minor - await risk.sent_today(session, user_id, utcnow())
    if amount.minor > room:
        return Refusal.DAILY_LIMIT, Money(max(room, 0), amount.currency)
    return None, None


# ---- the quote ------------------------------------------------------------------------------


def _destination(turn: Turn, slots: dict[str, Any]) -> tuple[PayoutDestination, PayoutGateway] | None:
    """Where a payout goes, in the codes of the gateway that will pay it (as the service routes it)."""
    service = turn.transfers
    assert service is not None
    code = _country(turn).code
    entry = (
        banks.bank_by_code(code, slots["bank"])
        if slots["payout"] == PayoutKind.BANK
        else banks.mobile_money_network(code, slots["network"])
    )
    route = route_payout(service.gateways, entry, slots["account"]) if entry is not None else None
    return (route.destination, route.gateway) if route is not None else None


async def _ask_payout_name(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    """Ask the gateway for the account holder's name (after commit); the quote follows its answer."""
    found = _destination(turn, slots)
    if found is None:
        turn.reset()
        return [await refusal_reply(turn, Refusal.NO_ROUTE, None)]
    destination, gateway = found
    turn.set_slots(slots, LOOKUP)
    return turn.call_outside(
        OutsideCall("account_lookup", partial(gateway.lookup_account, destination), _on_payout_name)
    )


async def _on_payout_name(turn: Turn, lookup: AccountLookup) -> list[Reply]:
    """The gateway's answer about the account: the quote, or the replies that stop the send."""
    t = turn.t
    slots = turn.slots
    if lookup.status is LookupStatus.UNAVAILABLE:
        turn.reset()
        return [Reply(t._("I can't check that account right now. Please try again in a few minutes."))]
    if lookup.status is LookupStatus.NOT_FOUND:
        account = mask_phone(slots.pop("account"))
        text = t._(
            "I couldn't find account %(account)s. Please check the number and send it again.", account=account
        )
        question = _ask_recipient(turn, slots)
        return [Reply(text), *([question] if question else [])]
    return await _show_quote(turn, slots, lookup.account_name, "")


async def _quote(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    if slots.get("payout"):
        return await _ask_payout_name(turn, slots)
    user_id = await _user_with_phone(turn.session, slots["phone"])
    name = await payees.name_of(turn.session, user_id) if user_id is not None else None
    note = _claim_note(turn, slots["phone"]) if user_id is None else ""
    return await _show_quote(turn, slots, name, note)


async def _show_quote(turn: Turn, slots: dict[str, Any], name: str | None, note: str) -> list[Reply]:
    """The quote with Confirm / Cancel, under a reference made now (so a Confirm sends once)."""
    t = turn.t
    country = _country(turn)
    slots.update(ref=new_reference(), quoted_at=utcnow().isoformat(), name=name)
    turn.set_slots(slots, CONFIRM)
    amount = Money(slots["amount"], country.currency)
    balance = Money(await available_balance(turn.session, turn.user.id, country.currency), country.currency)
    lines = [
        t._(
            "Send %(amount)s to %(payee)s?",
            amount=t.money(amount),
            payee=str(payees.of_slots(country.code, slots)),
        )
    ]
    lines += [note] if note else []
    lines.append(t._("Your balance: %(balance)s", balance=t.money(balance)))
    buttons = (Button(f"sendok:{slots['ref']}", t._("Confirm")), Button("cancel", t._("Cancel")))
    return [Reply("\n".join(lines), buttons=buttons)]


def _claim_note(turn: Turn, phone: str) -> str:
    assert turn.transfers is not None
    hours = int(turn.transfers.claim_ttl.total_seconds() // 3600)
    return turn.t.n_(
        "%(phone)s is not on NexusTop yet: I'll give you a link to send them."
        " If they don't claim the money within %(hours)s hour, it comes back to you.",
        "%(phone)s is not on NexusTop yet: I'll give you a link to send them."
        " If they don't claim the money within %(hours)s hours, it comes back to you.",
        hours,
        phone=display_phone(phone),
        hours=hours,
    )


async def _user_with_phone(session: AsyncSession, phone: str) -> int | None:
    return await session.scalar(select(User.id).where(User.phone == phone))


# ---- confirming and sending -----------------------------------------------------------------


def _stale(turn: Turn, slots: dict[str, Any]) -> bool:
    quoted = slots.get("quoted_at")
    if not isinstance(quoted, str):
        return True
    return utcnow() - datetime.fromisoformat(quoted) > timedelta(seconds=turn.quote_ttl_seconds)


async def confirm(turn: Turn, reference: str | None) -> list[Reply]:
    """Confirm or a pressed Confirm: ask for the PIN, once per quote; stale or spent quotes are refused."""
    t = turn.t
    slots = turn.slots
    current = slots.get("ref")
    reference = reference or current
    state = turn.conversation.state
    if reference is None:
        return [Reply(t._("There is nothing to confirm. What would you like to buy?"))]
    if reference != current or state not in (CONFIRM, *pin.STATES):
        existing = await by_reference(turn.session, reference)
        if existing is not None and existing.sender_user_id == turn.user.id:
            return [_already_sent(t, existing)]
        return [Reply(t._("That offer is no longer valid. Please use the latest one."))]
    if _stale(turn, slots):
        turn.reset()
        return [Reply(t._("That offer has expired. Please start again."))]
    return [await pin.ask(turn, slots)]


def _already_sent(t: Localizer, transfer: MoneyTransfer) -> Reply:
    return Reply(t._("That transfer is already made (ref %(ref)s).", ref=short_reference(transfer.reference)))


async def _on_pin(turn: Turn, text: str) -> list[Reply]:
    """A message while a PIN is expected: choose one, or send with it."""
    service = turn.transfers
    t = turn.t
    if service is None:
        turn.reset()
        return forgetting([Reply(t._("Sending money is not available right now. Nothing was sent."))])
    entry = await pin.take(turn, text, service.pepper)
    if isinstance(entry, Reply):
        return forgetting([entry])
    replies = [pin.saved_reply(t)] if entry.new else []
    slots = turn.slots
    if _stale(turn, slots):
        turn.reset()
        return forgetting([*replies, Reply(t._("That offer has expired. Please start again."))])
    request = _request(turn, slots, entry.pin)
    if request is None:
        turn.reset()
        return forgetting([*replies, await refusal_reply(turn, Refusal.NO_ROUTE, None)])
    sent = await service.send(turn.session, request)
    return forgetting([*replies, *(await _after_send(turn, slots, sent))])


def _request(turn: Turn, slots: dict[str, Any], entered: str) -> SendRequest | None:
    country = _country(turn)
    if slots.get("payout"):
        found = _destination(turn, slots)
        if found is None:
            return None
        recipient = Recipient(destination=found[0], account_name=slots.get("name"))
    else:
        recipient = Recipient(phone=slots["phone"])
    return SendRequest(
        reference=slots["ref"],
        sender_user_id=turn.user.id,
        country=country.code,
        amount=Money(slots["amount"], country.currency),
        pin=entered,
        recipient=recipient,
        conversation_id=turn.conversation.id,
    )


async def _after_send(turn: Turn, slots: dict[str, Any], sent: Sent) -> list[Reply]:
    t = turn.t
    if sent.transfer is not None:
        turn.reset()
        if not sent.created:
            return [_already_sent(t, sent.transfer)]
        return [await _sent_reply(turn, sent.transfer, slots.get("name"))]
    if sent.refusal is Refusal.PIN_WRONG and sent.pin is not None:
        return [pin.wrong_reply(t, sent.pin.attempts_left)]  # still waiting for the PIN
    if sent.refusal is Refusal.PIN_NOT_SET:
        return [pin.choose(turn, slots)]  # reset meanwhile: choose a new one
    turn.reset()
    if sent.refusal is Refusal.PIN_LOCKED:
        return [pin.locked_reply(t, sent.pin.locked_until if sent.pin else None)]
    assert sent.refusal is not None
    return [await refusal_reply(turn, sent.refusal, sent.room)]


async def _sent_reply(turn: Turn, transfer: MoneyTransfer, name: str | None) -> Reply:
    t = turn.t
    payee = await payees.of_transfer(turn.session, transfer)
    if name and not payee.name:
        payee = payees.Payee(name, payee.where)
    values = {
        "amount": t.money(Money(transfer.amount, transfer.currency)),
        "payee": str(payee),
        "ref": short_reference(transfer.reference),
    }
    state = TransferState(transfer.state)
    if state is TransferState.CLAIMABLE:
        return claim_link_reply(t, transfer)
    if state is TransferState.HELD:
        text = t._(
            "⏳ Your transfer of %(amount)s to %(payee)s is being checked by our team. The money is set"
            " aside; I'll tell you as soon as it goes through. Ref %(ref)s.",
            **values,
        )
    elif state is TransferState.COMPLETED:
        text = t._("✅ Sent %(amount)s to %(payee)s. Ref %(ref)s.", **values)
    else:
        text = t._("⏳ Sending %(amount)s to %(payee)s. I'll tell you when it lands. Ref %(ref)s.", **values)
    return Reply(text + "\n" + await balance_line(turn.session, t, turn.user.id, transfer.currency))


def claim_link_reply(t: Localizer, transfer: MoneyTransfer) -> Reply:
    """The claimable transfer's link for the sender to pass on, and when it expires."""
    assert transfer.claim_token is not None and transfer.expires_at is not None
    text = t._(
        "✅ %(amount)s is set aside for %(phone)s. To get it, they send"
        ' "claim %(token)s" to me: forward them this message. If it is not claimed by %(expiry)s,'
        " it comes back to you.",
        amount=t.money(Money(transfer.amount, transfer.currency)),
        phone=display_phone(transfer.recipient_phone or ""),
        token=transfer.claim_token,
        expiry=t.clock(transfer.expires_at),
    )
    return Reply(text, link=start_link(transfer.claim_token), link_title=t._("Claim the money"))


async def balance_line(session: AsyncSession, t: Localizer, user_id: int, currency: str) -> str:
    """The user's balance now, as the last line of a message."""
    balance = Money(await available_balance(session, user_id, currency), currency)
    return t._("Your balance: %(balance)s", balance=t.money(balance))


async def refusal_reply(turn: Turn, refusal: Refusal, room: Money | None) -> Reply:
    """Why a transfer was not made (nothing moved), and what to do about it."""
    t = turn.t
    country = _country(turn)
    match refusal:
        case Refusal.UNVERIFIED:
            text = t._("Before you can send money, I need to check who you are. It takes a minute.")
            return Reply(text, buttons=(Button("idverify", t._("Verify me")),))
        case Refusal.DAILY_LIMIT:
            room = room or Money(0, country.currency)
            text = t._(
                "That is more than you can send today: %(room)s left at your level.", room=t.money(room)
            )
            return await _with_raise_hint(turn, text)
        case Refusal.RECIPIENT_LIMIT:
            room = room or Money(0, country.currency)
            text = t._(
                "The recipient's wallet can't take that much right now: at most %(room)s.", room=t.money(room)
            )
        case Refusal.INSUFFICIENT_FUNDS:
            balance = await balance_line(turn.session, t, turn.user.id, country.currency)
            text = t._("You don't have enough money for that. Nothing was sent.") + "\n" + balance
        case Refusal.SELF:
            text = t._("You can't send money to yourself.")
        case Refusal.OTHER_COUNTRY:
            text = t._(
                "I can only send money to people in %(country)s for now.", country=t.country(country.code)
            )
        case Refusal.NO_ROUTE:
            text = t._(
                "Sending to that kind of account is not available in %(country)s yet.",
                country=t.country(country.code),
            )
        case _:
            text = t._("That transfer can't be made. Nothing was sent.")
    return Reply(text)


async def _with_raise_hint(turn: Turn, text: str) -> Reply:
    """A limit refusal, with how to raise the limit (verifying a number, or asking our team)."""
    t = turn.t
    code = _country(turn).code
    upper = kyc.next_tier(code, await kyc.tier_of(turn.session, turn.user.id))
    if upper is None:
        return Reply(text)
    if upper.requires is Requirement.STAFF_REVIEW:
        return Reply(text + "\n" + t._("To raise your limit, say agent and our team will help."))
    hint = t._("To raise your limit, verify your identity.")
    return Reply(text + "\n" + hint, buttons=(Button("idverify", t._("Verify me")),))


# ---- the flows in the engine ------------------------------------------------------------------


async def _confirm(turn: Turn, action: str, value: str) -> list[Reply]:
    return await confirm(turn, value or None)


FLOW = Flow(
    "send",
    states=(*ASKING, LOOKUP, CONFIRM),
    on_state=on_text,
    actions=ACTIONS,
    on_payload=_confirm,
    starts={Intent.SEND_MONEY: start},
    available=lambda turn: turn.transfers is not None,
)
#: Typing a PIN, a purchase's or a send's (``conversations.pin`` asks; the payer checks it).
PIN_FLOW = Flow("pin", states=pin.STATES, on_state=on_pin_text)
