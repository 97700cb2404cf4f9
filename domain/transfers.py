"""Money out: to another wallet at once (P2P), as a claimable link, or to a bank or mobile-money account.

Every transfer has a reference (a UUID v4) that is its idempotency key for the request, in the
ledger and at the gateway. Ledger transfers, by kind:

* **P2P** — ``xfer:<ref>`` from the sender's wallet to the recipient's, posted at once.
* **claimable** (the number is not with us yet) — ``xfer:<ref>`` *pending* from the sender's
  wallet to ``system:claims``; a claim posts it and credits the claimer (``xfer:<ref>:claim``);
  expiry voids it, which is the refund.
* **payout** (bank or mobile money) — ``xfer:<ref>`` *pending* from the sender's wallet to
  ``system:payouts`` until the gateway's final word: succeeded posts it, failed voids it, and a
  reversal after success pays it back (``xfer:<ref>:reversal``). An unknown outcome is asked
  again, never refunded.
* **held for review** (``domain.risk``) — the same transfer, pending; a person releases it (it
  carries on as above) or rejects it (voided).

A send checks, in order: the PIN (a wrong one counts even though nothing else happens), the KYC
tier's daily limit and the recipient's balance cap, the fraud rules, the balance. Everything after
the PIN check runs in a savepoint, so a refusal leaves no trace but the PIN attempt.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from sqlalchemy import Table, bindparam, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import audit, kyc, ledger, pins, risk
from domain.countries import get_country
from domain.database import Database, DriverStatement, dialect_insert
from domain.models import (
    Conversation,
    Credential,
    Identity,
    KycProfile,
    MoneyTransfer,
    MoneyTransferEvent,
    Notification,
    PaymentEvent,
    User,
    utcnow,
)
from domain.money import Money
from domain.pins import PinCheck
from domain.ports import (
    PayoutCheck,
    PayoutDestination,
    PayoutGateway,
    PayoutKind,
    PayoutRequest,
    PayoutStatus,
)

#: Unclaimed transfers are refunded after this long unless the service is told otherwise.
DEFAULT_CLAIM_TTL = timedelta(hours=72)
#: Waits between status checks of a payout whose outcome is not final (the last one repeats).
DEFAULT_CHECK_DELAYS = (5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
#: System accounts: unclaimed transfers and payouts waiting for the gateway.
CLAIMS, PAYOUTS = "claims", "payouts"


class TransferKind(StrEnum):
    """Where the money goes."""

    P2P = "p2p"
    CLAIMABLE = "claimable"
    BANK = "bank"
    MOBILE_MONEY = "mobile_money"


_LEDGER_CODES = {
    TransferKind.P2P: ledger.TransferCode.SEND_P2P,
    TransferKind.CLAIMABLE: ledger.TransferCode.SEND_CLAIMABLE,
    TransferKind.BANK: ledger.TransferCode.PAYOUT_BANK,
    TransferKind.MOBILE_MONEY: ledger.TransferCode.PAYOUT_MOBILE_MONEY,
}


def _ledger_code(kind: TransferKind | None) -> ledger.TransferCode:
    assert kind is not None, "a planned send has its kind"
    return _LEDGER_CODES[kind]


class TransferState(StrEnum):
    """Where a transfer stands."""

    HELD = "held"
    """Waiting for a person to review it; the money is reserved."""
    COMPLETED = "completed"
    """P2P: in the recipient's wallet."""
    CLAIMABLE = "claimable"
    CLAIMED = "claimed"
    EXPIRED = "expired"
    """Not claimed in time: refunded."""
    QUEUED = "queued"
    """Payout accepted, not yet sent to the gateway."""
    PENDING = "pending"
    """Payout sent; the gateway's outcome is not final (or not known) yet."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """Payout refused by the gateway: refunded."""
    REVERSED = "reversed"
    """Payout returned by the receiving bank or wallet after success: refunded."""
    REJECTED = "rejected"
    """Stopped in review: refunded."""


#: States in which a payout still waits for its gateway.
PAYOUT_OPEN = (TransferState.QUEUED, TransferState.PENDING)
_PAYOUT_KINDS = {PayoutKind.BANK: TransferKind.BANK, PayoutKind.MOBILE_MONEY: TransferKind.MOBILE_MONEY}


class Refusal(StrEnum):
    """Why a transfer was not made."""

    PIN_NOT_SET = "pin_not_set"
    PIN_WRONG = "pin_wrong"
    PIN_LOCKED = "pin_locked"
    UNVERIFIED = "unverified"
    """The user's KYC tier allows no money out."""
    DAILY_LIMIT = "daily_limit"
    RECIPIENT_LIMIT = "recipient_limit"
    """The recipient's wallet would go above its balance cap."""
    INSUFFICIENT_FUNDS = "insufficient_funds"
    SELF = "self"
    OTHER_COUNTRY = "other_country"
    NO_ROUTE = "no_route"
    """No gateway pays out to that kind of account in the sender's country."""
    BAD_AMOUNT = "bad_amount"


_PIN_REFUSALS = {
    pins.PinVerdict.NOT_SET: Refusal.PIN_NOT_SET,
    pins.PinVerdict.WRONG: Refusal.PIN_WRONG,
    pins.PinVerdict.LOCKED: Refusal.PIN_LOCKED,
}


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who gets the money: a phone number (P2P or claimable) or an account to pay out to."""

    phone: str | None = None
    destination: PayoutDestination | None = None
    account_name: str | None = None
    """The name the account lookup returned (payouts), shown to the sender before they confirmed."""


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A transfer the sender confirmed with their PIN."""

    reference: str
    sender_user_id: int
    country: str
    amount: Money
    pin: str
    recipient: Recipient
    conversation_id: int | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """What a send did: the transfer (new or, for a replayed reference, the existing one) or a refusal."""

    transfer: MoneyTransfer | None
    refusal: Refusal | None = None
    pin: PinCheck | None = None
    room: Money | None = None
    """For limit refusals: how much more is allowed now."""
    created: bool = False

    @property
    def ok(self) -> bool:
        """True when the transfer exists (made now or before)."""
        return self.transfer is not None


