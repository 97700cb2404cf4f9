"""An MTN MoMo collection look-alike (aiohttp) for tests and demos: token, request to pay, status, callbacks.

API (every call needs ``Ocp-Apim-Subscription-Key``, else 401): ``POST /collection/token/``
(Basic api user:api key) → ``{access_token, token_type, expires_in}``;
``POST /collection/v1_0/requesttopay`` (Bearer token, ``X-Reference-Id`` a UUID v4 else 400, reuse
409 ``RESOURCE_ALREADY_EXIST``, optional ``X-Callback-Url``) → 202 with an empty body;
``GET /collection/v1_0/requesttopay/{referenceId}`` → ``{amount, currency, financialTransactionId,
externalId, payer, payerMessage, payeeNote, status, reason?}`` (404 unknown). Any currency is
accepted (the real sandbox only takes EUR).

The payer "approves on the phone": ``POST /sandbox/pay/{referenceId}`` (or the ``auto_pay`` knob).
Magic payer numbers: ending ``0000`` the payer rejects (``FAILED``, ``APPROVAL_REJECTED``), ending
``1111`` the prompt is never answered (stays ``PENDING``) even with ``auto_pay``.

The callback is the status body, **unsigned**, POSTed to the ``webhook_url`` knob or else to the
request's ``X-Callback-Url``; knobs (late, twice, never) are in ``payments.sandbox.gateway``.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
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

SUBSCRIPTION_KEY = "sandbox-subscription-key"
API_USER = "0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b"
API_KEY = "sandbox-api-key"
_CONFIG = web.AppKey("momo_config", dict)


def status_body(payment: SandboxPayment) -> dict[str, Any]:
    """The request-to-pay status object for a payment."""
    status = {"success": "SUCCESSFUL", "failed": "FAILED"}.get(payment.status, "PENDING")
    paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
    body: dict[str, Any] = {
        "amount": f"{paid:f}",
        "currency": payment.paid_currency or payment.currency,
        "externalId": payment.extra.get("external_id", payment.reference),
        "payer": {"partyIdType": "MSISDN", "partyId": payment.extra.get("payer", "")},
        "payerMessage": payment.extra.get("payer_message", ""),
        "payeeNote": payment.extra.get("payee_note", ""),
        "status": status,
    }
    if status == "SUCCESSFUL":
        body["financialTransactionId"] = str(payment.id)
    if status == "FAILED":
        body["reason"] = payment.extra.get("reason", "APPROVAL_REJECTED")
    return body


def _callback(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
    if payment.status == "pending":
        return None
    return json.dumps(status_body(payment)).encode(), {}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _subscribed(request: web.Request) -> bool:
    return bool(request.headers.get("Ocp-Apim-Subscription-Key") == request.app[_CONFIG]["subscription_key"])


def _bearer_ok(request: web.Request) -> bool:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return _subscribed(request) and bool(token in request.app[_CONFIG]["tokens"])


async def token(request: web.Request) -> web.Response:
    """``POST /collection/token/``."""
    config = request.app[_CONFIG]
    auth = request.headers.get("Authorization", "")
    expected = "Basic " + base64.b64encode(f"{config['api_user']}:{config['api_key']}".encode()).decode()
    if not _subscribed(request) or auth != expected:
        return _error(401, "UNAUTHORIZED", "Access denied")
    issued = secrets.token_urlsafe(24)
    config["tokens"].add(issued)
    return web.json_response({"access_token": issued, "token_type": "access_token", "expires_in": 3600})


def _uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4 and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


async def request_to_pay(request: web.Request) -> web.Response:
    """``POST /collection/v1_0/requesttopay``."""
    if not _bearer_ok(request):
        return _error(401, "UNAUTHORIZED", "Access denied")
    reference = request.headers.get("X-Reference-Id", "")
    if not _uuid4(reference):
        return _error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID v4")
    sandbox = request.app[SANDBOX]
    if reference in sandbox.payments:
        return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "INVALID_BODY", "not JSON")
    payer = body.get("payer") if isinstance(body, dict) else None
    amount = decimal_or_none(body.get("amount")) if isinstance(body, dict) else None
    if (
        not isinstance(payer, dict)
        or amount is None
        or amount <= 0
        or not isinstance(body.get("currency"), str)
    ):
        return _error(400, "INVALID_BODY", "amount, currency and payer are required")
    party = str(payer.get("partyId", ""))
    auto = sandbox.auto_pay
    if party.endswith("1111"):
        sandbox.auto_pay = None
    try:
        payment = sandbox.add(
            reference,
            amount,
            str(body["currency"]),
            payer=party,
            external_id=str(body.get("externalId", "")),
            payer_message=str(body.get("payerMessage", "")),
            payee_note=str(body.get("payeeNote", "")),
            callback_url=request.headers.get("X-Callback-Url"),
        )
    finally:
        sandbox.auto_pay = auto
    if party.endswith("0000"):
        sandbox.pay(payment, "failed")
    return web.Response(status=202)


async def request_to_pay_status(request: web.Request) -> web.Response:
    """``GET /collection/v1_0/requesttopay/{referenceId}``."""
    if not _bearer_ok(request):
        return _error(401, "UNAUTHORIZED", "Access denied")
    payment = request.app[SANDBOX].payments.get(request.match_info["reference"])
    if payment is None:
        return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    return web.json_response(status_body(payment))


def create_momo_sandbox(
    *,
    subscription_key: str = SUBSCRIPTION_KEY,
    api_user: str = API_USER,
    api_key: str = API_KEY,
    **knobs: Any,
) -> web.Application:
    """Build the sandbox app; knobs as in ``payments.sandbox.gateway``."""
    sandbox = GatewaySandbox(_callback, **knobs)
    app = create_app(sandbox)
    app[_CONFIG] = {
        "subscription_key": subscription_key,
        "api_user": api_user,
        "api_key": api_key,
        "tokens": set(),
    }
    app.router.add_post("/collection/token/", token)
    app.router.add_post("/collection/v1_0/requesttopay", request_to_pay)
    app.router.add_get("/collection/v1_0/requesttopay/{reference}", request_to_pay_status)
    return app


async def start_momo_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_momo_sandbox(**options), host, port)
