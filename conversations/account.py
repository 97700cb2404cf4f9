"""Answers about the user's own account: balance, recent orders, help, and features still to come."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from conversations import transfer_news
from conversations.flows import Flow, Start
from conversations.i18n import N_, display_phone, example_airtime, example_phone
from conversations.intents import Intent
from conversations.messages import Reply
from conversations.parser import Parsed
from conversations.turn import Turn
from domain import orders
from domain.countries import get_country
from domain.money import Money
from domain.purchase_terms import ProductKind
from domain.users import wallet_balance

#: Lines the history shows.
HISTORY_LINES = 5
#: Honest answers for what this version cannot do yet (send money: only where money out is not wired).
NOT_YET: dict[Intent, str] = {
    Intent.SEND_MONEY: N_("Sending money is not available yet. For now I can sell airtime and data bundles."),
    Intent.FUND_WALLET: N_(
        "Funding your wallet by card or mobile money is coming soon. For now I can sell airtime and data."
    ),
    Intent.PAY_BILL: N_("Bill payments are not available yet. For now I can sell airtime and data bundles."),
    Intent.GIFT: N_("Gifting airtime to friends is coming soon. For now you can buy airtime for any number."),
}

_STATES = {
    orders.OrderState.PLACED: N_("processing"),
    orders.OrderState.SUBMITTED: N_("processing"),
    orders.OrderState.DELIVERED: N_("delivered"),
    orders.OrderState.REFUNDED: N_("failed, refunded"),
    orders.OrderState.NEEDS_REVIEW: N_("being checked by our team"),
}


def network_name(country_code: str, network_id: str) -> str:
    """The display name of a network, or its id if the catalog no longer lists it."""
    country = get_country(country_code)
    network = country.network(network_id) if country else None
    return network.name if network else network_id


def help_reply(turn: Turn) -> Reply:
    """What the bot can do, with examples in the user's currency."""
    t = turn.t
    country = turn.country
    example = t.money(example_airtime(country)) if country else "500"
    return Reply(
        t._(
            "I can top up any phone in seconds. Try:\n"
            "• airtime %(example)s for %(phone)s\n"
            "• 1GB data\n"
            "• balance\n"
            "• history\n"
            "Say cancel at any time to stop.",
            example=example,
            phone=example_phone(country.code if country else "NG"),
        )
    )


def not_yet_reply(turn: Turn, intent: Intent) -> Reply:
    """The honest answer for an intent this version does not fulfil."""
    return Reply(turn.t._(NOT_YET[intent]))


async def balance_reply(turn: Turn) -> Reply:
    """The user's spendable balance, and what is on hold for payments still in progress."""
    t = turn.t
    country = turn.country
    assert country is not None
    wallet = await wallet_balance(turn.session, turn.user.id, country.currency)
    text = t._("Your balance: %(balance)s", balance=t.money(Money(wallet.available, country.currency)))
    if wallet.debits_pending:
        held = t.money(Money(wallet.debits_pending, country.currency))
        text += "\n" + t._("%(held)s more is on hold for orders and transfers in progress.", held=held)
    return Reply(text)


async def history_reply(turn: Turn) -> Reply:
    """The user's last five orders and transfers, newest first, with their status."""
    t = turn.t
    recent = await orders.recent_orders(turn.session, turn.user.id)
    moves = await transfer_news.history_lines(turn)
    if not recent and not moves:
        return Reply(t._("You have no orders yet."))
    lines: list[tuple[datetime, str]] = list(moves)
    for order in recent:
        product = t._("airtime") if order.kind == ProductKind.AIRTIME else t._("data")
        lines.append(
            (
                order.created_at,
                t._(
                    "%(when)s · %(price)s %(network)s %(product)s → %(phone)s · %(state)s",
                    when=t.when(order.created_at),
                    price=t.money(Money(order.amount, order.currency)),
                    network=network_name(order.country, order.network),
                    product=product,
                    phone=display_phone(order.phone),
                    state=t._(_STATES[orders.OrderState(order.state)]),
                ),
            )
        )
    newest = sorted(lines, key=lambda line: line[0], reverse=True)[:HISTORY_LINES]
    title = t._("Your recent activity:") if moves else t._("Your recent orders:")
    return Reply("\n".join([title, *(line for _, line in newest)]))


# ---- the answers in the engine ----------------------------------------------------------------

#: Questions about the account answered at once, even with a purchase open.
ANSWERS: dict[Intent, Callable[[Turn], Awaitable[Reply]]] = {
    Intent.CHECK_BALANCE: balance_reply,
    Intent.HISTORY: history_reply,
}


def _answering(answer: Callable[[Turn], Awaitable[Reply]]) -> Start:
    """A start that only answers."""

    async def start(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
        return [await answer(turn)]

    return start


FLOW = Flow(
    "account", starts={intent: _answering(reply) for intent, reply in ANSWERS.items()}, private_only=True
)
