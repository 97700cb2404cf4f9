"""A VTpass look-alike (aiohttp) for tests and demos, generalised to every country we serve.

Endpoints (as VTpass): ``POST /api/pay``, ``POST /api/requery``, ``GET /api/service-variations``.
POSTs need headers ``api-key`` + ``secret-key``, GETs ``api-key`` + ``public-key``; otherwise
code ``087 INVALID CREDENTIALS``. Every coded reply is HTTP 200, as with VTpass.

Catalog: airtime ``serviceID`` is a network's ``service_id`` in ``domain/data/countries.json``,
data is ``<service_id>-data`` with ``variation_code`` = a bundle ``code`` (price is fixed: any
``amount`` sent for data is ignored). Amounts are major units of the network's currency, as
JSON numbers or strings; airtime outside the network's min/max gets ``013``/``017``.

``phone`` (``billersCode`` for data) is digits only: either international without ``+``
(``2348031234567``: starts with the country's dialing code) or local (``08031234567``, the
national number with or without the trunk ``0``). The national number must be 7-12 digits.

``request_id``: at least 12 characters, alphanumeric, first 12 digits a real ``YYYYMMDDHHII``
date (Africa/Lagos); otherwise ``011``. Reuse of a stored one gives ``014``.

Magic numbers (last 4 digits of the recipient's number):

======  ====================================================================================
0000    definite failure: ``016 TRANSACTION FAILED``, stored as ``reversed``
2222    ``099`` pending for ``pending_requeries`` requeries (or ``pending_seconds``), then delivered
4444    ``099`` pending likewise, then ``reversed`` (requery answers ``000`` + inner ``reversed``)
3333    processed and delivered, but the reply is held ``timeout_delay`` seconds (caller times out)
5555    processed and delivered, but the reply is HTTP 500 with an HTML body
7777    never received: nothing stored, the connection is dropped after ``timeout_delay`` seconds
other   delivered immediately
======  ====================================================================================

Knobs (constructor arguments, or ``POST /sandbox/control`` with a JSON object of the same names):
``pending_requeries`` (2), ``pending_seconds`` (None), ``timeout_delay`` (30 s), ``force``
(None, or an outcome name from :data:`OUTCOMES` applied to every pay call), ``wallet_balance``
(None = unlimited; major units, debited per accepted transaction, ``018`` when short).
``GET /sandbox/transactions`` lists what was recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo

from aiohttp import web

from domain.countries import Bundle, Country, Network, all_countries
from domain.money import MoneyError, to_minor
from sandbox.serving import refuse_unknown_knobs, serve

LAGOS = ZoneInfo("Africa/Lagos")

#: Outcome names, usable as ``force`` and returned by the magic-number lookup.
OUTCOMES: tuple[str, ...] = (
    "delivered",
    "failed",
    "pending",
    "pending_reversed",
    "timeout",
    "server_error",
    "lost",
    "unreachable",
)

#: Last four digits of the recipient → outcome.
MAGIC_NUMBERS: dict[str, str] = {
    "0000": "failed",
    "2222": "pending",
    "4444": "pending_reversed",
    "3333": "timeout",
    "5555": "server_error",
    "7777": "lost",
}

_REQUEST_ID = re.compile(r"([0-9]{12})[A-Za-z0-9]*")
_DIGITS = re.compile(r"[0-9]+")


@dataclass(slots=True)
class Product:
    """What a ``serviceID`` (and optional ``variation_code``) resolves to."""

    country: Country
    network: Network
    service_id: str
    is_data: bool


@dataclass(slots=True)
class SandboxTransaction:
    """One transaction the sandbox accepted, keyed by its ``request_id``."""

    request_id: str
    transaction_id: str
    service_id: str
    product_name: str
    kind: str
    phone: str
    amount: Decimal
    currency: str
    variation_code: str | None
    outcome: str
    status: str
    created_at: datetime
    created_monotonic: float
    requeries: int = 0

    def as_json(self) -> dict[str, Any]:
        """This transaction as the listing endpoint shows it."""
        return {
            "request_id": self.request_id,
            "transactionId": self.transaction_id,
            "serviceID": self.service_id,
            "variation_code": self.variation_code,
            "phone": self.phone,
            "amount": f"{self.amount:f}",
            "currency": self.currency,
            "outcome": self.outcome,
            "status": self.status,
            "requeries": self.requeries,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(slots=True)
class SandboxState:
    """The sandbox's keys, knobs and memory."""

    api_key: str
    public_key: str
    secret_key: str
    pending_requeries: int = 2
    pending_seconds: float | None = None
    timeout_delay: float = 30.0
    force: str | None = None
    wallet_balance: Decimal | None = None
    transactions: dict[str, SandboxTransaction] = field(default_factory=dict)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def knobs(self) -> dict[str, Any]:
        """Current knob values as JSON."""
        return {
            "pending_requeries": self.pending_requeries,
            "pending_seconds": self.pending_seconds,
            "timeout_delay": self.timeout_delay,
            "force": self.force,
            "wallet_balance": None if self.wallet_balance is None else f"{self.wallet_balance:f}",
        }

    def set_knobs(self, raw: dict[str, Any]) -> None:
        """Apply knob values from JSON or keyword arguments; raise ``ValueError`` if invalid."""
        refuse_unknown_knobs(raw, self.knobs())
        if "pending_requeries" in raw:
            value = int(raw["pending_requeries"])
            if value < 0:
                raise ValueError("pending_requeries must be >= 0")
            self.pending_requeries = value
        if "pending_seconds" in raw:
            seconds = raw["pending_seconds"]
            self.pending_seconds = None if seconds is None else float(seconds)
        if "timeout_delay" in raw:
            self.timeout_delay = float(raw["timeout_delay"])
        if "force" in raw:
            force = raw["force"]
            if force is not None and force not in OUTCOMES:
                raise ValueError(f"force must be one of {OUTCOMES} or null")
            self.force = force
        if "wallet_balance" in raw:
            balance = raw["wallet_balance"]
            try:
                self.wallet_balance = None if balance is None else Decimal(str(balance))
            except InvalidOperation:
                raise ValueError("wallet_balance must be an amount or null") from None

    def next_transaction_id(self) -> str:
        """A VTpass-looking numeric transaction ID."""
        return f"{int(time.time() * 1000)}{next(self._ids):06d}"

    def settle(self, txn: SandboxTransaction) -> None:
        """Move a pending transaction to its final status once it has waited long enough."""
        if txn.status != "pending":
            return
        waited = time.monotonic() - txn.created_monotonic
        by_count = txn.requeries > self.pending_requeries
        by_time = self.pending_seconds is not None and waited >= self.pending_seconds
        if not (by_count or by_time):
            return
        if txn.outcome == "pending_reversed":
            txn.status = "reversed"
            if self.wallet_balance is not None:
                self.wallet_balance += txn.amount
        else:
            txn.status = "delivered"


