"""An Orange Money Web Payment look-alike (aiohttp) for tests and demos.

``POST /oauth/v3/token`` (Basic client id:secret) → ``{access_token, token_type, expires_in}``;
``POST /orange-money-webpay/{env}/v1/webpayment`` (Bearer) → 201 ``{status, message, pay_token,
payment_url, notif_token}`` (a reused ``order_id`` is refused, 400); ``POST …/transactionstatus``
``{order_id, amount, pay_token}`` → ``{status: INITIATED|SUCCESS|FAILED, order_id, txnid}``; an
unknown order or a wrong pay token is 404; an amount other than the one paid is 400 (the real API
is keyed by the amount, so a payment of another amount is never confirmed as ours).

The notification ``{status, notif_token, txnid}`` is POSTed, unsigned, to the ``webhook_url`` knob
(plus ``?ref=<order_id>``) or else to the payment's ``notif_url``. Paying and knobs:
``sandbox.gateway``.
"""

from __future__ import annotations

import base64
import json
import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from sandbox.gateway import SANDBOX, GatewaySandbox, SandboxPayment, create_app, serve

CLIENT_ID = "sandbox-orange-client"
CLIENT_SECRET = "sandbox-orange-secret"
MERCHANT_KEY = "sandbox-merchant-key"
_CONFIG = web.AppKey("orange_config", dict)


def _notification(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
    if payment.status == "pending":
        return None
    status = "SUCCESS" if payment.status == "success" else "FAILED"
    body = {"status": status, "notif_token": payment.extra.get("notif_token", ""), "txnid": f"MP{payment.id}"}
    return json.dumps(body).encode(), {}


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"code": status, "message": message}, status=status)


def _bearer_ok(request: web.Request) -> bool:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return bool(token in request.app[_CONFIG]["tokens"])


async def token(request: web.Request) -> web.Response:
    """``POST /oauth/v3/token``."""
    config = request.app[_CONFIG]
    expected = base64.b64encode(f"{config['client_id']}:{config['client_secret']}".encode()).decode()
    if request.headers.get("Authorization", "") != f"Basic {expected}":
        return _error(401, "invalid_client")
    issued = secrets.token_urlsafe(24)
    config["tokens"].add(issued)
    return web.json_response({"token_type": "Bearer", "access_token": issued, "expires_in": 7776000})


async def webpayment(request: web.Request) -> web.Response:
    """``POST /orange-money-webpay/{env}/v1/webpayment``."""
    if not _bearer_ok(request):
        return _error(401, "Invalid credentials")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid JSON")
    config = request.app[_CONFIG]
    if not isinstance(body, dict) or body.get("merchant_key") != config["merchant_key"]:
        return _error(400, "invalid merchant key")
    order_id, amount = body.get("order_id"), body.get("amount")
    if (
        not isinstance(order_id, str)
        or isinstance(amount, bool)
        or not isinstance(amount, int)
        or amount <= 0
    ):
        return _error(400, "order_id and a whole positive amount are required")
    sandbox = request.app[SANDBOX]
    if order_id in sandbox.payments:
        return _error(400, "order_id already used")
    pay_token, notif_token = secrets.token_hex(32), secrets.token_hex(16)
    notif_url = str(body.get("notif_url") or "")
    currency = str(body.get("currency") or "XOF")
    sandbox.add(
        order_id,
        Decimal(amount),
        "XOF" if currency == "OUV" else currency,
        pay_token=pay_token,
        notif_token=notif_token,
        callback_url=notif_url or None,
        webhook_query=urlsplit(notif_url).query,
    )
    base = str(request.url).split("/orange-money-webpay")[0]
    return web.json_response(
        {
            "status": 201,
            "message": "OK",
            "pay_token": pay_token,
            "payment_url": f"{base}/checkout/{order_id}",
            "notif_token": notif_token,
        },
        status=201,
    )


async def transaction_status(request: web.Request) -> web.Response:
    """``POST /orange-money-webpay/{env}/v1/transactionstatus``."""
    if not _bearer_ok(request):
        return _error(401, "Invalid credentials")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid JSON")
    payment = (
        request.app[SANDBOX].payments.get(str(body.get("order_id", ""))) if isinstance(body, dict) else None
    )
    if payment is None or body.get("pay_token") != payment.extra.get("pay_token"):
        return _error(404, "transaction not found")
    status = {"success": "SUCCESS", "failed": "FAILED"}.get(payment.status, "INITIATED")
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    currency = payment.paid_currency or payment.currency
    if Decimal(str(body.get("amount"))) != paid or currency != payment.currency:
        return _error(400, "amount does not match the transaction")
    return web.json_response({"status": status, "order_id": payment.reference, "txnid": f"MP{payment.id}"})


def create_orange_sandbox(
    *,
    client_id: str = CLIENT_ID,
    client_secret: str = CLIENT_SECRET,
    merchant_key: str = MERCHANT_KEY,
    **knobs: Any,
) -> web.Application:
    """Build the sandbox app; knobs as in ``sandbox.gateway``."""
    sandbox = GatewaySandbox(_notification, **knobs)
    app = create_app(sandbox)
    app[_CONFIG] = {
        "client_id": client_id,
        "client_secret": client_secret,
        "merchant_key": merchant_key,
        "tokens": set(),
    }
    app.router.add_post("/oauth/v3/token", token)
    app.router.add_post("/orange-money-webpay/{env}/v1/webpayment", webpayment)
    app.router.add_post("/orange-money-webpay/{env}/v1/transactionstatus", transaction_status)
    return app


async def start_orange_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_orange_sandbox(**options), host, port)
