"""A Flutterwave v3 look-alike (aiohttp) for tests and demos: checkout, franco mobile money, transfers.

API (``Authorization: Bearer <secret key>`` or 401): ``POST /payments`` → ``data.link`` (the
sandbox checkout page); ``POST /charges?type=mobile_money_franco`` → ``data{id, status:"pending"}``
(the payer "approves on the phone": pay it with ``POST /sandbox/pay/{tx_ref}``);
``GET /transactions/verify_by_reference?tx_ref=`` and ``GET /transactions/{id}/verify``. A reused
``tx_ref`` is refused (400). Amounts are major units.

Each settled payment (successful *or* failed, as Flutterwave does) sends ``charge.completed`` to
the ``webhook_url`` knob with ``verif-hash: <secret hash>`` and ``flutterwave-signature`` =
base64 HMAC-SHA256(secret hash, raw body). The ``style`` knob picks the body: ``v3`` (default)
or the legacy flat ``v2``. Other knobs, paying and the checkout page: ``sandbox.gateway``.

Transfers: ``POST /accounts/resolve`` ``{account_number, account_bank}`` → ``data{account_number,
account_name}`` (400 for an account ending ``0000``); ``POST /transfers`` ``{account_bank,
account_number, amount, currency, narration, reference, beneficiary_name}`` → ``data{id, status,
reference, amount…}`` (a reused reference: 400 ``Duplicate reference``); ``GET
/transfers?reference=`` → ``data: [transfer]`` (``[]`` when unknown); ``GET /transfers/{id}``.
Statuses ``NEW`` (pending), ``SUCCESSFUL``, ``FAILED``; the real API always answers ``NEW`` first,
the sandbox answers the outcome at once except for ``2222``. Flutterwave has no reversal state: a
``3333`` transfer turns ``FAILED`` ("reversed by the beneficiary bank"). Each outcome is sent as
``transfer.completed`` (v3) or ``{"event.type": "Transfer", "transfer": {…}}`` (v2), signed like
charge webhooks. Magic numbers and transfer knobs: ``sandbox.transfers``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.gateway import (
    SANDBOX,
    GatewaySandbox,
    SandboxPayment,
    create_app,
    decimal_or_none,
    serve,
)
from sandbox.transfers import TRANSFERS, SandboxTransfer, account_name, add_transfers

SECRET_KEY = "FLWSECK_TEST-sandbox"
SECRET_HASH = "sandbox-secret-hash"
_CONFIG = web.AppKey("flutterwave_config", dict)


def _major(amount: Decimal) -> int | float:
    return float(amount) if amount != amount.to_integral_value() else int(amount)


def transaction(payment: SandboxPayment) -> dict[str, Any]:
    """The Flutterwave transaction object for a payment."""
    status = {"success": "successful", "failed": "failed"}.get(payment.status, "pending")
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    return {
        "id": payment.id,
        "tx_ref": payment.reference,
        "flw_ref": f"FLW-SANDBOX-{payment.id}",
        "amount": _major(paid),
        "charged_amount": _major(paid),
        "currency": payment.paid_currency or payment.currency,
        "app_fee": 0,
        "merchant_fee": 0,
        "processor_response": {"successful": "Approved", "failed": "Declined"}.get(status, "Pending"),
        "status": status,
        "payment_type": payment.extra.get("payment_type", "card"),
        "created_at": datetime.now(UTC).isoformat(),
        "customer": {"email": payment.extra.get("email", "")},
    }


def transfer_object(transfer: SandboxTransfer) -> dict[str, Any]:
    """The Flutterwave transfer object for a transfer."""
    status = {"success": "SUCCESSFUL", "failed": "FAILED", "reversed": "FAILED"}.get(transfer.status, "NEW")
    message = {
        "success": "Successful",
        "failed": "DISBURSE FAILED: Account could not be credited",
        "reversed": "DISBURSE FAILED: Transfer reversed by the beneficiary bank",
    }.get(transfer.status, "")
    return {
        "id": transfer.id,
        "account_number": transfer.account_number,
        "bank_code": transfer.bank_code,
        "full_name": transfer.account_name or transfer.extra.get("beneficiary_name", ""),
        "created_at": transfer.created_at,
        "currency": transfer.currency,
        "debit_currency": transfer.extra.get("debit_currency") or transfer.currency,
        "amount": _major(transfer.amount),
        "fee": 0,
        "status": status,
        "reference": transfer.reference,
        "meta": None,
        "narration": transfer.extra.get("narration", ""),
        "complete_message": message,
        "requires_approval": 0,
        "is_approved": 1,
        "bank_name": f"Sandbox bank {transfer.bank_code}",
    }


def _sign(config: dict[str, Any], body: bytes) -> dict[str, str]:
    secret_hash = str(config["secret_hash"])
    digest = hmac.new(secret_hash.encode(), body, hashlib.sha256).digest()
    return {"verif-hash": secret_hash, "flutterwave-signature": base64.b64encode(digest).decode()}


def _transfer_webhook(config: dict[str, Any]) -> Any:
    def build(transfer: SandboxTransfer) -> tuple[bytes, dict[str, str]] | None:
        if transfer.status == "pending":
            return None
        data = transfer_object(transfer)
        if config.get("style") == "v2":
            legacy = {
                "id": data["id"],
                "accountNumber": data["account_number"],
                "bankCode": data["bank_code"],
                "fullName": data["full_name"],
                "date_created": data["created_at"],
                "currency": data["currency"],
                "debitCurrency": data["debit_currency"],
                "amount": data["amount"],
                "fee": 0,
                "status": data["status"],
                "reference": data["reference"],
                "narration": data["narration"],
                "complete_message": data["complete_message"],
            }
            body = json.dumps({"event.type": "Transfer", "transfer": legacy}).encode()
        else:
            body = json.dumps(
                {"event": "transfer.completed", "event.type": "Transfer", "data": data}
            ).encode()
        return body, _sign(config, body)

    return build


def _webhook(config: dict[str, Any]) -> Any:
    def build(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
        if payment.status == "pending":
            return None
        data = transaction(payment)
        if config.get("style") == "v2":
            flat = {
                "id": data["id"],
                "txRef": data["tx_ref"],
                "flwRef": data["flw_ref"],
                "status": data["status"],
                "amount": data["amount"],
                "currency": data["currency"],
                "event.type": "CARD_TRANSACTION",
            }
            body = json.dumps(flat).encode()
        else:
            body = json.dumps(
                {"event": "charge.completed", "event.type": "CARD_TRANSACTION", "data": data}
            ).encode()
        return body, _sign(config, body)

    return build


def _authorised(request: web.Request) -> bool:
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given, f"Bearer {request.app[_CONFIG]['secret_key']}")


def _error(message: str, status: int = 400) -> web.Response:
    return web.json_response({"status": "error", "message": message, "data": None}, status=status)


async def _start(
    request: web.Request, payment_type: str
) -> tuple[SandboxPayment | None, web.Response | None]:
    if not _authorised(request):
        return None, _error("Invalid authorization key", 401)
    try:
        body = await request.json()
    except ValueError:
        return None, _error("Invalid JSON")
    if not isinstance(body, dict):
        return None, _error("Invalid JSON")
    amount = decimal_or_none(body.get("amount"))
    reference = body.get("tx_ref")
    if amount is None or amount <= 0 or not isinstance(reference, str) or not reference:
        return None, _error("tx_ref and a positive amount are required")
    sandbox = request.app[SANDBOX]
    if reference in sandbox.payments:
        return None, _error("Duplicate tx_ref")
    customer = body.get("customer") if isinstance(body.get("customer"), dict) else {}
    email = body.get("email") or (customer or {}).get("email", "")
    payment = sandbox.add(
        reference, amount, str(body.get("currency") or "NGN"), email=email, payment_type=payment_type
    )
    return payment, None


async def payments(request: web.Request) -> web.Response:
    """``POST /payments``: a hosted checkout link."""
    payment, refused = await _start(request, "card")
    if refused is not None or payment is None:
        return refused or _error("refused")
    base = str(request.url).split("/payments")[0]
    return web.json_response(
        {
            "status": "success",
            "message": "Hosted Link",
            "data": {"link": f"{base}/checkout/{payment.reference}"},
        }
    )


async def charges(request: web.Request) -> web.Response:
    """``POST /charges?type=mobile_money_franco``: a prompt on the payer's phone."""
    if request.query.get("type") != "mobile_money_franco":
        return _error("Unsupported charge type")
    payment, refused = await _start(request, "mobilemoneyfranco")
    if refused is not None or payment is None:
        return refused or _error("refused")
    return web.json_response(
        {
            "status": "success",
            "message": "Charge initiated",
            "data": transaction(payment),
            "meta": {"authorization": {"mode": "callback", "note": "Approve the prompt on your phone"}},
        }
    )