STATE: web.AppKey[SandboxState] = web.AppKey("vtpass_sandbox_state", SandboxState)


def _reply(code: str, description: str, **extra: Any) -> web.Response:
    return web.json_response({"code": code, "response_description": description, **extra})


def _invalid(reason: str) -> web.Response:
    return _reply("011", "INVALID ARGUMENTS", content={"errors": reason})


def _valid_request_id(request_id: object) -> TypeGuard[str]:
    if not isinstance(request_id, str):
        return False
    match = _REQUEST_ID.fullmatch(request_id)
    if match is None:
        return False
    try:
        datetime.strptime(match.group(1), "%Y%m%d%H%M")
    except ValueError:
        return False
    return True


def find_product(service_id: str) -> Product | None:
    """Resolve ``mtn`` / ``mtn-data`` style service IDs against the country catalog."""
    for country in all_countries().values():
        for network in country.networks:
            if service_id == network.service_id:
                return Product(country, network, service_id, is_data=False)
            if service_id == f"{network.service_id}-data":
                return Product(country, network, service_id, is_data=True)
    return None


def national_number(phone: object, country: Country) -> str | None:
    """Return the national number of ``phone`` (international w/o ``+`` or local), or None."""
    if not isinstance(phone, str) or _DIGITS.fullmatch(phone) is None:
        return None
    national = phone
    if phone.startswith(country.dialing_code) and len(phone) - len(country.dialing_code) >= 7:
        national = phone[len(country.dialing_code) :]
    elif phone.startswith("0"):
        national = phone[1:]
    if not 7 <= len(national) <= 12:
        return None
    return national


def _parse_amount(raw: object, currency: str) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        return None
    try:
        value = Decimal(str(raw))
        to_minor(value, currency)
    except (InvalidOperation, MoneyError):
        return None
    return value if value > 0 else None


