"""A Flutterwave v3 look-alike (aiohttp) for tests and demos: hosted links, franco mobile money, webhooks.

API (``Authorization: Bearer <secret key>`` or 401): ``POST /payments`` → ``data.link`` (the
sandbox checkout page); ``POST /charges?type=mobile_money_franco`` → ``data{id, status:"pending"}``
(the payer "approves on the phone": pay it with ``POST /sandbox/pay/{tx_ref}``);
``GET /transactions/verify_by_reference?tx_ref=`` and ``GET /transactions/{id}/verify``. A reused
``tx_ref`` is refused (400). Amounts are major units.

Each settled payment (successful *or* failed, as Flutterwave does) sends ``charge.completed`` to
the ``webhook_url`` knob with ``verif-hash: <secret hash>`` and ``flutterwave-signature`` =
base64 HMAC-SHA256(secret hash, raw body). The ``style`` knob picks the body: ``v3`` (default)
or the legacy flat ``v2``. Other knobs, paying and the checkout page: ``payments.sandbox.gateway``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from payments.sandbox.gateway import (
    SANDBOX,
    GatewaySandbox,
    SandboxPayment,
    create_app,
    decimal_or_none,
    serve,
)

SECRET_KEY = "FLWSECK_TEST-sandbox"
SECRET_HASH = "sandbox-secret-hash"
_CONFIG = web.AppKey("flutterwave_config", dict)


def transaction(payment: SandboxPayment) -> dict[str, Any]:
    """The Flutterwave transaction object for a payment."""
    status = {"success": "successful", "failed": "failed"}.get(payment.status, "pending")
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    return {
        "id": payment.id,
        "tx_ref": payment.reference,
        "flw_ref": f"FLW-SANDBOX-{payment.id}",
        "amount": float(paid) if paid != paid.to_integral_value() else int(paid),
        "charged_amount": float(paid) if paid != paid.to_integral_value() else int(paid),
        "currency": payment.paid_currency or payment.currency,
        "app_fee": 0,
        "merchant_fee": 0,
        "processor_response": {"successful": "Approved", "failed": "Declined"}.get(status, "Pending"),
        "status": status,
        "payment_type": payment.extra.get("payment_type", "card"),
        "created_at": datetime.now(UTC).isoformat(),
        "customer": {"email": payment.extra.get("email", "")},
    }


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
        secret_hash = str(config["secret_hash"])
        digest = hmac.new(secret_hash.encode(), body, hashlib.sha256).digest()
        return body, {"verif-hash": secret_hash, "flutterwave-signature": base64.b64encode(digest).decode()}

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


def create_flutterwave_sandbox(
    *, secret_key: str = SECRET_KEY, secret_hash: str = SECRET_HASH, style: str = "v3", **knobs: Any
) -> web.Application:
    """Build the sandbox app: ``style`` is ``v3`` or ``v2`` webhooks; knobs: ``payments.sandbox.gateway``."""
    config: dict[str, Any] = {"secret_key": secret_key, "secret_hash": secret_hash, "style": style}
    app = create_app(GatewaySandbox(_webhook(config), **knobs))
    app[_CONFIG] = config
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
