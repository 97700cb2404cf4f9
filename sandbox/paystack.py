"""A Paystack look-alike (aiohttp) for tests and demos: payments, transfers and signed webhooks.

API (as Paystack, ``Authorization: Bearer <secret key>`` or 401):
``POST /transaction/initialize`` ``{email, amount (subunits), currency, reference, callback_url}`` →
``{status: true, data: {authorization_url, access_code, reference}}`` (a reused reference: 400
``Duplicate Transaction Reference``); ``GET /transaction/verify/{reference}`` → the transaction
(``abandoned`` until paid, then ``success`` or ``failed``; unknown: 400
``Transaction reference not found``). Amounts are subunits (kobo, pesewas).

A successful payment sends ``charge.success`` to the ``webhook_url`` knob, signed with
``x-paystack-signature`` = hex HMAC-SHA512(secret key, raw body). Paying, knobs (late, twice,
never) and the checkout page are described in ``sandbox.gateway``.

Transfers: ``GET /bank/resolve?account_number=&bank_code=`` → ``data{account_number, account_name}``
(422 ``Could not resolve account name…`` for an account ending ``0000``); ``POST /transferrecipient``
``{type: nuban|ghipss|mobile_money, name, account_number, bank_code, currency}`` →
``data.recipient_code`` (the same one again for the same account; 400 ``Cannot resolve account``
for ``…0000``); ``POST /transfer`` ``{source: "balance", amount, recipient, reason, reference,
currency}`` → ``data{status, transfer_code, reference, amount…}`` (a reused reference: 400
``Duplicate Transaction Reference``); ``GET /transfer/verify/{reference}`` → the transfer (404
``Transfer not found``). Statuses ``pending``, ``success``, ``failed``, ``reversed``, each change
sent as ``transfer.success|failed|reversed``, signed like charges. The magic account numbers
(``0000`` no such account, ``1111`` fails, ``2222`` pending then success, ``3333`` success then
reversed, ``4444`` answer after the client's timeout) and their knobs are in
``sandbox.transfers``.
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

from sandbox.gateway import SANDBOX, GatewaySandbox, SandboxPayment, create_app, serve
from sandbox.transfers import TRANSFERS, SandboxTransfer, account_name, add_transfers, magic

SECRET_KEY = "sk_test_sandbox"
_SECRET = web.AppKey("paystack_secret", str)
_RECIPIENTS = web.AppKey("paystack_recipients", dict)
_RECIPIENT_TYPES = frozenset({"nuban", "ghipss", "mobile_money"})
_TRANSFER_EVENTS = {
    "success": "transfer.success",
    "failed": "transfer.failed",
    "reversed": "transfer.reversed",
}


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


def transfer_object(transfer: SandboxTransfer) -> dict[str, Any]:
    """The Paystack transfer object for a transfer."""
    details = transfer.extra.get("recipient", {})
    return {
        "id": transfer.id,
        "domain": "test",
        "amount": _subunits(transfer.amount),
        "currency": transfer.currency,
        "source": "balance",
        "reason": transfer.extra.get("reason", ""),
        "reference": transfer.reference,
        "status": transfer.status,
        "transfer_code": f"TRF_{transfer.id}",
        "failures": "Account could not be credited" if transfer.status == "failed" else None,
        "transferred_at": transfer.created_at if transfer.status in ("success", "reversed") else None,
        "recipient": details,
        "session": {"provider": "nip", "id": f"SANDBOX{transfer.id}"},
        "created_at": transfer.created_at,
        "updated_at": datetime.now(UTC).isoformat(),
    }


def _signed(secret: str, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    return body, {"x-paystack-signature": hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()}


def _webhook(secret: str) -> Any:
    def build(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
        if payment.status != "success":
            return None
        return _signed(secret, {"event": "charge.success", "data": transaction(payment)})

    return build


def _transfer_webhook(secret: str) -> Any:
    def build(transfer: SandboxTransfer) -> tuple[bytes, dict[str, str]] | None:
        event = _TRANSFER_EVENTS.get(transfer.status)
        if event is None:
            return None
        return _signed(secret, {"event": event, "data": transfer_object(transfer)})

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


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def resolve(request: web.Request) -> web.Response:
    """``GET /bank/resolve?account_number=&bank_code=``."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    number, bank = request.query.get("account_number", ""), request.query.get("bank_code", "")
    if not number.isdigit() or not bank:
        return _refuse("Account number and bank code are required", 422)
    name = account_name(number)
    if name is None:
        return _refuse("Could not resolve account name. Check parameters or try again.", 422)
    return web.json_response(
        {
            "status": True,
            "message": "Account number resolved",
            "data": {"account_number": number, "account_name": name, "bank_id": 9},
        }
    )


