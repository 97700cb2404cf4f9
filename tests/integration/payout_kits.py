"""Per-gateway payout test kits: a sandbox, the real adapter pointed at it, destinations, signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from domain.money import Money
from domain.ports import PayoutDestination, PayoutKind, PayoutStatus
from payments.flutterwave import FlutterwaveGateway
from payments.flutterwave import signature as flutterwave_signature
from payments.momo import MomoDisbursement
from payments.paystack import PaystackGateway
from sandbox.flutterwave import set_style, start_flutterwave_sandbox
from sandbox.gateway import GatewaySandbox, sandbox_of
from sandbox.momo import start_momo_sandbox
from sandbox.paystack import start_paystack_sandbox
from sandbox.transfers import TransferBook, transfers_of

#: The adapter's timeout; the sandbox's ``4444`` answer comes after ``HANG`` seconds.
CLIENT_TIMEOUT = 1.0
HANG = CLIENT_TIMEOUT + 0.6
#: Timers long enough never to fire in a test: transitions come from status queries.
TRANSFER_KNOBS = {"pending_queries": 2, "settle_after": 60.0, "reverse_after": 60.0, "hang_seconds": HANG}


@dataclass
class PayoutKit:
    """Everything a payout test needs for one gateway and one kind of destination."""

    name: str
    runner: web.AppRunner
    gateway: Any
    destination: Callable[[str], PayoutDestination]
    """The destination whose account or wallet number ends with the given four digits."""
    amount: Money
    reversal: PayoutStatus
    """What a reversed transfer reads as: REVERSED where the gateway has that state, else FAILED."""
    sign: Callable[[bytes], dict[str, str]] | None
    """Headers that make a body authentic (None: the gateway does not sign)."""
    charge: tuple[bytes, dict[str, str]]
    """An authentic wallet-funding webhook of this gateway: not a payout."""
    names_accounts: bool = True
    """False where the gateway has no name service for these accounts (Flutterwave wallets)."""

    @property
    def sandbox(self) -> GatewaySandbox:
        return sandbox_of(self.runner)

    @property
    def book(self) -> TransferBook:
        return transfers_of(self.runner)


PAYSTACK_SECRET = "sk_test_payout_kit"


def _paystack_sign(body: bytes) -> dict[str, str]:
    return {"x-paystack-signature": hmac.new(PAYSTACK_SECRET.encode(), body, hashlib.sha512).hexdigest()}


def _paystack_kit(destination: Callable[[str], PayoutDestination], amount: Money) -> Any:
    @asynccontextmanager
    async def kit() -> AsyncIterator[PayoutKit]:
        runner, base_url = await start_paystack_sandbox(secret_key=PAYSTACK_SECRET, transfers=TRANSFER_KNOBS)
        gateway = PaystackGateway(base_url, PAYSTACK_SECRET, timeout=CLIENT_TIMEOUT)
        charge = json.dumps({"event": "charge.success", "data": {"id": 1, "reference": "r-1"}}).encode()
        try:
            yield PayoutKit(
                "paystack",
                runner,
                gateway,
                destination,
                amount,
                PayoutStatus.REVERSED,
                _paystack_sign,
                (charge, _paystack_sign(charge)),
            )
        finally:
            await gateway.close()
            await runner.cleanup()

    return kit


FLW_SECRET = "FLWSECK_TEST-payout-kit"
FLW_HASH = "payout-kit-hash"


def _flutterwave_sign(body: bytes) -> dict[str, str]:
    return {"verif-hash": FLW_HASH, "flutterwave-signature": flutterwave_signature(FLW_HASH, body)}


def _flutterwave_kit(
    destination: Callable[[str], PayoutDestination], amount: Money, style: str, *, names: bool = True
) -> Any:
    @asynccontextmanager
    async def kit() -> AsyncIterator[PayoutKit]:
        runner, base_url = await start_flutterwave_sandbox(
            secret_key=FLW_SECRET, secret_hash=FLW_HASH, transfers=TRANSFER_KNOBS
        )
        set_style(runner, style)
        gateway = FlutterwaveGateway(base_url, FLW_SECRET, FLW_HASH, timeout=CLIENT_TIMEOUT)
        data = {"id": 1, "tx_ref": "r-1", "status": "successful", "amount": 100, "currency": "NGN"}
        charge = json.dumps({"event": "charge.completed", "data": data}).encode()
        try:
            yield PayoutKit(
                "flutterwave",
                runner,
                gateway,
                destination,
                amount,
                PayoutStatus.FAILED,
                _flutterwave_sign,
                (charge, _flutterwave_sign(charge)),
                names_accounts=names,
            )
        finally:
            await gateway.close()
            await runner.cleanup()

    return kit


@asynccontextmanager
async def momo_kit() -> AsyncIterator[PayoutKit]:
    runner, base_url = await start_momo_sandbox(
        disbursement_subscription_key="kit-dsub",
        disbursement_api_user="kit-duser",
        disbursement_api_key="kit-dkey",
        transfers=TRANSFER_KNOBS,
    )
    gateway = MomoDisbursement(base_url, "kit-dsub", "kit-duser", "kit-dkey", timeout=CLIENT_TIMEOUT)
    charge = json.dumps(
        {
            "amount": "50",
            "currency": "GHS",
            "externalId": "r-1",
            "payer": {"partyId": "1"},
            "status": "SUCCESSFUL",
        }
    ).encode()
    try:
        yield PayoutKit(
            "momo",
            runner,
            gateway,
            lambda last4: PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "GHS", f"+23324123{last4}", "MTN"),
            Money.of("50.25", "GHS"),
            PayoutStatus.FAILED,
            None,
            (charge, {}),
        )
    finally:
        await gateway.close()
        await runner.cleanup()


def _nuban(last4: str) -> PayoutDestination:
    return PayoutDestination(PayoutKind.BANK, "NG", "NGN", f"012345{last4}", "058")


KITS: dict[str, Any] = {
    "paystack-ng-bank": _paystack_kit(_nuban, Money.of("1500.50", "NGN")),
    "paystack-gh-wallet": _paystack_kit(
        lambda last4: PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "GHS", f"+23320123{last4}", "VOD"),
        Money.of("20.05", "GHS"),
    ),
    "paystack-gh-bank": _paystack_kit(
        lambda last4: PayoutDestination(PayoutKind.BANK, "GH", "GHS", f"104123456{last4}", "040100"),
        Money.of(75, "GHS"),
    ),
    "flutterwave-ng-bank": _flutterwave_kit(_nuban, Money.of("1500.50", "NGN"), "v3"),
    "flutterwave-ci-wallet-v2": _flutterwave_kit(
        lambda last4: PayoutDestination(
            PayoutKind.MOBILE_MONEY, "CI", "XOF", f"+225070123{last4}", "orangemoney"
        ),
        Money.of(5000, "XOF"),
        "v2",
        names=False,
    ),
    "momo-gh-wallet": momo_kit,
}