@dataclass(frozen=True, slots=True)
class PayoutWebhook:
    """A transfer webhook as filed: its event row (None for a repeat), reference and signature verdict."""

    gateway: str
    event_id: int | None
    reference: str | None
    authentic: bool | None


class ClaimProblem(StrEnum):
    """Why a claim was refused."""

    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    OWN = "own"
    NOT_CLAIMABLE = "not_claimable"
    EXPIRED = "expired"
    OVER_LIMIT = "over_limit"


class ClaimRefused(Exception):
    """A claim the transfer does not allow."""

    def __init__(self, problem: ClaimProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def new_reference() -> str:
    """A fresh transfer reference (a UUID v4: also MoMo's ``X-Reference-Id``)."""
    return str(uuid.uuid4())


def ledger_id(reference: str, step: str = "") -> str:
    """The ledger transfer of a step of a money transfer (``xfer:<ref>`` for the main one)."""
    return f"xfer:{reference}{':' + step if step else ''}"


async def by_reference(session: AsyncSession, reference: str, *, lock: bool = False) -> MoneyTransfer | None:
    """The transfer under ``reference``, optionally row-locked (and fresh from the database)."""
    statement = select(MoneyTransfer).where(MoneyTransfer.reference == reference)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def _locked(session: AsyncSession, transfer_id: int) -> MoneyTransfer | None:
    return await session.scalar(
        select(MoneyTransfer)
        .where(MoneyTransfer.id == transfer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def record_state(
    session: AsyncSession, transfer: MoneyTransfer, state: TransferState, detail: str = ""
) -> None:
    """Move a transfer to ``state`` and append the step to its history."""
    transfer.state = state
    transfer.updated_at = utcnow()
    if detail:
        transfer.detail = detail[:500]
    session.add(MoneyTransferEvent(money_transfer_id=transfer.id, state=state, detail=detail[:500]))


async def latest_conversation(session: AsyncSession, user_id: int) -> int | None:
    """The user's most recently active private conversation, where news for them goes."""
    return await session.scalar(
        select(Conversation.id)
        .where(Conversation.user_id == user_id, Conversation.chat_id.not_like("-%"))
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    )


async def notify(
    session: AsyncSession, transfer: MoneyTransfer, kind: str, user_id: int, conversation_id: int | None
) -> None:
    """Queue news about ``transfer`` for ``user_id``, at most once per kind."""
    statement = (
        dialect_insert(session)(Notification)
        .values(
            user_id=user_id,
            conversation_id=conversation_id,
            kind=kind,
            money_transfer_id=transfer.id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
    )
    await session.execute(statement)


async def _tell_sender(session: AsyncSession, transfer: MoneyTransfer, kind: str) -> None:
    await notify(session, transfer, kind, transfer.sender_user_id, transfer.sender_conversation_id)


async def _tell_recipient(session: AsyncSession, transfer: MoneyTransfer, kind: str) -> None:
    if transfer.recipient_user_id is not None:
        conversation = await latest_conversation(session, transfer.recipient_user_id)
        await notify(session, transfer, kind, transfer.recipient_user_id, conversation)


class TransferService:
    """Sends money out of user wallets: PIN, limits, fraud checks, ledger, payouts at gateways."""

    def __init__(
        self,
        pepper: bytes,
        *,
        gateways: Mapping[str, PayoutGateway] | None = None,
        rules: risk.RiskRules | None = None,
        claim_ttl: timedelta = DEFAULT_CLAIM_TTL,
        check_delays: Sequence[float] = DEFAULT_CHECK_DELAYS,
    ) -> None:
        self.pepper = pepper
        self.gateways = dict(gateways or {})
        self.rules = rules or risk.default_rules()
        self.claim_ttl = claim_ttl
        self.check_delays = tuple(check_delays)

    # ---- sending ----------------------------------------------------------------------------

    def gateway_for(self, destination: PayoutDestination) -> PayoutGateway | None:
        """The first gateway the country prefers that is configured and pays out to ``destination``."""
        country = get_country(destination.country)
        preferred = country.payout_gateways(destination.kind.value) if country else ()
        for name in preferred:
            gateway = self.gateways.get(name)
            if gateway is not None and gateway.supports(destination):
                return gateway
        return None

    async def send(self, session: AsyncSession, request: SendRequest) -> Sent:
        """Make a transfer the sender confirmed; a replayed reference returns the first result.

        Refusals are returned, not raised; commit the session either way (a wrong PIN counts).
        """
        (sent,) = await self.send_many(session, [request])
        return sent

    async def send_many(self, session: AsyncSession, requests: Sequence[SendRequest]) -> list[Sent]:
        """Decide and make many transfers in the caller's transaction, as if made one after another.

        Every row involved is locked up front (credentials, then accounts, then velocity
        counters, each in key order), every decision is taken on those locked values, and only
        then is anything written, in a fixed number of statements whatever the batch size.
        """
        return await _Batch(self, session, requests).run()

    def open_claim(self, transfer: MoneyTransfer, now: datetime) -> None:
        """Give a claimable transfer its single-use token and its expiry."""
        transfer.claim_token = "m_" + secrets.token_urlsafe(15)
        transfer.expires_at = now + self.claim_ttl

    # ---- claims and expiry --------------------------------------------------------------------

    async def claimable_for(self, session: AsyncSession, phone: str) -> list[MoneyTransfer]:
        """Unexpired transfers waiting for whoever proves they own ``phone``."""
        rows = await session.scalars(
            select(MoneyTransfer).where(
                MoneyTransfer.recipient_phone == phone,
                MoneyTransfer.kind == TransferKind.CLAIMABLE,
                MoneyTransfer.state == TransferState.CLAIMABLE,
                MoneyTransfer.expires_at > utcnow(),
            )
        )
        return list(rows.all())

    async def claim(
        self, session: AsyncSession, token: str, user_id: int, phone: str | None
    ) -> MoneyTransfer:
        """Credit a claimable transfer to ``user_id``, whose verified number must be the one it was sent to.

        Claiming twice returns the transfer and moves nothing more. Raises ``ClaimRefused``.
        """
        transfer = await session.scalar(
            select(MoneyTransfer)
            .where(MoneyTransfer.claim_token == token)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if transfer is None:
            raise ClaimRefused(ClaimProblem.UNKNOWN)
        if transfer.sender_user_id == user_id:
            raise ClaimRefused(ClaimProblem.OWN)
        if transfer.state == TransferState.CLAIMED and transfer.recipient_user_id == user_id:
            return transfer
        if phone is None or phone != transfer.recipient_phone:
            raise ClaimRefused(ClaimProblem.NOT_YOURS)
        if transfer.state == TransferState.EXPIRED or (
            transfer.state == TransferState.CLAIMABLE
            and transfer.expires_at is not None
            and transfer.expires_at <= utcnow()
        ):
            raise ClaimRefused(ClaimProblem.EXPIRED)
        if transfer.state != TransferState.CLAIMABLE:
            raise ClaimRefused(ClaimProblem.NOT_CLAIMABLE)
        room = await kyc.room_for_credit(session, user_id, transfer.country, transfer.currency)
        if room is not None and room < transfer.amount:
            raise ClaimRefused(ClaimProblem.OVER_LIMIT)
        await self._pay_claimer(session, transfer, user_id)
        return transfer

    async def _pay_claimer(self, session: AsyncSession, transfer: MoneyTransfer, user_id: int) -> None:
        await ledger.post_pending(session, ledger_id(transfer.reference))
        claims = await ledger.open_system_account(session, CLAIMS, transfer.currency)
        wallet = await ledger.open_wallet(session, user_id, transfer.currency)
        await ledger.create_transfer(
            session,
            ledger.NewTransfer(
                ledger_id(transfer.reference, "claim"),
                claims,
                wallet,
                transfer.amount,
                transfer.currency,
                ledger.TransferCode.CLAIM,
            ),
        )
        transfer.recipient_user_id = user_id
        transfer.resolved_at = utcnow()
        await record_state(session, transfer, TransferState.CLAIMED)
        await _tell_sender(session, transfer, "transfer_claimed")
        await audit.record(
            session,
            f"user:{user_id}",
            "transfer.claimed",
            f"transfer:{transfer.reference}",
            {"amount": transfer.amount, "currency": transfer.currency},
        )

    async def expire(self, session: AsyncSession, transfer_id: int, now: datetime | None = None) -> bool:
        """Refund an unclaimed transfer whose time is up; False when it was not due (or already done)."""
        now = now or utcnow()
        transfer = await _locked(session, transfer_id)
        if (
            transfer is None
            or transfer.state != TransferState.CLAIMABLE
            or transfer.expires_at is None
            or transfer.expires_at > now
        ):
            return False
        await ledger.void_pending(session, ledger_id(transfer.reference))
        transfer.resolved_at = now
        await record_state(session, transfer, TransferState.EXPIRED, "not claimed in time")
        await _tell_sender(session, transfer, "transfer_expired")
        await audit.record(
            session,
            "system:claims",
            "transfer.expired",
            f"transfer:{transfer.reference}",
            {"amount": transfer.amount, "currency": transfer.currency},
        )
        return True

    async def expire_due(self, db: Database, now: datetime | None = None, limit: int = 500) -> int:
        """Refund every unclaimed transfer whose time is up, one transaction each; return how many."""
        now = now or utcnow()
        async with db.transaction() as session:
            due = (
                await session.scalars(
                    select(MoneyTransfer.id)
                    .where(MoneyTransfer.state == TransferState.CLAIMABLE, MoneyTransfer.expires_at <= now)
                    .order_by(MoneyTransfer.expires_at)
                    .limit(limit)
                )
            ).all()
            await risk.forget_expired(session, now)
        count = 0
        for transfer_id in due:
            async with db.transaction() as session:
                count += await self.expire(session, transfer_id, now)
        return count

    # ---- review -------------------------------------------------------------------------------

    async def held(self, session: AsyncSession, limit: int = 100) -> list[MoneyTransfer]:
        """Transfers waiting for a person, oldest first."""
        rows = await session.scalars(
            select(MoneyTransfer)
            .where(MoneyTransfer.state == TransferState.HELD)
            .order_by(MoneyTransfer.id)
            .limit(limit)
        )
        return list(rows.all())

    async def release(self, session: AsyncSession, transfer_id: int, staff_id: int) -> MoneyTransfer | None:
        """Let a held transfer carry on; None when it is not held (any more)."""
        transfer = await _locked(session, transfer_id)
        if transfer is None or transfer.state != TransferState.HELD:
            return None
        now = utcnow()
        transfer.reviewed_by = staff_id
        state = _first_state(TransferKind(transfer.kind))
        if state == TransferState.COMPLETED:
            await ledger.post_pending(session, ledger_id(transfer.reference))
            transfer.resolved_at = now
        elif state == TransferState.CLAIMABLE:
            self.open_claim(transfer, now)
        else:
            transfer.next_check_at = now
        await record_state(session, transfer, state, f"released by staff {staff_id}")
        await _tell_sender(session, transfer, "transfer_released")
        if state == TransferState.COMPLETED:
            await _tell_recipient(session, transfer, "transfer_received")
        await audit.record(
            session, f"staff:{staff_id}", "transfer.released", f"transfer:{transfer.reference}"
        )
        return transfer

    async def reject(
        self, session: AsyncSession, transfer_id: int, staff_id: int, reason: str = ""
    ) -> MoneyTransfer | None:
        """Stop a held transfer and refund the sender; None when it is not held (any more)."""
        transfer = await _locked(session, transfer_id)
        if transfer is None or transfer.state != TransferState.HELD:
            return None
        await ledger.void_pending(session, ledger_id(transfer.reference))
        transfer.reviewed_by = staff_id
        transfer.resolved_at = utcnow()
        await record_state(
            session, transfer, TransferState.REJECTED, reason or f"rejected by staff {staff_id}"
        )
        await _tell_sender(session, transfer, "transfer_rejected")
        await audit.record(
            session,
            f"staff:{staff_id}",
            "transfer.rejected",
            f"transfer:{transfer.reference}",
            {"reason": reason},
        )
        return transfer

    # ---- payouts ------------------------------------------------------------------------------

    async def due_payouts(
        self, session: AsyncSession, now: datetime | None = None, limit: int = 100
    ) -> list[int]:
        """Payouts to send or to ask about now."""
        rows = await session.scalars(
            select(MoneyTransfer.id)
            .where(
                MoneyTransfer.state.in_(list(PAYOUT_OPEN)), MoneyTransfer.next_check_at <= (now or utcnow())
            )
            .order_by(MoneyTransfer.next_check_at)
            .limit(limit)
        )
        return list(rows.all())

    async def advance_payout(self, db: Database, transfer_id: int) -> str:
        """Send a queued payout, or ask the gateway about a pending one, and apply the answer.

        The row is marked pending (with a lease) *before* the gateway is called, so a crash after
        the call leaves a payout that the next check asks about rather than sends blind again;
        re-sending happens only when the gateway says it never got it, under the same reference.
        """
        async with db.transaction() as session:
            transfer = await _locked(session, transfer_id)
            if transfer is None or transfer.state not in PAYOUT_OPEN:
                return transfer.state if transfer is not None else "unknown"
            gateway = self.gateways.get(transfer.gateway or "")
            if gateway is None:
                transfer.next_check_at = utcnow() + timedelta(seconds=self.check_delays[-1])
                return "no_gateway"
            send = transfer.state == TransferState.QUEUED
            if send:
                await record_state(session, transfer, TransferState.PENDING, f"sent to {gateway.name}")
            transfer.attempts += 1
            transfer.next_check_at = utcnow() + timedelta(seconds=self._delay(transfer.attempts))
            request = self._payout_request(transfer)
        answer = await (gateway.send_payout(request) if send else gateway.query_payout(request.reference))
        if answer.status is PayoutStatus.NOT_FOUND and not send:
            answer = await gateway.send_payout(request)
        async with db.transaction() as session:
            return await self.apply(session, transfer_id, answer)

    def _delay(self, attempts: int) -> float:
        return self.check_delays[min(max(attempts - 1, 0), len(self.check_delays) - 1)]

    @staticmethod
    def _payout_request(transfer: MoneyTransfer) -> PayoutRequest:
        kind = PayoutKind.MOBILE_MONEY if transfer.kind == TransferKind.MOBILE_MONEY else PayoutKind.BANK
        destination = PayoutDestination(
            kind=kind,
            country=transfer.country,
            currency=transfer.currency,
            account_number=transfer.account_number or "",
            bank_code=transfer.bank_code,
        )
        return PayoutRequest(
            reference=transfer.reference,
            amount=Money(transfer.amount, transfer.currency),
            destination=destination,
            account_name=transfer.recipient_name or "",
        )

    async def apply(self, session: AsyncSession, transfer_id: int, answer: PayoutCheck) -> str:
        """Act on what the gateway said about a payout: money moves at most once per outcome."""
        transfer = await _locked(session, transfer_id)
        if transfer is None:
            return "unknown"
        if answer.status in (PayoutStatus.PENDING, PayoutStatus.NOT_FOUND):
            if answer.detail:
                transfer.detail = answer.detail[:500]
            return transfer.state
        if not self._same_terms(transfer, answer):
            await record_state(
                session, transfer, TransferState(transfer.state), "gateway reported other terms"
            )
            transfer.review_reason = "gateway reported other terms"
            return "mismatch"
        if answer.gateway_reference:
            transfer.gateway_reference = answer.gateway_reference[:128]
        match answer.status:
            case PayoutStatus.SUCCEEDED if transfer.state in PAYOUT_OPEN:
                await ledger.post_pending(session, ledger_id(transfer.reference))
                await self._settle(
                    session, transfer, TransferState.SUCCEEDED, "payout_succeeded", answer.detail
                )
            case PayoutStatus.FAILED if transfer.state in PAYOUT_OPEN:
                await ledger.void_pending(session, ledger_id(transfer.reference))
                await self._settle(session, transfer, TransferState.FAILED, "payout_failed", answer.detail)
            case PayoutStatus.REVERSED if transfer.state in (*PAYOUT_OPEN, TransferState.SUCCEEDED):
                await self._refund_reversal(session, transfer)
                await self._settle(
                    session, transfer, TransferState.REVERSED, "payout_reversed", answer.detail
                )
        return transfer.state

    @staticmethod
    def _same_terms(transfer: MoneyTransfer, answer: PayoutCheck) -> bool:
        """False when the gateway names another reference, amount or currency than ours."""
        return (
            (answer.reference is None or answer.reference == transfer.reference)
            and (answer.amount_minor is None or answer.amount_minor == transfer.amount)
            and (answer.currency is None or answer.currency == transfer.currency)
        )

    @staticmethod
    async def _refund_reversal(session: AsyncSession, transfer: MoneyTransfer) -> None:
        """Give a reversed payout back: void the reservation, or pay back what was already posted."""
        if await ledger.void_pending(session, ledger_id(transfer.reference)):
            return
        payouts = await ledger.open_system_account(session, PAYOUTS, transfer.currency)
        wallet = await ledger.open_wallet(session, transfer.sender_user_id, transfer.currency)
        await ledger.create_transfer(
            session,
            ledger.NewTransfer(
                ledger_id(transfer.reference, "reversal"),
                payouts,
                wallet,
                transfer.amount,
                transfer.currency,
                ledger.TransferCode.PAYOUT_REVERSAL,
            ),
        )

    @staticmethod
    async def _settle(
        session: AsyncSession, transfer: MoneyTransfer, state: TransferState, news: str, detail: str
    ) -> None:
        transfer.resolved_at = utcnow()
        transfer.next_check_at = None
        await record_state(session, transfer, state, detail)
        await _tell_sender(session, transfer, news)
        await audit.record(
            session,
            f"system:{transfer.gateway or PAYOUTS}",
            f"payout.{state}",
            f"transfer:{transfer.reference}",
            {"amount": transfer.amount, "currency": transfer.currency},
        )

    async def receive_webhook(
        self, db: Database, gateway_name: str, body: bytes, headers: Mapping[str, str]
    ) -> PayoutWebhook | None:
        """File a gateway's transfer webhook once (committed); None when it is not about a payout."""
        gateway = self.gateways.get(gateway_name)
        notice = gateway.parse_payout_webhook(body, headers) if gateway is not None else None
        if notice is None:
            return None
        if notice.authentic is False:  # stored nowhere: an unsigned request must not write to the database
            return PayoutWebhook(gateway_name, None, notice.reference, False)
        async with db.transaction() as session:
            if notice.authentic is None and (
                not notice.reference or await by_reference(session, notice.reference[:64]) is None
            ):
                return PayoutWebhook(gateway_name, None, notice.reference, None)
            inserted = await session.execute(
                dialect_insert(session)(PaymentEvent)
                .values(
                    gateway=gateway_name,
                    event_key=notice.key[:160],
                    reference=(notice.reference or "")[:64] or None,
                    authentic=notice.authentic,
                    payload=body.decode("utf-8", "replace")[:20000],
                    detail=notice.detail[:500],
                    received_at=utcnow(),
                )
                .on_conflict_do_nothing()
                .returning(PaymentEvent.id)
            )
            event_id = inserted.scalar_one_or_none()
        return PayoutWebhook(gateway_name, event_id, notice.reference, notice.authentic)

    async def act_on(self, db: Database, webhook: PayoutWebhook) -> str:
        """Confirm a filed webhook's payout with the gateway's status API and apply the answer.

        The body is only a hint: forged, replayed or out-of-order webhooks can move no money.
        """
        if webhook.authentic is False:
            return "forged"
        if webhook.event_id is None:
            return "duplicate"
        gateway = self.gateways[webhook.gateway]
        async with db.transaction() as session:
            transfer = await by_reference(session, webhook.reference) if webhook.reference else None
        outcome = "unknown"
        if transfer is not None:
            answer = await gateway.query_payout(transfer.reference)
            async with db.transaction() as session:
                outcome = await self.apply(session, transfer.id, answer)
        async with db.transaction() as session:
            event = await session.get(PaymentEvent, webhook.event_id)
            if event is not None:
                event.outcome = outcome[:24]
                event.processed_at = utcnow()
        return outcome

    async def handle_webhook(
        self, db: Database, gateway_name: str, body: bytes, headers: Mapping[str, str]
    ) -> str | None:
        """File a transfer webhook and act on it at once; None when it is not about a payout."""
        webhook = await self.receive_webhook(db, gateway_name, body, headers)
        return None if webhook is None else await self.act_on(db, webhook)

    async def poll(self, db: Database) -> int:
        """Advance every payout that is due; return how many were looked at."""
        async with db.transaction() as session:
            due = await self.due_payouts(session)
        for transfer_id in due:
            await self.advance_payout(db, transfer_id)
        return len(due)


_transfers = cast(Table, MoneyTransfer.__table__)
_users = cast(Table, User.__table__)
_USED = (
    select(_transfers.c.id)
    .where(_transfers.c.reference.in_(bindparam("references", expanding=True)))
    .limit(1)
)
_ADD_TRANSFERS = insert(_transfers).returning(_transfers.c.id, sort_by_parameter_order=True)
_ADD_EVENTS = insert(cast(Table, MoneyTransferEvent.__table__))
_ADD_NEWS = insert(cast(Table, Notification.__table__))
_NEWEST_IDENTITY = (
    select(func.max(Identity.created_at)).where(Identity.user_id == _users.c.id).scalar_subquery()
)
_LATEST_CONVERSATION = (
    select(Conversation.id)
    .where(Conversation.user_id == _users.c.id, Conversation.chat_id.not_like("-%"))
    .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
    .limit(1)
    .scalar_subquery()
)
_PEOPLE = (
    select(
        _users.c.id,
        _users.c.phone,
        _users.c.country,
        func.coalesce(KycProfile.tier, 0),
        _users.c.created_at,
        _NEWEST_IDENTITY,
        Credential.reset_at,
        _LATEST_CONVERSATION,
    )
    .select_from(_users)
    .outerjoin(KycProfile, KycProfile.user_id == _users.c.id)
    .outerjoin(Credential, Credential.user_id == _users.c.id)
    .where(
        or_(
            _users.c.id.in_(bindparam("ids", expanding=True)),
            _users.c.phone.in_(bindparam("phones", expanding=True)),
        )
    )
)


def _made_line(transfer: MoneyTransfer, review: str | None) -> audit.Line:
    """The audit line of a transfer just made."""
    details = {
        "amount": transfer.amount,
        "currency": transfer.currency,
        "state": transfer.state,
        "review": review,
    }
    return audit.Line(
        f"user:{transfer.sender_user_id}",
        f"transfer.{transfer.kind}",
        f"transfer:{transfer.reference}",
        details,
    )


def _columns(transfer: MoneyTransfer) -> dict[str, object]:
    """A new transfer row's column values, for a Core insert."""
    return {column.key: getattr(transfer, column.key) for column in _transfers.columns if column.key != "id"}


@dataclass(slots=True)
class _Person:
    """What a send needs to know about a sender or recipient, read in one statement for the batch."""

    id: int
    phone: str | None
    country: str | None
    tier: int
    since: datetime | None
    """When the account, its newest channel identity or its latest PIN reset appeared."""
    conversation_id: int | None
    """The most recently active private conversation (where news for them goes)."""


@dataclass(slots=True)
class _Plan:
    """One request on its way through a batch: where it goes and, once decided, what happened."""

    request: SendRequest
    check: PinCheck | None = None
    kind: TransferKind | None = None
    recipient: _Person | None = None
    gateway: str | None = None
    keys: risk.CounterKeys | None = None
    review: str | None = None
    outcome: Sent | None = None

    def refuse(self, refusal: Refusal, room: Money | None = None) -> None:
        self.outcome = Sent(None, refusal, pin=self.check, room=room)


class _Batch:
    """Decides and makes a batch of sends: lock everything, decide in memory, write in bulk."""

    def __init__(
        self, service: TransferService, session: AsyncSession, requests: Sequence[SendRequest]
    ) -> None:
        self.service = service
        self.session = session
        self.plans = [_Plan(request) for request in requests]
        self.now = utcnow()
        self.lines: list[audit.Line] = []

    def _open(self) -> list[_Plan]:
        return [plan for plan in self.plans if plan.outcome is None]

    async def run(self) -> list[Sent]:
        self._validate()
        await self._replays()
        await self._check_pins()
        people = await self._people()
        self._route(people)
        accounts = await self._lock_accounts()
        tallies = await risk.lock_counters(
            self.session, [key for plan in self._open() if plan.keys for key in plan.keys.all()]
        )
        accepted = self._decide(people, accounts, tallies)
        await self._write(accepted, accounts)
        return [plan.outcome or Sent(None, Refusal.BAD_AMOUNT) for plan in self.plans]

    def _validate(self) -> None:
        seen: set[str] = set()
        for plan in self.plans:
            request = plan.request
            country = get_country(request.country)
            recipient = request.recipient
            if (
                request.reference in seen
                or country is None
                or request.amount.currency != country.currency
                or request.amount.minor <= 0
                or (recipient.phone is None and recipient.destination is None)
            ):
                plan.refuse(Refusal.BAD_AMOUNT)
            seen.add(request.reference)

    async def _replays(self) -> None:
        """A reference already used returns its transfer (a replayed confirmation moves nothing)."""
        references = [plan.request.reference for plan in self._open()]
        connection = await self.session.connection()
        if not references or not (await connection.execute(_USED, {"references": references})).first():
            return
        found = await self.session.scalars(
            select(MoneyTransfer).where(MoneyTransfer.reference.in_(references))
        )
        existing = {row.reference: row for row in found}
        for plan in self._open():
            row = existing.get(plan.request.reference)
            if row is not None:
                mine = row.sender_user_id == plan.request.sender_user_id
                plan.outcome = Sent(row) if mine else Sent(None, Refusal.BAD_AMOUNT)

    async def _check_pins(self) -> None:
        """Every PIN, against its locked state; wrong ones count whatever else happens.

        The argon2 comparisons run first, off the event loop and before any row is locked, so a
        batch holds its locks only for the quick part; ``pins.check`` redoes a comparison whose
        hash changed in between.
        """
        plans = self._open()
        senders = [plan.request.sender_user_id for plan in plans]
        hashes = await pins.read_hashes(self.session, senders)
        pepper = self.service.pepper
        verified = await asyncio.to_thread(
            lambda: [
                pins.verify_against(hashes.get(p.request.sender_user_id), p.request.pin, pepper)
                for p in plans
            ]
        )
        states = await pins.lock_states(self.session, senders)
        for plan, seen in zip(plans, verified, strict=True):
            sender = plan.request.sender_user_id
            plan.check = check = pins.check(
                states.get(sender), plan.request.pin, pepper, self.now, verified=seen
            )
            if check.just_locked:
                self.lines.append(pins.lock_line(sender))
            if not check.ok:
                plan.refuse(_PIN_REFUSALS[check.verdict])
        await pins.save_states(self.session, states.values())

    async def _people(self) -> dict[int | str, _Person]:
        """Senders by id and recipients by phone, with tier, identity age and latest conversation."""
        plans = self._open()
        if not plans:
            return {}
        ids = sorted({plan.request.sender_user_id for plan in plans})
        phones = sorted({plan.request.recipient.phone for plan in plans if plan.request.recipient.phone})
        connection = await self.session.connection()
        rows = await connection.execute(_PEOPLE, {"ids": ids, "phones": phones or [""]})
        people: dict[int | str, _Person] = {}
        for user_id, phone, country, tier, created, identity, reset, conversation_id in rows:
            moments = [m for m in (created, identity, reset) if m is not None]
            person = _Person(user_id, phone, country, int(tier), max(moments, default=None), conversation_id)
            people[user_id] = person
            if phone:
                people[phone] = person
        return people

    def _route(self, people: dict[int | str, _Person]) -> None:
        """Each request's kind, recipient or gateway, and counters; refuse the impossible ones."""
        for plan in self._open():
            request = plan.request
            destination = request.recipient.destination
            if destination is not None:
                gateway = self.service.gateway_for(destination)
                if gateway is None:
                    plan.refuse(Refusal.NO_ROUTE)
                    continue
                plan.kind, plan.gateway = _PAYOUT_KINDS[destination.kind], gateway.name
                recipient = risk.recipient_key(destination.bank_code or "", destination.account_number)
            else:
                phone = request.recipient.phone or ""
                plan.recipient = people.get(phone)
                plan.kind = TransferKind.CLAIMABLE if plan.recipient is None else TransferKind.P2P
                if plan.recipient is not None and plan.recipient.id == request.sender_user_id:
                    plan.refuse(Refusal.SELF)
                    continue
                if plan.recipient is not None and plan.recipient.country not in (None, request.country):
                    plan.refuse(Refusal.OTHER_COUNTRY)
                    continue
                recipient = risk.recipient_key(phone)
            plan.keys = risk.counter_keys(request.sender_user_id, recipient, self.now)

    def _credit_spec(self, plan: _Plan) -> ledger.AccountSpec:
        currency = plan.request.amount.currency
        if plan.kind == TransferKind.P2P:
            assert plan.recipient is not None
            return ledger.wallet_spec(plan.recipient.id, currency)
        return ledger.system_spec(CLAIMS if plan.kind == TransferKind.CLAIMABLE else PAYOUTS, currency)

    async def _lock_accounts(self) -> dict[str, ledger.LockedAccount]:
        specs = []
        for plan in self._open():
            specs.append(ledger.wallet_spec(plan.request.sender_user_id, plan.request.amount.currency))
            specs.append(self._credit_spec(plan))
        return await ledger.open_and_lock(self.session, specs)

    def _decide(
        self,
        people: dict[int | str, _Person],
        accounts: dict[str, ledger.LockedAccount],
        tallies: dict[str, risk.Tally],
    ) -> list[_Plan]:
        """Limits, balances and fraud rules, in request order, on the locked values plus this batch's own."""
        spent: dict[str, int] = {}
        received: dict[str, int] = {}
        counts = {key: (tally.count, tally.amount) for key, tally in tallies.items()}
        accepted = []
        for plan in self._open():
            request, amount = plan.request, plan.request.amount.minor
            assert plan.keys is not None
            sender = people.get(request.sender_user_id)
            limits = kyc.limits_for(request.country, sender.tier if sender else 0)
            if limits.daily_out.minor <= 0:
                plan.refuse(Refusal.UNVERIFIED)
                continue
            sent_today = counts[plan.keys.sender_day[0]][1]
            if sent_today + amount > limits.daily_out.minor:
                room = max(limits.daily_out.minor - sent_today, 0)
                plan.refuse(Refusal.DAILY_LIMIT, Money(room, request.amount.currency))
                continue
            credit = self._credit_spec(plan).code
            if plan.kind == TransferKind.P2P and plan.recipient is not None:
                cap = kyc.limits_for(request.country, plan.recipient.tier).max_balance
                holds = accounts[credit].held + received.get(credit, 0)
                if cap is not None and holds + amount > cap.minor:
                    plan.refuse(
                        Refusal.RECIPIENT_LIMIT, Money(max(cap.minor - holds, 0), request.amount.currency)
                    )
                    continue
            wallet = ledger.wallet_code(request.sender_user_id, request.amount.currency)
            if accounts[wallet].available - spent.get(wallet, 0) < amount:
                plan.refuse(Refusal.INSUFFICIENT_FUNDS)
                continue
            for key, _ in plan.keys.all():
                count, total = counts[key]
                counts[key] = (count + 1, total + amount)
            usage = risk.Usage(*(risk.Tally(*counts[key]) for key, _ in plan.keys.all()))
            plan.review = risk.review_reason(
                usage,
                request.amount,
                self.service.rules,
                identity_since=sender.since if sender else None,
                now=self.now,
            )
            spent[wallet] = spent.get(wallet, 0) + amount
            received[credit] = received.get(credit, 0) + amount
            accepted.append(plan)
        return accepted

    async def _write(self, accepted: list[_Plan], accounts: dict[str, ledger.LockedAccount]) -> None:
        """The ledger transfers, the transfer rows and their history, news, counters and audit lines."""
        if accepted:
            await self._move_money(accepted, accounts)
            rows = [self._row(plan) for plan in accepted]
            connection = await self.session.connection()
            inserted = await connection.execute(_ADD_TRANSFERS, [_columns(row) for row in rows])
            for row, transfer_id in zip(rows, inserted.scalars().all(), strict=True):
                row.id = transfer_id
            await self._add_history(accepted, rows)
            await risk.add_usage(self.session, self._usage(accepted))
        await audit.record_many(self.session, self.lines)

    async def _move_money(self, accepted: list[_Plan], accounts: dict[str, ledger.LockedAccount]) -> None:
        batch = [
            ledger.NewTransfer(
                id=ledger_id(plan.request.reference),
                debit_account_id=accounts[
                    ledger.wallet_code(plan.request.sender_user_id, plan.request.amount.currency)
                ].id,
                credit_account_id=accounts[self._credit_spec(plan).code].id,
                amount=plan.request.amount.minor,
                currency=plan.request.amount.currency,
                code=_ledger_code(plan.kind),
                pending=plan.review is not None or plan.kind != TransferKind.P2P,
            )
            for plan in accepted
        ]
        results = await ledger.create_transfers(self.session, batch)
        if any(result is not ledger.TransferResult.CREATED for result in results):
            # Balances were checked under the same locks: this is a bug, not a refusal.
            raise ledger.LedgerError(f"ledger refused a checked transfer: {results}")

    def _row(self, plan: _Plan) -> MoneyTransfer:
        request = plan.request
        assert plan.kind is not None
        state = TransferState.HELD if plan.review else _first_state(plan.kind)
        transfer = MoneyTransfer(
            reference=request.reference,
            kind=plan.kind,
            sender_user_id=request.sender_user_id,
            sender_conversation_id=request.conversation_id,
            recipient_user_id=plan.recipient.id if plan.recipient else None,
            recipient_phone=request.recipient.phone,
            recipient_name=request.recipient.account_name,
            country=request.country,
            amount=request.amount.minor,
            currency=request.amount.currency,
            state=state,
            review_reason=plan.review,
            gateway=plan.gateway,
            attempts=0,
            detail="",
            created_at=self.now,
            updated_at=self.now,
        )
        _describe_destination(transfer, request.recipient)
        if state == TransferState.CLAIMABLE:
            self.service.open_claim(transfer, self.now)
        if state == TransferState.QUEUED:
            transfer.next_check_at = self.now
        plan.outcome = Sent(transfer, pin=plan.check, created=True)
        return transfer

    async def _add_history(self, accepted: list[_Plan], rows: list[MoneyTransfer]) -> None:
        events, news = [], []
        for plan, row in zip(accepted, rows, strict=True):
            events.append(
                {
                    "money_transfer_id": row.id,
                    "state": row.state,
                    "detail": plan.review or "",
                    "created_at": self.now,
                }
            )
            if row.state == TransferState.COMPLETED and plan.recipient is not None:
                news.append(
                    {
                        "user_id": plan.recipient.id,
                        "conversation_id": plan.recipient.conversation_id,
                        "kind": "transfer_received",
                        "money_transfer_id": row.id,
                        "created_at": self.now,
                    }
                )
            details = {
                "amount": row.amount,
                "currency": row.currency,
                "state": row.state,
                "review": plan.review,
            }
            self.lines.append(
                audit.Line(
                    f"user:{row.sender_user_id}", f"transfer.{row.kind}", f"transfer:{row.reference}", details
                )
            )
        connection = await self.session.connection()
        await connection.execute(_ADD_EVENTS, events)
        if news:
            await connection.execute(_ADD_NEWS, news)

    @staticmethod
    def _usage(accepted: list[_Plan]) -> dict[str, tuple[int, int, datetime]]:
        usage: dict[str, tuple[int, int, datetime]] = {}
        for plan in accepted:
            assert plan.keys is not None
            for key, ends in plan.keys.all():
                count, amount, _ = usage.get(key, (0, 0, ends))
                usage[key] = (count + 1, amount + plan.request.amount.minor, ends)
        return usage


def _first_state(kind: TransferKind) -> TransferState:
    """Where a transfer of ``kind`` that needs no review starts."""
    return {
        TransferKind.P2P: TransferState.COMPLETED,
        TransferKind.CLAIMABLE: TransferState.CLAIMABLE,
    }.get(kind, TransferState.QUEUED)


def _describe_destination(transfer: MoneyTransfer, recipient: Recipient) -> None:
    """Copy a payout's bank code and account number onto its row."""
    destination = recipient.destination
    if destination is None:
        return
    transfer.bank_code = destination.bank_code
    transfer.account_number = destination.account_number
    if destination.kind is PayoutKind.MOBILE_MONEY:
        transfer.recipient_phone = destination.account_number


_HISTORY = DriverStatement(
    select(_transfers)
    .where(
        or_(
            _transfers.c.sender_user_id == bindparam("user_id"),
            _transfers.c.recipient_user_id == bindparam("user_id"),
        )
    )
    .order_by(_transfers.c.id.desc())
    .limit(bindparam("limit"))
)


async def history(session: AsyncSession, user_id: int, limit: int = 5) -> list[MoneyTransfer]:
    """The user's latest transfers, sent or received, newest first, as copies to read (not in the session).

    On every "history" chat turn, so read on the driver (see ``DriverStatement``).
    """
    rows = await _HISTORY.all(session, {"user_id": user_id, "limit": limit})
    return [MoneyTransfer(**{column.key: row[column.key] for column in _transfers.c}) for row in rows]