def _transaction_body(txn: SandboxTransaction, code: str, description: str) -> dict[str, Any]:
    commission = (txn.amount * Decimal("0.03")).quantize(Decimal("0.01"))
    return {
        "code": code,
        "response_description": description,
        "requestId": txn.request_id,
        "transactionId": txn.transaction_id,
        "amount": f"{txn.amount:f}",
        "transaction_date": txn.created_at.isoformat(),
        "purchased_code": "",
        "content": {
            "transactions": {
                "status": txn.status,
                "product_name": txn.product_name,
                "unique_element": txn.phone,
                "unit_price": f"{txn.amount:f}",
                "quantity": 1,
                "commission": f"{commission:f}",
                "total_amount": f"{txn.amount - commission:f}",
                "type": txn.kind,
                "channel": "api",
                "platform": "api",
                "method": "api",
                "currency": txn.currency,
                "transactionId": txn.transaction_id,
            }
        },
    }


def _transaction_reply(txn: SandboxTransaction) -> web.Response:
    if txn.status == "pending":
        return web.json_response(_transaction_body(txn, "099", "TRANSACTION PROCESSING"))
    if txn.status == "reversed" and txn.outcome == "failed" and txn.requeries == 0:
        return web.json_response(_transaction_body(txn, "016", "TRANSACTION FAILED"))
    # As with VTpass, "000" only means "processed": the inner status says what happened.
    return web.json_response(_transaction_body(txn, "000", "TRANSACTION SUCCESSFUL"))


