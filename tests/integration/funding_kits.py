"""Per-gateway test kits: a sandbox, the real adapter pointed at it, and how to forge its webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import web

from domain.money import Money
from payments.flutterwave import FlutterwaveGateway
from payments.flutterwave import signature as flutterwave_signature
from payments.momo import MomoGateway
from payments.orange import OrangeGateway
from payments.paystack import PaystackGateway
from sandbox.flutterwave import start_flutterwave_sandbox
from sandbox.gateway import GatewaySandbox, SandboxPayment, sandbox_of
from sandbox.momo import start_momo_sandbox
from sandbox.orange import start_orange_sandbox
from sandbox.paystack import start_paystack_sandbox

#: Builds a webhook body and headers claiming ``payment`` succeeded, with a wrong signature (or, for
#: unsigned gateways, none at all).
Forger = Callable[[SandboxPayment], tuple[bytes, dict[str, str]]]


@dataclass
class Kit:
    """Everything a webhook test needs for one gateway."""

    name: str
    path: str
    runner: web.AppRunner
    sandbox: GatewaySandbox
    gateway: object
    country: str
    amount: Money
    phone: str | None
    signed: bool
    forge: Forger
    sign: Callable[[bytes], dict[str, str]] | None
    """Headers that make a body authentic (None for unsigned gateways)."""
    other_currency: str
    reports_amount: bool = True
    """False when the status API is keyed by the amount (Orange): a wrong one is never confirmed."""

    @property
    def major(self) -> Decimal:
        return self.amount.major


PAYSTACK_SECRET = "sk_test_kit_secret"


def _paystack_body(payment: SandboxPayment) -> bytes:
    return json.dumps(
        {
            "event": "charge.success",
            "data": {
                "id": payment.id,
                "status": "success",
                "reference": payment.reference,
                "amount": int(payment.amount * 100),
                "currency": payment.currency,
            },
        }
    ).encode()


def _paystack_sign(body: bytes) -> dict[str, str]:
    return {"x-paystack-signature": hmac.new(PAYSTACK_SECRET.encode(), body, hashlib.sha512).hexdigest()}


@asynccontextmanager
async def paystack_kit() -> AsyncIterator[Kit]:
    runner, base_url = await start_paystack_sandbox(secret_key=PAYSTACK_SECRET)
    gateway = PaystackGateway(base_url, PAYSTACK_SECRET, timeout=5.0)
    try:
        yield Kit(
            name="paystack",
            path="paystack",
            runner=runner,
            sandbox=sandbox_of(runner),
            gateway=gateway,
            country="NG",
            amount=Money.of(5000, "NGN"),
            phone="+2348031234567",
            signed=True,
            forge=lambda p: (
                _paystack_body(p),
                {
                    "x-paystack-signature": hmac.new(
                        b"sk_wrong", _paystack_body(p), hashlib.sha512
                    ).hexdigest()
                },
            ),
            sign=_paystack_sign,
            other_currency="GHS",
        )
    finally:
        await gateway.close()
        await runner.cleanup()


FLW_SECRET = "FLWSECK_TEST-kit"
FLW_HASH = "kit-secret-hash"


def _flutterwave_body(payment: SandboxPayment) -> bytes:
    data = {
        "id": payment.id,
        "tx_ref": payment.reference,
        "amount": int(payment.amount),
        "currency": payment.currency,
        "status": "successful",
    }
    return json.dumps({"event": "charge.completed", "event.type": "CARD_TRANSACTION", "data": data}).encode()


def _flutterwave_sign(body: bytes) -> dict[str, str]:
    return {"verif-hash": FLW_HASH, "flutterwave-signature": flutterwave_signature(FLW_HASH, body)}


def _flutterwave_forge(payment: SandboxPayment) -> tuple[bytes, dict[str, str]]:
    body = _flutterwave_body(payment)
    return body, {"verif-hash": "guessed", "flutterwave-signature": flutterwave_signature("guessed", body)}


def _flutterwave_kit(country: str, amount: Money, phone: str, style: str, other: str) -> Any:
    @asynccontextmanager
    async def kit() -> AsyncIterator[Kit]:
        runner, base_url = await start_flutterwave_sandbox(
            secret_key=FLW_SECRET, secret_hash=FLW_HASH, style=style
        )
        gateway = FlutterwaveGateway(base_url, FLW_SECRET, FLW_HASH, timeout=5.0)
        try:
            yield Kit(
                name="flutterwave",
                path="flutterwave",
                runner=runner,
                sandbox=sandbox_of(runner),
                gateway=gateway,
                country=country,
                amount=amount,
                phone=phone,
                signed=True,
                forge=_flutterwave_forge,
                sign=_flutterwave_sign,
                other_currency=other,
            )
        finally:
            await gateway.close()
            await runner.cleanup()

    return kit


def _momo_forge(payment: SandboxPayment) -> tuple[bytes, dict[str, str]]:
    """An unsigned callback claiming the payment succeeded (anyone can send one)."""
    body = {
        "amount": f"{payment.amount:f}",
        "currency": payment.currency,
        "externalId": payment.reference,
        "financialTransactionId": "123456",
        "status": "SUCCESSFUL",
    }
    return json.dumps(body).encode(), {}


@asynccontextmanager
async def momo_kit() -> AsyncIterator[Kit]:
    runner, base_url = await start_momo_sandbox(
        subscription_key="kit-sub", api_user="kit-user", api_key="kit-key"
    )
    gateway = MomoGateway(base_url, "kit-sub", "kit-user", "kit-key", timeout=5.0)
    try:
        yield Kit(
            name="momo",
            path="mtn",
            runner=runner,
            sandbox=sandbox_of(runner),
            gateway=gateway,
            country="GH",
            amount=Money.of(50, "GHS"),
            phone="+233241234567",
            signed=False,
            forge=_momo_forge,
            sign=None,
            other_currency="NGN",
        )
    finally:
        await gateway.close()
        await runner.cleanup()


def _orange_forge(payment: SandboxPayment) -> tuple[bytes, dict[str, str]]:
    """An unsigned notification claiming the payment succeeded."""
    body = {"status": "SUCCESS", "notif_token": "guessed", "txnid": "MP0"}
    return json.dumps(body).encode(), {}


@asynccontextmanager
async def orange_kit() -> AsyncIterator[Kit]:
    runner, base_url = await start_orange_sandbox(
        client_id="kit-id", client_secret="kit-secret", merchant_key="kit-mk"
    )
    gateway = OrangeGateway(base_url, "kit-id", "kit-secret", "kit-mk", currency_override="OUV", timeout=5.0)
    try:
        yield Kit(
            name="orange",
            path="orange",
            runner=runner,
            sandbox=sandbox_of(runner),
            gateway=gateway,
            country="SN",
            amount=Money.of(5000, "XOF"),
            phone="+221771234567",
            signed=False,
            forge=_orange_forge,
            sign=None,
            other_currency="NGN",
            reports_amount=False,
        )
    finally:
        await gateway.close()
        await runner.cleanup()


KITS: dict[str, Any] = {
    "orange": orange_kit,
    "momo": momo_kit,
    "paystack": paystack_kit,
    "flutterwave": _flutterwave_kit("NG", Money.of(5000, "NGN"), "+2348031234567", "v3", "GHS"),
    "flutterwave-franco-v2": _flutterwave_kit("CI", Money.of(5000, "XOF"), "+2250701234567", "v2", "NGN"),
}
