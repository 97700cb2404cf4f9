"""An MTN MoMo look-alike (aiohttp) for tests and demos: collection and disbursement, with callbacks.

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
request's ``X-Callback-Url``; knobs (late, twice, never) are in ``sandbox.gateway``.

Disbursement has credentials of its own (subscription key, API user and key; a collection token
is refused): ``POST /disbursement/token/``;
``GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo`` → ``{given_name,
family_name, locale}`` (404 for a number ending ``0000``); ``POST /disbursement/v1_0/transfer``
(``X-Reference-Id`` a UUID v4, reuse 409, body ``{amount, currency, externalId, payee{partyIdType,
partyId}, payerMessage, payeeNote}``) → 202; ``GET /disbursement/v1_0/transfer/{referenceId}`` →
``{amount, currency, financialTransactionId, externalId, payee, status: PENDING|SUCCESSFUL|FAILED,
reason?}`` (404 unknown). MoMo has no reversal state: a ``3333`` transfer turns ``FAILED`` later.
Each outcome is called back like collections. Magic payee numbers and transfer knobs:
``sandbox.transfers``.
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
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
from sandbox.transfers import TRANSFERS, SandboxTransfer, account_name, add_transfers, magic

SUBSCRIPTION_KEY = "sandbox-subscription-key"
API_USER = "0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b"
API_KEY = "sandbox-api-key"
DISBURSEMENT_SUBSCRIPTION_KEY = "sandbox-disbursement-key"
DISBURSEMENT_API_USER = "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d"
DISBURSEMENT_API_KEY = "sandbox-disbursement-api-key"
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


def transfer_body(transfer: SandboxTransfer) -> dict[str, Any]:
    """The disbursement transfer status object for a transfer."""
    status = {"success": "SUCCESSFUL", "failed": "FAILED", "reversed": "FAILED"}.get(
        transfer.status, "PENDING"
    )
    body: dict[str, Any] = {
        "amount": f"{transfer.amount:f}",
        "currency": transfer.currency,
        "externalId": transfer.extra.get("external_id", transfer.reference),
        "payee": {"partyIdType": "MSISDN", "partyId": transfer.account_number},
        "payerMessage": transfer.extra.get("payer_message", ""),
        "payeeNote": transfer.extra.get("payee_note", ""),
        "status": status,
    }
    if transfer.status in ("success", "reversed"):
        body["financialTransactionId"] = str(transfer.id)
    if status == "FAILED":
        body["reason"] = (
            "PAYEE_NOT_FOUND" if magic(transfer.account_number) == "0000" else "INTERNAL_PROCESSING_ERROR"
        )
    return body


def _callback(payment: SandboxPayment) -> tuple[bytes, dict[str, str]] | None:
    if payment.status == "pending":
        return None
    return json.dumps(status_body(payment)).encode(), {}


def _transfer_callback(transfer: SandboxTransfer) -> tuple[bytes, dict[str, str]] | None:
    if transfer.status == "pending":
        return None
    return json.dumps(transfer_body(transfer)).encode(), {}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message}, status=status)


def _subscribed(request: web.Request, product: str) -> bool:
    key = request.app[_CONFIG][product]["subscription_key"]
    return bool(request.headers.get("Ocp-Apim-Subscription-Key") == key)


def _bearer_ok(request: web.Request, product: str = "collection") -> bool:
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return _subscribed(request, product) and bool(token in request.app[_CONFIG][product]["tokens"])


def _token(product: str) -> Any:
    async def issue(request: web.Request) -> web.Response:
        config = request.app[_CONFIG][product]
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{config['api_user']}:{config['api_key']}".encode()).decode()
        if not _subscribed(request, product) or auth != expected:
            return _error(401, "UNAUTHORIZED", "Access denied")
        issued = secrets.token_urlsafe(24)
        config["tokens"].add(issued)
        return web.json_response({"access_token": issued, "token_type": "access_token", "expires_in": 3600})

    return issue


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


async def basic_user_info(request: web.Request) -> web.Response:
    """``GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo``."""
    if not _bearer_ok(request, "disbursement"):
        return _error(401, "UNAUTHORIZED", "Access denied")
    name = account_name(request.match_info["msisdn"])
    if name is None:
        return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    given, _, family = name.partition(" ")
    return web.json_response({"given_name": given, "family_name": family, "locale": "en"})


async def transfer(request: web.Request) -> web.Response:
    """``POST /disbursement/v1_0/transfer``."""
    if not _bearer_ok(request, "disbursement"):
        return _error(401, "UNAUTHORIZED", "Access denied")
    reference = request.headers.get("X-Reference-Id", "")
    if not _uuid4(reference):
        return _error(400, "INVALID_REFERENCE_ID", "X-Reference-Id must be a UUID v4")
    book = request.app[TRANSFERS]
    if reference in book.transfers:
        return _error(409, "RESOURCE_ALREADY_EXIST", "Duplicated reference id")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "INVALID_BODY", "not JSON")
    payee = body.get("payee") if isinstance(body, dict) else None
    amount = decimal_or_none(body.get("amount")) if isinstance(body, dict) else None
    party = str(payee.get("partyId", "")) if isinstance(payee, dict) else ""
    if not party.isdigit() or amount is None or amount <= 0 or not isinstance(body.get("currency"), str):
        return _error(400, "INVALID_BODY", "amount, currency and payee are required")
    created, _ = book.create(
        reference,
        amount,
        str(body["currency"]),
        party,
        None,
        external_id=str(body.get("externalId", "")),
        payer_message=str(body.get("payerMessage", "")),
        payee_note=str(body.get("payeeNote", "")),
        callback_url=request.headers.get("X-Callback-Url"),
    )
    if book.hangs(created):
        await book.hang()
    return web.Response(status=202)


async def transfer_status(request: web.Request) -> web.Response:
    """``GET /disbursement/v1_0/transfer/{referenceId}``."""
    if not _bearer_ok(request, "disbursement"):
        return _error(401, "UNAUTHORIZED", "Access denied")
    found = request.app[TRANSFERS].query(request.match_info["reference"])
    if found is None:
        return _error(404, "RESOURCE_NOT_FOUND", "Requested resource was not found.")
    return web.json_response(transfer_body(found))


def _product(subscription_key: str, api_user: str, api_key: str) -> dict[str, Any]:
    return {"subscription_key": subscription_key, "api_user": api_user, "api_key": api_key, "tokens": set()}


def create_momo_sandbox(
    *,
    subscription_key: str = SUBSCRIPTION_KEY,
    api_user: str = API_USER,
    api_key: str = API_KEY,
    disbursement_subscription_key: str = DISBURSEMENT_SUBSCRIPTION_KEY,
    disbursement_api_user: str = DISBURSEMENT_API_USER,
    disbursement_api_key: str = DISBURSEMENT_API_KEY,
    transfers: dict[str, Any] | None = None,
    **knobs: Any,
) -> web.Application:
    """Build the sandbox app; knobs: ``sandbox.gateway``, ``transfers`` knobs: ``…transfers``."""
    sandbox = GatewaySandbox(_callback, **knobs)
    app = create_app(sandbox)
    app[_CONFIG] = {
        "collection": _product(subscription_key, api_user, api_key),
        "disbursement": _product(disbursement_subscription_key, disbursement_api_user, disbursement_api_key),
    }
    add_transfers(app, _transfer_callback, **(transfers or {}))
    app.router.add_post("/collection/token/", _token("collection"))
    app.router.add_post("/collection/v1_0/requesttopay", request_to_pay)
    app.router.add_get("/collection/v1_0/requesttopay/{reference}", request_to_pay_status)
    app.router.add_post("/disbursement/token/", _token("disbursement"))
    app.router.add_get("/disbursement/v1_0/accountholder/msisdn/{msisdn}/basicuserinfo", basic_user_info)
    app.router.add_post("/disbursement/v1_0/transfer", transfer)
    app.router.add_get("/disbursement/v1_0/transfer/{reference}", transfer_status)
    return app


async def start_momo_sandbox(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_momo_sandbox(**options), host, port)