async def create_recipient(request: web.Request) -> web.Response:
    """``POST /transferrecipient``: one recipient code per (type, account, bank)."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    body = await _json_body(request)
    if body is None or body.get("type") not in _RECIPIENT_TYPES or not body.get("name"):
        return _refuse("type and name are required")
    number, bank = str(body.get("account_number", "")), str(body.get("bank_code", ""))
    if not number.isdigit() or not bank:
        return _refuse("account_number and bank_code are required")
    if magic(number) == "0000":
        return _refuse("Cannot resolve account")
    code = "RCP_" + hashlib.sha256(f"{body['type']}:{number}:{bank}".encode()).hexdigest()[:14]
    recipient = {
        "recipient_code": code,
        "type": body["type"],
        "name": body["name"],
        "currency": body.get("currency") or "NGN",
        "active": True,
        "details": {
            "account_number": number,
            "account_name": account_name(number),
            "bank_code": bank,
            "bank_name": f"Sandbox bank {bank}",
        },
    }
    request.app[_RECIPIENTS][code] = recipient
    return web.json_response(
        {"status": True, "message": "Transfer recipient created successfully", "data": recipient}, status=201
    )


async def create_transfer(request: web.Request) -> web.Response:
    """``POST /transfer``: one transfer per reference."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    body = await _json_body(request)
    if body is None or body.get("source") != "balance":
        return _refuse("source must be balance")
    recipient = request.app[_RECIPIENTS].get(str(body.get("recipient", "")))
    if recipient is None:
        return _refuse("Recipient specified is invalid")
    try:
        subunits = int(str(body.get("amount")))
    except ValueError:
        return _refuse("Invalid amount")
    if subunits <= 0:
        return _refuse("Invalid amount")
    book = request.app[TRANSFERS]
    reference = str(body.get("reference") or secrets.token_hex(8))
    if reference in book.transfers:
        return _refuse("Duplicate Transaction Reference")
    details = recipient["details"]
    transfer, _ = book.create(
        reference,
        Decimal(subunits) / 100,
        str(body.get("currency") or recipient["currency"]),
        details["account_number"],
        details["bank_code"],
        reason=str(body.get("reason", "")),
        recipient=recipient,
    )
    if book.hangs(transfer):
        await book.hang()
    return web.json_response(
        {"status": True, "message": "Transfer has been queued", "data": transfer_object(transfer)}
    )


async def verify_transfer(request: web.Request) -> web.Response:
    """``GET /transfer/verify/{reference}``."""
    if not _authorised(request):
        return _refuse("Invalid key", 401)
    transfer = request.app[TRANSFERS].query(request.match_info["reference"])
    if transfer is None:
        return _refuse("Transfer not found", 404)
    return web.json_response(
        {"status": True, "message": "Transfer retrieved", "data": transfer_object(transfer)}
    )


def create_paystack_sandbox(
    *, secret_key: str = SECRET_KEY, transfers: dict[str, Any] | None = None, **knobs: Any
) -> web.Application:
    """Build the sandbox app; knobs: ``sandbox.gateway``, ``transfers`` knobs: ``…transfers``."""
    app = create_app(GatewaySandbox(_webhook(secret_key), **knobs))
    app[_SECRET] = secret_key
    app[_RECIPIENTS] = {}
    add_transfers(app, _transfer_webhook(secret_key), **(transfers or {}))
    app.router.add_post("/transaction/initialize", initialize)
    app.router.add_get("/transaction/verify/{reference}", verify)
    app.router.add_get("/bank/resolve", resolve)
    app.router.add_post("/transferrecipient", create_recipient)
    app.router.add_post("/transfer", create_transfer)
    app.router.add_get("/transfer/verify/{reference}", verify_transfer)
    return app


async def start_paystack_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_paystack_sandbox(**options), host, port)