async def verify_by_reference(request: web.Request) -> web.Response:
    """``GET /transactions/verify_by_reference?tx_ref=``."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    payment = request.app[SANDBOX].payments.get(request.query.get("tx_ref", ""))
    if payment is None:
        return _error("No transaction was found for this id", 404)
    return web.json_response(
        {"status": "success", "message": "Transaction fetched successfully", "data": transaction(payment)}
    )


async def verify_by_id(request: web.Request) -> web.Response:
    """``GET /transactions/{id}/verify``."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    wanted = request.match_info["id"]
    payment = next((p for p in request.app[SANDBOX].payments.values() if str(p.id) == wanted), None)
    if payment is None:
        return _error("No transaction was found for this id", 404)
    return web.json_response(
        {"status": "success", "message": "Transaction fetched successfully", "data": transaction(payment)}
    )


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def resolve_account(request: web.Request) -> web.Response:
    """``POST /accounts/resolve``."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    body = await _json_body(request)
    number = str(body.get("account_number", "")) if body else ""
    if body is None or not number.isdigit() or not body.get("account_bank"):
        return _error("account_number and account_bank are required")
    name = account_name(number)
    if name is None:
        return _error("Sorry, that account number is invalid, please check and try again")
    return web.json_response(
        {
            "status": "success",
            "message": "Account details fetched",
            "data": {"account_number": number, "account_name": name},
        }
    )


async def create_transfer(request: web.Request) -> web.Response:
    """``POST /transfers``: one transfer per reference."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    body = await _json_body(request)
    if body is None:
        return _error("Invalid JSON")
    amount = decimal_or_none(body.get("amount"))
    number, reference = str(body.get("account_number", "")), body.get("reference")
    if amount is None or amount <= 0 or not number.isdigit() or not body.get("account_bank"):
        return _error("account_bank, account_number and a positive amount are required")
    if not isinstance(reference, str) or not reference or not isinstance(body.get("currency"), str):
        return _error("reference and currency are required")
    book = request.app[TRANSFERS]
    if reference in book.transfers:
        return _error("Duplicate reference")
    transfer, _ = book.create(
        reference,
        amount,
        str(body["currency"]),
        number,
        str(body["account_bank"]),
        narration=str(body.get("narration", "")),
        beneficiary_name=str(body.get("beneficiary_name", "")),
        debit_currency=body.get("debit_currency"),
    )
    if book.hangs(transfer):
        await book.hang()
    return web.json_response(
        {"status": "success", "message": "Transfer Queued Successfully", "data": transfer_object(transfer)}
    )


