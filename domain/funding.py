"""Wallet funding: start a payment at a gateway, then credit the wallet exactly once when it is paid.

A payment's ``reference`` (a UUID v4) is its key at the gateway *and* the id of the ledger
transfer ``system:gateway_clearing:CUR → wallet`` that credits it, so however many webhooks and
polls report it paid, in whatever order, the money moves once.

Nothing a webhook says is believed on its own. A webhook is stored once under its gateway's
event key (``payment_events``, UNIQUE (gateway, event_key)) before anything acts on it; a forged
one is dropped unstored (an unsigned request must not be able to write to the database), and so is
an unsigned hint about no payment of ours; any other (signed, or a hint about one of our payments)
triggers a status query, and
only the gateway's status API decides: status successful, same reference, same currency, amount
≥ expected. A poller asks the same question about payments whose webhook never came.

This module is pure of adapters: gateways come in through ``domain.ports.PaymentGateway``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import kyc, ledger
from domain.countries import Country
from domain.database import Database, dialect_insert
from domain.models import Notification, Payment, PaymentEvent, utcnow
from domain.money import Money
from domain.ports import (
    PaymentCheck,
    PaymentGateway,
    PaymentGatewayError,
    PaymentLink,
    PaymentRequest,
    PaymentStatus,
)

log = logging.getLogger(__name__)

#: The system account every gateway collection is debited from (it goes negative until settlement).
CLEARING = "gateway_clearing"
#: The ledger transfer code of a wallet credit from a gateway.
TRANSFER_CODE = ledger.TransferCode.FUNDING
#: Waits between status checks of a payment nobody told us about, in seconds (the last repeats).
CHECK_DELAYS: tuple[float, ...] = (30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
#: A payment still unpaid after this long is given up (a late success still credits it).
MAX_AGE = timedelta(hours=24)
#: Longest webhook body we keep.
MAX_PAYLOAD = 65536


class PaymentState(StrEnum):
    """Where a payment stands."""

    CREATED = "created"
    PENDING = "pending"
    """Waiting for the user to pay (or for the gateway to tell us)."""
    CREDITED = "credited"
    FAILED = "failed"
    REJECTED = "rejected"
    """The gateway says paid, but not what we asked (amount, currency, reference): no money moved."""
    EXPIRED = "expired"


class Outcome(StrEnum):
    """What acting on a webhook or a status check did."""

    CREDITED = "credited"
    ALREADY_CREDITED = "already_credited"
    DUPLICATE = "duplicate"
    FORGED = "forged"
    REJECTED = "rejected"
    FAILED = "failed"
    PENDING = "pending"
    EXPIRED = "expired"
    UNKNOWN_REFERENCE = "unknown_reference"
    IGNORED = "ignored"


class FundingProblem(Exception):
    """A top-up the user asked for that cannot be started."""


class AmountOutOfRange(FundingProblem):
    """Below the country's minimum or above its maximum top-up."""

    def __init__(self, minimum: Money, maximum: Money) -> None:
        super().__init__(f"between {minimum} and {maximum}")
        self.minimum = minimum
        self.maximum = maximum


class NoGateway(FundingProblem):
    """No gateway serves the user's country (or none is configured here)."""


class GatewayUnavailable(FundingProblem):
    """The gateway could not start the payment now."""


class KycLimitReached(FundingProblem):
    """The top-up would take the wallet above its KYC tier's balance cap or monthly top-up cap.

    ``limit`` says which cap, ``cap`` its amount, ``room`` what may still be added under it now
    (possibly nothing) and ``tier`` the user's tier, so the reply can say what verifying raises.
    """

    def __init__(self, headroom: kyc.Headroom) -> None:
        super().__init__(f"{headroom.limit}: at most {headroom.room} more (tier {headroom.tier})")
        self.limit = headroom.limit
        self.cap = headroom.cap
        self.room = headroom.room
        self.tier = headroom.tier


