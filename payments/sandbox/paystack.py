"""A Paystack look-alike (aiohttp) for tests and demos: initialize, verify and signed webhooks.

API (as Paystack, ``Authorization: Bearer <secret key>`` or 401):
``POST /transaction/initialize`` ``{email, amount (subunits), currency, reference, callback_url}`` →
``{status: true, data: {authorization_url, access_code, reference}}`` (a reused reference: 400
``Duplicate Transaction Reference``); ``GET /transaction/verify/{reference}`` → the transaction
(``abandoned`` until paid, then ``success`` or ``failed``; unknown: 400
``Transaction reference not found``). Amounts are subunits (kobo, pesewas).

A successful payment sends ``charge.success`` to the ``webhook_url`` knob, signed with
``x-paystack-signature`` = hex HMAC-SHA512(secret key, raw body). Paying, knobs (late, twice,
never) and the checkout page are described in ``payments.sandbox.gateway``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from payments.sandbox.gateway import SANDBOX, GatewaySandbox, SandboxPayment, create_app, serve

SECRET_KEY = "sk_test_sandbox"
_SECRET = web.AppKey("paystack_secret", str)


def _subunits(amount: Decimal) -> int:
    return int(amount * 100)


def transaction(payment: SandboxPayment) -> dict[str, Any]:
    """The Paystack transaction object for a payment."""
    status = "abandoned" if payment.status == "pending" else payment.status
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    return {
        "id": payment.id,
        "domain": "test",
        "status": status,
        "reference": payment.reference,
        "amount": _subunits(paid),
        "currency": payment.paid_currency or payment.currency,
        "channel": "card",
        "gateway_response": {"success": "Successful", "failed": "Declined"}.get(
            status, "The transaction was not completed"
        ),
        "paid_at": datetime.now(UTC).isoformat() if payment.status == "success" else None,
        "created_at": datetime.now(UTC).isoformat(),
        "metadata": payment.extra.get("metadata"),
        "customer": {"email": payment.extra.get("email", "")},
    }


def _webhook(secret: str) -> Any:
    def build(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
        if payment.status != "success":
            return None
        body = json.dumps({"event": "charge.success", "data": transaction(payment)}).encode()
        return body, {"x-paystack-signature": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()}

    return build


def _authorised(request: web.Request) -> bool:
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given, f"Bearer {request.app[_SECRET]}")


def _refuse(message: str, status: int = 400) -> web.Response:
    return web.json_response({"status": False, "message": message}, status=status)


async def initialize(request: web.Request) -> web.Response:
    """``POST /transaction/initialize``."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    try:
        body = await request.json()
    except ValueError:
        return _refuse("Invalid JSON")
    if not isinstance(body, dict) or not body.get("email") or body.get("amount") in (None, ""):
        return _refuse("email and amount are required")
    try:
        subunits = int(str(body["amount"]))
    except ValueError:
        return _refuse("Invalid amount")
    if subunits <= 0:
        return _refuse("Invalid amount")
    sandbox = request.app[SANDBOX]
    reference = str(body.get("reference") or secrets.token_hex(8))
    if reference in sandbox.payments:
        return _refuse("Duplicate Transaction Reference")
    currency = str(body.get("currency") or "NGN")
    sandbox.add(
        reference, Decimal(subunits) / 100, currency, email=body["email"], metadata=body.get("metadata")
    )
    base = str(request.url).split("/transaction/initialize")[0]
    return web.json_response(
        {
            "status": True,
            "message": "Authorization URL created",
            "data": {
                "authorization_url": f"{base}/checkout/{reference}",
                "access_code": secrets.token_hex(8),
                "reference": reference,
            },
        }
    )


async def verify(request: web.Request) -> web.Response:
    """``GET /transaction/verify/{reference}``."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    payment = request.app[SANDBOX].payments.get(request.match_info["reference"])
    if payment is None:
        return _refuse("Transaction reference not found")
    return web.json_response(
        {"status": True, "message": "Verification successful", "data": transaction(payment)}
    )


def create_paystack_sandbox(*, secret_key: str = SECRET_KEY, **knobs: Any) -> web.Application:
    """Build the sandbox app; knobs as in ``payments.sandbox.gateway``."""
    app = create_app(GatewaySandbox(_webhook(secret_key), **knobs))
    app[_SECRET] = secret_key
    app.router.add_post("/transaction/initialize", initialize)
    app.router.add_get("/transaction/verify/{reference}", verify)
    return app


async def start_paystack_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_paystack_sandbox(**options), host, port)