async def _wait(state: SandboxState, seconds: float) -> None:
    """Sleep ``seconds``, cut short when the sandbox shuts down."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.closing.wait(), timeout=seconds)


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _post_authorised(request: web.Request, state: SandboxState) -> bool:
    return (
        request.headers.get("api-key") == state.api_key
        and request.headers.get("secret-key") == state.secret_key
    )


async def pay(request: web.Request) -> web.StreamResponse:
    """``POST /api/pay``: buy airtime or a data bundle."""
    state = request.app[STATE]
    if not _post_authorised(request, state):
        return _reply("087", "INVALID CREDENTIALS")
    body = await _json_body(request)
    if body is None:
        return _invalid("body must be a JSON object")
    request_id = body.get("request_id")
    if not _valid_request_id(request_id):
        return _invalid("request_id must be 12 digits YYYYMMDDHHII (Lagos) + alphanumerics")
    if request_id in state.transactions:
        return _reply("014", "REQUEST ID ALREADY EXIST")
    service_id = body.get("serviceID")
    product = find_product(service_id) if isinstance(service_id, str) else None
    if product is None:
        return _reply("012", "PRODUCT DOES NOT EXIST")
    currency = product.country.currency
    bundle: Bundle | None = None
    if product.is_data:
        bundle = product.network.bundle(str(body.get("variation_code", "")))
        if bundle is None:
            return _reply("012", "PRODUCT DOES NOT EXIST", content={"errors": "variation_code"})
        recipient = body.get("billersCode", body.get("phone"))
        if "amount" in body and _parse_amount(body["amount"], currency) is None:
            return _invalid("amount")
        amount = bundle.price.major
        product_name = f"{product.network.name} Data - {bundle.name}"
        kind = "Data Services"
    else:
        recipient = body.get("phone")
        parsed = _parse_amount(body.get("amount"), currency)
        if parsed is None:
            return _invalid(f"amount must be a positive {currency} amount")
        if parsed < product.network.airtime_min.major:
            return _reply("013", "BELOW MINIMUM AMOUNT ALLOWED")
        if parsed > product.network.airtime_max.major:
            return _reply("017", "ABOVE MAXIMUM AMOUNT ALLOWED")
        amount = parsed
        product_name = f"{product.network.name} Airtime VTU"
        kind = "Airtime Recharge"
    national = national_number(recipient, product.country)
    if national is None:
        return _invalid("phone must be digits: international without + or local")
    if state.wallet_balance is not None and amount > state.wallet_balance:
        return _reply("018", "LOW WALLET BALANCE")
    outcome = state.force or MAGIC_NUMBERS.get(national[-4:], "delivered")
    if outcome == "unreachable":
        return _reply("030", "BILLER NOT REACHABLE AT THIS POINT")
    if outcome == "lost":
        # Never received: store nothing, hold the line, then hang up without a reply.
        await _wait(state, state.timeout_delay)
        if request.transport is not None:
            request.transport.abort()
        raise web.HTTPServiceUnavailable()
    status = {"failed": "reversed", "pending": "pending", "pending_reversed": "pending"}.get(
        outcome, "delivered"
    )
    txn = SandboxTransaction(
        request_id=request_id,
        transaction_id=state.next_transaction_id(),
        service_id=product.service_id,
        product_name=product_name,
        kind=kind,
        phone=str(recipient),
        amount=amount,
        currency=currency,
        variation_code=bundle.code if bundle is not None else None,
        outcome=outcome,
        status=status,
        created_at=datetime.now(LAGOS),
        created_monotonic=time.monotonic(),
    )
    if state.wallet_balance is not None and status != "reversed":
        state.wallet_balance -= amount
    state.transactions[request_id] = txn
    if outcome == "server_error":
        return web.Response(
            status=500,
            text="<html><body><h1>500 Internal Server Error</h1></body></html>",
            content_type="text/html",
        )
    if outcome == "timeout":
        await _wait(state, state.timeout_delay)
    return _transaction_reply(txn)


async def requery(request: web.Request) -> web.Response:
    """``POST /api/requery``: what became of ``request_id``."""
    state = request.app[STATE]
    if not _post_authorised(request, state):
        return _reply("087", "INVALID CREDENTIALS")
    body = await _json_body(request)
    request_id = body.get("request_id") if body is not None else None
    txn = state.transactions.get(request_id) if isinstance(request_id, str) else None
    if txn is None:
        return _reply("015", "INVALID REQUEST ID")
    txn.requeries += 1
    state.settle(txn)
    return _transaction_reply(txn)


async def service_variations(request: web.Request) -> web.Response:
    """``GET /api/service-variations?serviceID=…``: the bundles a data service sells."""
    state = request.app[STATE]
    if (
        request.headers.get("api-key") != state.api_key
        or request.headers.get("public-key") != state.public_key
    ):
        return _reply("087", "INVALID CREDENTIALS")
    service_id = request.query.get("serviceID", "")
    product = find_product(service_id)
    if product is None:
        return web.json_response(
            {"response_description": "012", "content": {"errors": "PRODUCT DOES NOT EXIST"}}
        )
    is_data = product.is_data
    bundles = product.network.bundles if is_data else ()
    return web.json_response(
        {
            "response_description": "000",
            "content": {
                "ServiceName": f"{product.network.name} {'Data' if is_data else 'Airtime VTU'}",
                "serviceID": service_id,
                "convinience_fee": "0 %",
                "currency": product.country.currency,
                "variations": [
                    {
                        "variation_code": b.code,
                        "name": b.name,
                        "variation_amount": f"{b.price.major:f}",
                        "fixedPrice": "Yes",
                    }
                    for b in bundles
                ],
            },
        }
    )


async def control(request: web.Request) -> web.Response:
    """``POST /sandbox/control``: change knobs; answers the knobs now in force."""
    state = request.app[STATE]
    body = await _json_body(request)
    if body is None:
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    try:
        state.set_knobs(body)
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.knobs())


async def transactions(request: web.Request) -> web.Response:
    """``GET /sandbox/transactions``: everything the sandbox recorded, oldest first."""
    state = request.app[STATE]
    return web.json_response(
        {"transactions": [t.as_json() for t in state.transactions.values()], **state.knobs()}
    )


async def _on_shutdown(app: web.Application) -> None:
    app[STATE].closing.set()


def create_vtpass_sandbox(
    *,
    api_key: str = "sandbox-api-key",
    public_key: str = "PK_sandbox",
    secret_key: str = "SK_sandbox",
    pending_requeries: int = 2,
    pending_seconds: float | None = None,
    timeout_delay: float = 30.0,
    force: str | None = None,
    wallet_balance: Decimal | str | int | None = None,
) -> web.Application:
    """Build the sandbox app; keys default to ``nexustop.settings``' sandbox defaults."""
    state = SandboxState(api_key=api_key, public_key=public_key, secret_key=secret_key)
    state.set_knobs(
        {
            "pending_requeries": pending_requeries,
            "pending_seconds": pending_seconds,
            "timeout_delay": timeout_delay,
            "force": force,
            "wallet_balance": wallet_balance,
        }
    )
    app = web.Application()
    app[STATE] = state
    app.router.add_post("/api/pay", pay)
    app.router.add_post("/api/requery", requery)
    app.router.add_get("/api/service-variations", service_variations)
    app.router.add_post("/sandbox/control", control)
    app.router.add_get("/sandbox/transactions", transactions)
    app.on_shutdown.append(_on_shutdown)
    return app


async def start_vtpass_sandbox(
    host: str = "127.0.0.1", port: int = 0, **knobs: Any
) -> tuple[web.AppRunner, str]:
    """Serve a sandbox on ``host:port`` (0 = any free port); return its runner and base URL."""
    return await serve(create_vtpass_sandbox(**knobs), host, port)