@dataclass(frozen=True, slots=True)
class Recorded:
    """A payment recorded but not yet asked of its gateway: what ``complete`` needs."""

    payment_id: int
    gateway: str
    request: PaymentRequest


@dataclass(frozen=True, slots=True)
class Started:
    """A payment started at a gateway: what to show the user."""

    payment: Payment
    link: PaymentLink


@dataclass(frozen=True, slots=True)
class Received:
    """A webhook as stored: its row id (None when it was a duplicate) and dedup key."""

    event_id: int | None
    key: str
    authentic: bool | None
    dropped: Outcome | None = None
    """Why nothing was stored (forged, or a hint about no payment of ours); None when stored or a repeat."""

    @property
    def duplicate(self) -> bool:
        """True when the same event was stored before: it is not acted on again."""
        return self.event_id is None


_payments = cast(Table, Payment.__table__)
_events = cast(Table, PaymentEvent.__table__)


def new_reference() -> str:
    """A payment reference every gateway accepts: a UUID v4 (MoMo requires one)."""
    return str(uuid.uuid4())


def problems_with(payment: Payment, check: PaymentCheck) -> list[str]:
    """Why a successful status answer does not pay for ``payment`` (empty when it does)."""
    problems = []
    if check.reference is not None and check.reference != payment.reference:
        problems.append(f"reference {check.reference!r} is not {payment.reference!r}")
    if check.currency != payment.currency:
        problems.append(f"currency {check.currency} is not {payment.currency}")
    elif check.amount_minor is None or check.amount_minor < payment.amount:
        problems.append(f"amount {check.amount_minor} {check.currency} is below {payment.amount}")
    return problems


