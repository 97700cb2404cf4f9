"""The wallet-funding conversation: "fund 5000" → a payment link (or a phone prompt) → "wallet funded".

The payment is recorded in the turn; its gateway is asked for the link once the turn has
committed (``FundingService.complete``), and the link is shown by the turn that gets the answer.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from conversations.flows import Flow
from conversations.i18n import N_, Localizer, display_phone, localizer
from conversations.intents import Intent
from conversations.messages import Reply
from conversations.parser import Parsed
from conversations.turn import OutsideCall, Turn
from domain import kyc
from domain.countries import Country, get_country
from domain.funding import (
    AmountOutOfRange,
    FundingService,
    GatewayUnavailable,
    KycLimitReached,
    NoGateway,
    Recorded,
    Started,
)
from domain.models import Notification, Payment, User
from domain.money import Money, MoneyError
from domain.users import available_balance

#: Conversation state while we wait for the amount to add.
AWAIT_AMOUNT = "fund_amount"

#: Receipt texts per funding notification kind, translated when rendered.
RECEIPTS = {
    "wallet_funded": N_("✅ %(amount)s was added to your wallet. Ref %(ref)s."),
    "funding_failed": N_(
        "❌ Your payment of %(amount)s did not go through, so nothing was added to your wallet. Ref %(ref)s."
    ),
}

#: What to verify to reach a tier, per tier requirement, translated when shown.
VERIFY_WITH = {
    kyc.Requirement.BVN_OR_NIN: N_("your BVN or NIN"),
    kyc.Requirement.BVN_AND_NIN: N_("your BVN and NIN"),
    kyc.Requirement.NATIONAL_ID: N_("your national ID card"),
}

#: Words that pick a gateway when a country has several.
_PREFERENCES = (
    ("momo", "momo"),
    ("mobile money", "momo"),
    ("orange", "orange"),
    ("flutterwave", "flutterwave"),
    ("paystack", "paystack"),
    ("card", "paystack"),
)


def short_reference(reference: str) -> str:
    """What users see of a payment reference (enough for support to find it)."""
    return reference[:8].upper()


def _preferred(text: str, has_phone: bool) -> str | None:
    lowered = text.lower()
    for word, gateway in _PREFERENCES:
        if word in lowered:
            return gateway
    return None if has_phone else "paystack"


async def start(turn: Turn, parsed: Parsed) -> list[Reply]:
    """Answer "fund 5000" (or "fund wallet", then ask how much)."""
    country = turn.country
    assert country is not None
    if not country.funding_gateways:  # say so before asking how much
        return [Reply(turn.t._("Adding money to your wallet is not available in your country yet."))]
    if parsed.amount is None:
        turn.set_slots({"text": (turn.message.text or "")[:100]}, AWAIT_AMOUNT)
        example = turn.t.money(Money.of(5000 if country.currency != "GHS" else 50, country.currency))
        return [
            Reply(
                turn.t._(
                    "How much would you like to add to your wallet? For example: fund %(example)s",
                    example=example,
                )
            )
        ]
    return await _fund(turn, parsed.amount, turn.message.text or "")


async def on_amount(turn: Turn, parsed: Parsed) -> list[Reply]:
    """The amount, answering "how much?"."""
    if parsed.amount is None:
        return [Reply(turn.t._("Please send the amount to add, for example 5000, or say cancel."))]
    text = f"{turn.slots.get('text', '')} {turn.message.text or ''}"
    return await _fund(turn, parsed.amount, text)


async def fund_minor(turn: Turn, minor: int) -> list[Reply]:
    """The user tapped a button to add ``minor`` units of their currency (e.g. a quote's shortfall)."""
    country = turn.country
    assert country is not None
    return await _fund(turn, Money(minor, country.currency).major, turn.message.text or "")


async def _fund(turn: Turn, amount: Decimal, text: str) -> list[Reply]:
    """Record the top-up now; the gateway is asked for its link once the turn has committed."""
    t = turn.t
    country = turn.country
    service = turn.funding
    assert country is not None and service is not None
    turn.reset()
    try:
        money = Money.of(amount, country.currency)
    except MoneyError:
        return [Reply(t.bad_amount(amount, country.currency))]
    try:
        recorded = await service.record(
            turn.session,
            user_id=turn.user.id,
            conversation_id=turn.conversation.id,
            country=country,
            amount=money,
            phone=turn.user.phone,
            gateway=_preferred(text, turn.user.phone is not None),
        )
    except AmountOutOfRange as bounds:
        return [
            Reply(
                t._(
                    "You can add between %(minimum)s and %(maximum)s at a time.",
                    minimum=t.money(bounds.minimum),
                    maximum=t.money(bounds.maximum),
                )
            )
        ]
    except KycLimitReached as limit:
        return [Reply(_over_limit(t, country, limit) + "\n" + _raise_hint(t, country.code, limit.tier))]
    except NoGateway:
        return [Reply(t._("Adding money to your wallet is not available in your country yet."))]
    return turn.call_outside(
        OutsideCall("payment_link", partial(_link, service, recorded), partial(_on_link, money))
    )


async def _link(service: FundingService, recorded: Recorded) -> Started | None:
    """The payment's link from its gateway (filed on the payment); None when the gateway did not answer."""
    try:
        return await service.complete(recorded)
    except GatewayUnavailable:
        return None


async def _on_link(money: Money, turn: Turn, started: Started | None) -> list[Reply]:
    """Where to pay, or that the gateway is not answering."""
    t = turn.t
    if started is None:
        return [
            Reply(t._("The payment service is not answering right now. Please try again in a few minutes."))
        ]
    ref = short_reference(started.payment.reference)
    if started.link.url:
        return [
            Reply(
                t._(
                    "To add %(amount)s to your wallet, pay here:\n%(url)s\n"
                    "I'll tell you as soon as the payment is confirmed. Ref %(ref)s.",
                    amount=t.money(money),
                    url=started.link.url,
                    ref=ref,
                )
            )
        ]
    return [
        Reply(
            t._(
                "Approve the payment of %(amount)s in the prompt on your phone %(phone)s."
                " I'll tell you as soon as it is confirmed. Ref %(ref)s.",
                amount=t.money(money),
                phone=display_phone(turn.user.phone or ""),
                ref=ref,
            )
        )
    ]


def _over_limit(t: Localizer, country: Country, limit: KycLimitReached) -> str:
    """Which KYC cap the top-up hits and how much can still be added under it."""
    cap, room = t.money(limit.cap), t.money(limit.room)
    full = limit.room.minor < country.funding_min.minor  # less than the smallest top-up: nothing fits
    if limit.limit is kyc.Limit.MONTHLY_IN:
        if full:
            return t._(
                "You have reached this month's top-up limit of %(cap)s for your verification level,"
                " so you cannot add more this month.",
                cap=cap,
            )
        return t._(
            "You can add up to %(cap)s a month at your verification level,"
            " so you can add at most %(room)s more this month.",
            cap=cap,
            room=room,
        )
    if full:
        return t._(
            "Your wallet is at its limit of %(cap)s for your verification level, so you cannot add more now.",
            cap=cap,
        )
    return t._(
        "Your wallet can hold up to %(cap)s at your verification level, so you can add at most %(room)s now.",
        cap=cap,
        room=room,
    )


def _raise_hint(t: Localizer, country_code: str, tier: int) -> str:
    """What raises the user's limits: verifying a number, or (at the top) a person's review."""
    following = kyc.next_tier(country_code, tier)
    what = VERIFY_WITH.get(following.requires) if following is not None else None
    if what is None:
        return t._("To raise this limit, ask to talk to an agent.")
    return t._("Verifying your identity (%(what)s) raises this limit.", what=t._(what))


async def render(session: AsyncSession, notification: Notification) -> Reply | None:
    """The message for a funding notification, in its user's language."""
    payment = await session.get(Payment, notification.payment_id) if notification.payment_id else None
    user = await session.get(User, notification.user_id)
    template = RECEIPTS.get(notification.kind)
    if payment is None or user is None or template is None:
        return None
    t = localizer(user.language, get_country(payment.country))
    amount = Money(payment.amount, payment.currency)
    text = t._(template, amount=t.money(amount), ref=short_reference(payment.reference))
    if notification.kind == "wallet_funded":
        balance = Money(await available_balance(session, user.id, payment.currency), payment.currency)
        text += "\n" + t._("Your balance: %(balance)s", balance=t.money(balance))
    return Reply(text)


# ---- the flow in the engine -------------------------------------------------------------------


async def _on_state(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    if parsed.intent in (Intent.UNKNOWN, Intent.FUND_WALLET):
        return await on_amount(turn, parsed)
    return None


async def _on_payload(turn: Turn, action: str, value: str) -> list[Reply] | None:
    if value.isdigit() and turn.funding is not None:
        return await fund_minor(turn, int(value))
    return None


async def _start(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return await start(turn, parsed)


FLOW = Flow(
    "fund",
    states=(AWAIT_AMOUNT,),
    on_state=_on_state,
    actions=("fund",),
    on_payload=_on_payload,
    starts={Intent.FUND_WALLET: _start},
    available=lambda turn: turn.funding is not None,
)
