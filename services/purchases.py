"""Buying airtime and data: quote, then confirm, the same for every door.

A door (the chat, a client app through the API) turns what the user said into plain values and
calls these use cases; it renders what comes back. The catalog's rules (``check_terms``), the
PIN threshold, the wallet and the ledger are applied here, once, whoever asks. Placed orders are
handed to fulfilment only after the transaction commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain import ledger, orders, users
from domain.countries import get_country
from domain.money import Money
from domain.orders import Placed, QuoteProblem, QuoteRejected
from domain.phones import guess_network
from domain.ports import FulfilmentQueue
from domain.purchase_terms import (
    ProductKind,
    QuoteTerms,
    TermsProblem,
    TermsRefused,
    UnknownBundle,
    UnknownCountry,
    UnknownNetwork,
    check_phone_country,
)
from services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class PurchaseRequest:
    """What a user asks to buy: airtime for an amount, or a data bundle by its code."""

    user_id: int
    country: str
    kind: ProductKind
    phone: str
    """E.164."""
    network: str | None = None
    """None: guessed from the number's prefix."""
    amount: int | None = None
    """Airtime, in minor units of the country's currency."""
    bundle_code: str | None = None
    """Data: the catalog's bundle code."""
    conversation_id: int | None = None
    """The chat the quote is shown in; None for a client app."""


@dataclass(frozen=True, slots=True)
class PurchaseQuote:
    """A priced offer: its id is what a confirmation names."""

    quote_id: str
    terms: QuoteTerms
    expires_at: datetime
    available: Money
    """What the wallet can spend now."""

    @property
    def short_by(self) -> Money | None:
        """How much the wallet lacks to pay it, or None when it can."""
        missing = self.terms.price.minor - self.available.minor
        return Money(missing, self.available.currency) if missing > 0 else None


@dataclass(frozen=True, slots=True)
class InsufficientFunds:
    """The wallet cannot pay the quote's price."""

    price: Money
    available: Money


ConfirmProblem = QuoteProblem | InsufficientFunds


def request_terms(request: PurchaseRequest) -> QuoteTerms | TermsProblem:
    """The terms a request comes to (network guessed, bundle priced), or why there are none."""
    country = get_country(request.country)
    if country is None:
        return UnknownCountry(request.country)
    if wrong := check_phone_country(country.code, request.phone):
        return wrong  # before guessing a network from a number that is not the country's
    network_id = request.network or guess_network(request.phone, country.code)
    network = country.network(network_id) if network_id else None
    if network is None:
        return UnknownNetwork(country.code, network_id or "")
    if request.kind is ProductKind.DATA:
        bundle = network.bundle(request.bundle_code) if request.bundle_code else None
        if bundle is None:
            return UnknownBundle(network.id, request.bundle_code)
        return QuoteTerms(
            ProductKind.DATA, country.code, network.id, request.phone, bundle.price, bundle.code
        )
    price = Money(request.amount if request.amount is not None else 0, country.currency)
    return QuoteTerms(ProductKind.AIRTIME, country.code, network.id, request.phone, price)


async def quote(
    uow: UnitOfWork, request: PurchaseRequest, ttl_seconds: float
) -> PurchaseQuote | TermsProblem:
    """Price a purchase the catalog allows and record the quote; or say why it is not allowed."""
    terms = request_terms(request)
    if not isinstance(terms, QuoteTerms):
        return terms
    async with uow.transaction() as session:
        try:
            made, available = await orders.create_quote_reading_wallet(
                session, request.conversation_id, request.user_id, terms, ttl_seconds
            )
        except TermsRefused as refused:  # checked (check_terms) before anything is written
            return refused.problem
        if available is None:
            available = await users.available_balance(session, request.user_id, terms.price.currency)
    return PurchaseQuote(made.id, terms, made.expires_at, Money(available, terms.price.currency))


async def confirm(
    uow: UnitOfWork,
    queue: FulfilmentQueue,
    *,
    user_id: int,
    quote_id: str,
    pin_verified: bool = False,
) -> Placed | ConfirmProblem:
    """Place the order for a quote, once; it goes to fulfilment after the commit.

    ``pin_verified`` says the door checked the user's transaction PIN in this unit of work; a
    price above the country's threshold without it is ``QuoteProblem.PIN_REQUIRED``. Confirming
    the same quote again returns the first order (``created`` False) and moves no money.
    """
    async with uow.transaction() as session:
        try:
            placed = await orders.place_order(session, quote_id, user_id, pin_verified=pin_verified)
        except QuoteRejected as rejected:
            return rejected.problem
        except ledger.InsufficientFunds:
            made = await orders.quote_by_id(session, quote_id)
            assert made is not None
            available = await users.available_balance(session, user_id, made.currency)
            return InsufficientFunds(Money(made.amount, made.currency), Money(available, made.currency))
        if placed.created:
            order_id = placed.order.id
            uow.after_commit(lambda: queue.enqueue(order_id))
    return placed