async def list_transfers(request: web.Request) -> web.Response:
    """``GET /transfers?reference=`` (a query of that transfer's status) or every transfer."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    book = request.app[TRANSFERS]
    reference = request.query.get("reference")
    if reference is None:
        found = list(book.transfers.values())
    else:
        queried = book.query(reference)
        found = [queried] if queried is not None else []
    return web.json_response(
        {
            "status": "success",
            "message": "Transfers fetched",
            "meta": {"page_info": {"total": len(found), "current_page": 1, "total_pages": 1}},
            "data": [transfer_object(t) for t in found],
        }
    )


async def get_transfer(request: web.Request) -> web.Response:
    """``GET /transfers/{id}``."""
    if not _authorised(request):
        return _error("Invalid authorization key", 401)
    book = request.app[TRANSFERS]
    wanted = request.match_info["id"]
    found = next((t for t in book.transfers.values() if str(t.id) == wanted), None)
    if found is None:
        return _error("No transfer was found for this id", 404)
    book.query(found.reference)
    return web.json_response(
        {"status": "success", "message": "Transfer fetched", "data": transfer_object(found)}
    )


def create_flutterwave_sandbox(
    *,
    secret_key: str = SECRET_KEY,
    secret_hash: str = SECRET_HASH,
    style: str = "v3",
    transfers: dict[str, Any] | None = None,
    **knobs: Any,
) -> web.Application:
    """Build the sandbox app: ``style`` v3|v2 webhooks; knobs: ``…gateway``, ``transfers``: ``…transfers``."""
    config: dict[str, Any] = {"secret_key": secret_key, "secret_hash": secret_hash, "style": style}
    app = create_app(GatewaySandbox(_webhook(config), **knobs))
    app[_CONFIG] = config
    add_transfers(app, _transfer_webhook(config), **(transfers or {}))
    app.router.add_post("/accounts/resolve", resolve_account)
    app.router.add_post("/transfers", create_transfer)
    app.router.add_get("/transfers", list_transfers)
    app.router.add_get("/transfers/{id}", get_transfer)
    app.router.add_post("/payments", payments)
    app.router.add_post("/charges", charges)
    app.router.add_get("/transactions/verify_by_reference", verify_by_reference)
    app.router.add_get("/transactions/{id}/verify", verify_by_id)
    return app


def set_style(runner: web.AppRunner, style: str) -> None:
    """Switch a running sandbox between ``v3`` and legacy ``v2`` webhook bodies."""
    runner.app[_CONFIG]["style"] = style


async def start_flutterwave_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_flutterwave_sandbox(**options), host, port)