class FundingService:
    """Starts payments, takes webhooks in, checks status and credits wallets once per reference."""

    def __init__(
        self,
        db: Database,
        gateways: Mapping[str, PaymentGateway],
        *,
        check_delays: Sequence[float] = CHECK_DELAYS,
        max_age: timedelta = MAX_AGE,
    ) -> None:
        self.db = db
        self.gateways = dict(gateways)
        self.check_delays = tuple(check_delays) or CHECK_DELAYS
        self.max_age = max_age

    # -- starting a payment ---------------------------------------------------------------

    def gateway_for(self, country: Country, preferred: str | None = None) -> str | None:
        """The gateway to use in ``country``: ``preferred`` if it serves it, else the first available."""
        available = [name for name in country.funding_gateways if name in self.gateways]
        if preferred in available:
            return preferred
        return available[0] if available else None

    async def start(
        self,
        *,
        user_id: int,
        conversation_id: int | None,
        country: Country,
        amount: Money,
        phone: str | None = None,
        gateway: str | None = None,
    ) -> Started:
        """Record a payment and ask the gateway for a link: ``record`` then ``complete``.

        Raises what ``record`` and ``complete`` raise.
        """
        async with self.db.transaction() as session:
            recorded = await self.record(
                session,
                user_id=user_id,
                conversation_id=conversation_id,
                country=country,
                amount=amount,
                phone=phone,
                gateway=gateway,
            )
        return await self.complete(recorded)

    async def record(
        self,
        session: AsyncSession,
        *,
        user_id: int,
        conversation_id: int | None,
        country: Country,
        amount: Money,
        phone: str | None = None,
        gateway: str | None = None,
    ) -> Recorded:
        """Record a payment (``created``) in the caller's transaction; the gateway is asked later.

        A top-up outside the country's range raises ``AmountOutOfRange``, one above the user's
        KYC caps (balance, monthly top-ups) ``KycLimitReached``, one nobody serves ``NoGateway``.
        """
        name = self.gateway_for(country, gateway)
        if name is None:
            raise NoGateway(country.code)
        if not country.funding_min.minor <= amount.minor <= country.funding_max.minor:
            raise AmountOutOfRange(country.funding_min, country.funding_max)
        # Checked when the payment starts: money already paid at the gateway is always credited.
        headroom = await kyc.topup_room(session, user_id, country.code, amount.currency)
        if headroom is not None and amount.minor > headroom.room.minor:
            raise KycLimitReached(headroom)
        now = utcnow()
        payment = Payment(
            reference=new_reference(),
            user_id=user_id,
            conversation_id=conversation_id,
            gateway=name,
            country=country.code,
            amount=amount.minor,
            currency=amount.currency,
            state=PaymentState.CREATED,
            detail="",
            checks=0,
            next_check_at=now + timedelta(seconds=self.check_delays[0]),
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        await session.flush()
        request = PaymentRequest(
            reference=payment.reference,
            amount=amount,
            country=country.code,
            customer_id=user_id,
            phone=phone,
        )
        return Recorded(payment.id, name, request)

    async def complete(self, recorded: Recorded) -> Started:
        """Ask the gateway for the recorded payment's link with no transaction open, then file it.

        The answer is filed in a short transaction of its own, on the payment's row: a payment
        already filed, or settled meanwhile, keeps what it has (a second answer for one reference
        changes nothing; the gateway keys the payment by that reference). A
        gateway that cannot be reached leaves the payment pending (the poller finds out whether
        it exists) and raises ``GatewayUnavailable``.
        """
        try:
            answer: PaymentLink | PaymentGatewayError = await self.gateways[recorded.gateway].create_payment(
                recorded.request
            )
        except PaymentGatewayError as error:
            answer = error
        async with self.db.transaction() as session:
            started = await self.file_link(session, recorded.payment_id, answer)
        if started is None:
            raise GatewayUnavailable(str(answer))
        return started

    @staticmethod
    async def file_link(
        session: AsyncSession, payment_id: int, answer: PaymentLink | PaymentGatewayError
    ) -> Started | None:
        """File the gateway's answer on the payment under its row lock; None when it could not start it.

        Only a payment still ``created`` takes the answer: a repeated or late one changes nothing.
        """
        payment = await session.scalar(
            select(Payment)
            .where(Payment.id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        assert payment is not None  # recorded (and committed) before the gateway was asked
        if payment.state == PaymentState.CREATED:
            payment.state, payment.updated_at = PaymentState.PENDING, utcnow()
            if isinstance(answer, PaymentGatewayError):
                payment.detail = f"start: {answer}"[:500]
            else:
                payment.payment_url = answer.url
                payment.gateway_reference = answer.gateway_reference
        return None if isinstance(answer, PaymentGatewayError) else Started(payment, answer)

    # -- webhooks ---------------------------------------------------------------------------

    async def receive(self, gateway: str, body: bytes, headers: Mapping[str, str]) -> Received:
        """Store a webhook once under its gateway's key (committed before this returns)."""
        notice = self.gateways[gateway].parse_webhook(body, headers)
        if notice.authentic is False:
            return Received(None, notice.key, False, Outcome.FORGED)
        values = {
            "gateway": gateway,
            "event_key": notice.key[:160],
            "reference": notice.reference[:64] if notice.reference else None,
            "authentic": notice.authentic,
            "payload": body[:MAX_PAYLOAD].decode("utf-8", errors="replace"),
            "detail": notice.detail[:500],
            "received_at": utcnow(),
        }
        async with self.db.transaction() as session:
            if notice.authentic is None and not await _ours(session, gateway, notice.reference):
                return Received(None, notice.key, None, Outcome.UNKNOWN_REFERENCE)
            statement = (
                dialect_insert(session)(_events)
                .values(values)
                .on_conflict_do_nothing(index_elements=["gateway", "event_key"])
                .returning(_events.c.id)
            )
            event_id = (await session.execute(statement)).scalar_one_or_none()
        return Received(event_id, notice.key, notice.authentic)

    async def process_event(self, event_id: int) -> Outcome:
        """Act on a stored webhook: ask the gateway about its payment and settle it."""
        async with self.db.transaction() as session:
            event = await session.get(PaymentEvent, event_id)
            if event is None:
                return Outcome.IGNORED
            if event.processed_at is not None and event.outcome:
                return Outcome(event.outcome)
            gateway, reference, authentic = event.gateway, event.reference, event.authentic
        if authentic is False:
            outcome, detail = Outcome.FORGED, "bad signature"
        elif reference is None:
            outcome, detail = Outcome.IGNORED, "no payment reference"
        else:
            payment_id = await self._payment_id(gateway, reference)
            if payment_id is None:
                outcome, detail = Outcome.UNKNOWN_REFERENCE, f"no {gateway} payment {reference}"
            else:
                outcome, detail = await self.check(payment_id)
        async with self.db.transaction() as session:
            await session.execute(
                update(PaymentEvent)
                .where(PaymentEvent.id == event_id)
                .values(outcome=outcome, detail=detail[:500], processed_at=utcnow())
            )
        return outcome

    async def handle_webhook(self, gateway: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        """Store then act on a webhook; a duplicate is acknowledged and not acted on again."""
        received = await self.receive(gateway, body, headers)
        if received.event_id is None:
            return received.dropped or Outcome.DUPLICATE
        return await self.process_event(received.event_id)

    async def _payment_id(self, gateway: str, reference: str) -> int | None:
        async with self.db.transaction() as session:
            return await session.scalar(
                select(Payment.id).where(Payment.reference == reference, Payment.gateway == gateway)
            )

    # -- status checks and settling ------------------------------------------------------------

    async def check(self, payment_id: int) -> tuple[Outcome, str]:
        """Ask the gateway's status API about a payment and settle it on the answer."""
        async with self.db.transaction() as session:
            payment = await session.get(Payment, payment_id)
            if payment is None:
                return Outcome.IGNORED, "no such payment"
            if payment.state == PaymentState.CREDITED:
                return Outcome.ALREADY_CREDITED, "already credited"
            gateway = self.gateways.get(payment.gateway)
            reference, gateway_reference = payment.reference, payment.gateway_reference
            expected = Money(payment.amount, payment.currency)
        if gateway is None:
            return Outcome.PENDING, "gateway not configured here"
        answer = await gateway.query_payment(reference, gateway_reference, expected)
        async with self.db.transaction() as session:
            return await self.settle(session, payment_id, answer)

    async def settle(
        self, session: AsyncSession, payment_id: int, answer: PaymentCheck
    ) -> tuple[Outcome, str]:
        """Apply a status answer to a payment under its row lock; credit at most once."""
        payment = await session.scalar(
            select(Payment)
            .where(Payment.id == payment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if payment is None:
            return Outcome.IGNORED, "no such payment"
        if payment.state == PaymentState.CREDITED:
            return Outcome.ALREADY_CREDITED, "already credited"
        now = utcnow()
        payment.checks += 1
        payment.updated_at = now
        if answer.gateway_reference and not payment.gateway_reference:
            payment.gateway_reference = answer.gateway_reference[:128]
        match answer.status:
            case PaymentStatus.SUCCESSFUL:
                problems = problems_with(payment, answer)
                if problems:
                    detail = "; ".join(problems)
                    payment.state, payment.detail, payment.next_check_at = PaymentState.REJECTED, detail, None
                    log.warning("payment %s rejected: %s", payment.reference, detail)
                    return Outcome.REJECTED, detail
                return await self._credit(session, payment, now)
            case PaymentStatus.FAILED:
                payment.next_check_at = None
                payment.detail = (answer.detail or "failed at the gateway")[:500]
                if payment.state != PaymentState.FAILED:
                    payment.state = PaymentState.FAILED
                    await _notify(session, payment, "funding_failed")
                return Outcome.FAILED, payment.detail
            case _:
                return self._wait(payment, answer, now)

    async def _credit(self, session: AsyncSession, payment: Payment, now: datetime) -> tuple[Outcome, str]:
        clearing = await ledger.open_system_account(session, CLEARING, payment.currency)
        wallet = await ledger.open_wallet(session, payment.user_id, payment.currency)
        result = await ledger.create_transfer(
            session,
            ledger.NewTransfer(
                id=payment.reference,
                debit_account_id=clearing,
                credit_account_id=wallet,
                amount=payment.amount,
                currency=payment.currency,
                code=TRANSFER_CODE,
            ),
        )
        payment.state, payment.credited_at, payment.next_check_at = PaymentState.CREDITED, now, None
        payment.detail = "credited"
        if result is ledger.TransferResult.CREATED:
            await _notify(session, payment, "wallet_funded")
            log.info("payment %s credited to user %s", payment.reference, payment.user_id)
            return Outcome.CREDITED, "credited"
        return Outcome.ALREADY_CREDITED, "ledger transfer already existed"

    def _wait(self, payment: Payment, answer: PaymentCheck, now: datetime) -> tuple[Outcome, str]:
        payment.detail = (answer.detail or answer.status.value)[:500]
        if now - payment.created_at > self.max_age:
            payment.state, payment.next_check_at = PaymentState.EXPIRED, None
            return Outcome.EXPIRED, payment.detail
        delay = self.check_delays[min(payment.checks - 1, len(self.check_delays) - 1)]
        payment.next_check_at = now + timedelta(seconds=delay)
        return Outcome.PENDING, payment.detail

    # -- the poller ----------------------------------------------------------------------------

    async def due(self, limit: int = 100) -> list[int]:
        """Payments waiting on the gateway whose next check is due."""
        async with self.db.transaction() as session:
            statement = (
                select(Payment.id)
                .where(
                    Payment.state.in_([PaymentState.CREATED, PaymentState.PENDING]),
                    Payment.next_check_at <= utcnow(),
                )
                .order_by(Payment.next_check_at)
                .limit(limit)
            )
            return list((await session.scalars(statement)).all())

    async def stale_events(
        self, older_than: timedelta = timedelta(seconds=30), limit: int = 100
    ) -> list[int]:
        """Stored webhooks never acted on (their process died between storing and acting)."""
        async with self.db.transaction() as session:
            statement = (
                select(PaymentEvent.id)
                .where(
                    PaymentEvent.processed_at.is_(None),
                    PaymentEvent.received_at <= utcnow() - older_than,
                )
                .order_by(PaymentEvent.id)
                .limit(limit)
            )
            return list((await session.scalars(statement)).all())

    async def poll(self) -> dict[str, int]:
        """One poller pass: check every due payment and act on forgotten webhooks; count outcomes."""
        counts: dict[str, int] = {}
        for event_id in await self.stale_events():
            outcome = await self.process_event(event_id)
            counts[outcome] = counts.get(outcome, 0) + 1
        for payment_id in await self.due():
            try:
                outcome, _ = await self.check(payment_id)
            except Exception:  # one gateway's trouble must not stop the others being checked
                log.exception("status check of payment %s failed", payment_id)
                continue
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts


async def _ours(session: AsyncSession, gateway: str, reference: str | None) -> bool:
    """True when ``reference`` names a payment of ours at ``gateway`` (worth storing a hint about)."""
    if not reference:
        return False
    found = await session.scalar(
        select(Payment.id).where(Payment.reference == reference[:64], Payment.gateway == gateway)
    )
    return found is not None


async def _notify(session: AsyncSession, payment: Payment, kind: str) -> None:
    """Queue a notification about a payment for its user, at most once per kind."""
    already = await session.scalar(
        select(Notification.id).where(Notification.kind == kind, Notification.payment_id == payment.id)
    )
    if already is None:
        session.add(
            Notification(
                user_id=payment.user_id,
                conversation_id=payment.conversation_id,
                kind=kind,
                payment_id=payment.id,
            )
        )


async def payment_of(session: AsyncSession, reference: str) -> Payment | None:
    """The payment under ``reference``."""
    return await session.scalar(select(Payment).where(Payment.reference == reference))


def describe(payment: Payment) -> str:
    """A log-safe one-line summary (no phone numbers, no secrets)."""
    return json.dumps(
        {
            "reference": payment.reference,
            "gateway": payment.gateway,
            "amount": payment.amount,
            "currency": payment.currency,
            "state": payment.state,
        }
    )
