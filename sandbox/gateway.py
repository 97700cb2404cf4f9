"""What the payment-gateway sandboxes share: payments in memory, a checkout page, webhook delivery.

Every gateway sandbox keeps its payments here and delivers its webhooks through
:class:`Deliveries`, which honours the knobs (``POST /sandbox/control`` with a JSON object):

=================  ================================================================================
``webhook_url``    where webhooks go (None: nowhere — the poller must find the payment)
``copies``         how many times each webhook is delivered (0 = never, 2 = twice…); default 1
``delay``          seconds before the first delivery (a late webhook); default 0
``auto_pay``       None, or seconds after a payment starts when the sandbox pays it itself (demo)
``auto_outcome``   what ``auto_pay`` does: ``success`` (default) or ``failed``
=================  ================================================================================

Common routes: ``GET /checkout/{reference}`` (a page with Pay/Decline buttons),
``POST /checkout/{reference}?outcome=success|failed``, ``POST /sandbox/pay/{reference}``
(JSON ``{"outcome", "amount", "currency"}``: pay, optionally a different amount or currency),
``POST /sandbox/redeliver/{reference}`` (send the payment's webhook again, e.g. late),
``GET /sandbox/payments`` and ``POST /sandbox/control``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import aiohttp
from aiohttp import web

from sandbox.serving import refuse_unknown_knobs

log = logging.getLogger(__name__)

#: Builds a payment's webhook: (raw body, headers), or None when this gateway sends none for it.
WebhookBuilder = Callable[["SandboxPayment"], tuple[bytes, dict[str, str]] | None]


@dataclass(slots=True)
class SandboxPayment:
    """One payment the sandbox knows, in major units as most gateways speak."""

    id: int
    reference: str
    amount: Decimal
    currency: str
    status: str = "pending"
    """pending → success | failed."""
    paid_amount: Decimal | None = None
    paid_currency: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For ``GET /sandbox/payments``."""
        return {
            "id": self.id,
            "reference": self.reference,
            "amount": f"{self.amount:f}",
            "currency": self.currency,
            "status": self.status,
            "paid_amount": None if self.paid_amount is None else f"{self.paid_amount:f}",
            "paid_currency": self.paid_currency,
        }


_KNOBS = ("webhook_url", "copies", "delay", "auto_pay", "auto_outcome")


class GatewaySandbox:
    """One gateway sandbox's memory, knobs and background deliveries."""

    def __init__(self, webhook: WebhookBuilder, **knobs: Any) -> None:
        self.payments: dict[str, SandboxPayment] = {}
        self.webhook = webhook
        self.webhook_url: str | None = None
        self.copies = 1
        self.delay = 0.0
        self.auto_pay: float | None = None
        self.auto_outcome = "success"
        self.delivered: list[dict[str, Any]] = []
        self._ids = itertools.count(1_000_001)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: aiohttp.ClientSession | None = None
        self.set_knobs(knobs)

    def knobs(self) -> dict[str, Any]:
        """Knob values now in force."""
        return {name: getattr(self, name) for name in _KNOBS}

    def set_knobs(self, raw: dict[str, Any]) -> None:
        """Apply knobs from JSON or keyword arguments; ``ValueError`` on unknown or bad values."""
        refuse_unknown_knobs(raw, _KNOBS)
        if "webhook_url" in raw:
            self.webhook_url = None if raw["webhook_url"] is None else str(raw["webhook_url"])
        if "copies" in raw:
            self.copies = max(int(raw["copies"]), 0)
        if "delay" in raw:
            self.delay = max(float(raw["delay"]), 0.0)
        if "auto_pay" in raw:
            self.auto_pay = None if raw["auto_pay"] is None else max(float(raw["auto_pay"]), 0.0)
        if "auto_outcome" in raw:
            if raw["auto_outcome"] not in ("success", "failed"):
                raise ValueError("auto_outcome is success or failed")
            self.auto_outcome = str(raw["auto_outcome"])

    def add(self, reference: str, amount: Decimal, currency: str, **extra: Any) -> SandboxPayment:
        """Record a new pending payment (and schedule its automatic payment, if that knob is set)."""
        payment = SandboxPayment(next(self._ids), reference, amount, currency, extra=dict(extra))
        self.payments[reference] = payment
        if self.auto_pay is not None:
            self._spawn(self._pay_later(payment, self.auto_pay, self.auto_outcome))
        return payment

    def pay(
        self,
        payment: SandboxPayment,
        outcome: str = "success",
        amount: Decimal | None = None,
        currency: str | None = None,
    ) -> None:
        """Settle a pending payment (optionally for another amount or currency) and send its webhook."""
        if payment.status != "pending":
            return
        payment.status = "success" if outcome == "success" else "failed"
        payment.paid_amount = payment.amount if amount is None else amount
        payment.paid_currency = currency or payment.currency
        self.send_webhook(payment)

    def send_webhook(self, payment: SandboxPayment, *, delay: float | None = None) -> None:
        """Deliver the payment's webhook ``copies`` times after ``delay`` (knob values by default).

        It goes to the ``webhook_url`` knob, else to the callback URL the payment was started with.
        """
        built = self.webhook(payment)
        url = self.webhook_url or payment.extra.get("callback_url")
        if self.webhook_url and payment.extra.get("webhook_query"):
            url = f"{self.webhook_url}?{payment.extra['webhook_query']}"
        if built is not None:
            self.post(built, url, delay=delay)

    def post(self, built: tuple[bytes, dict[str, str]], url: object, *, delay: float | None = None) -> None:
        """Deliver a webhook (body, headers) to ``url``, ``copies`` times after ``delay`` (knob defaults)."""
        if not url or self.copies == 0:
            return
        body, headers = built
        wait = self.delay if delay is None else delay
        self._spawn(self._deliver(str(url), body, headers, self.copies, wait))

    async def _pay_later(self, payment: SandboxPayment, seconds: float, outcome: str) -> None:
        await asyncio.sleep(seconds)
        self.pay(payment, outcome)

    async def _deliver(
        self, url: str, body: bytes, headers: dict[str, str], copies: int, delay: float
    ) -> None:
        if delay:
            await asyncio.sleep(delay)
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        for _ in range(copies):
            try:
                async with self._http.post(
                    url, data=body, headers={"Content-Type": "application/json", **headers}
                ) as response:
                    self.delivered.append({"url": url, "status": response.status})
            except (aiohttp.ClientError, TimeoutError) as error:
                self.delivered.append({"url": url, "error": type(error).__name__})
                log.info("sandbox webhook to %s not delivered: %s", url, type(error).__name__)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait for scheduled payments and deliveries to finish (tests)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                while self._tasks:
                    await asyncio.gather(*set(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel what is scheduled and close the HTTP session."""
        for task in set(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


SANDBOX = web.AppKey("gateway_sandbox", GatewaySandbox)


def decimal_or_none(value: object) -> Decimal | None:
    """A JSON amount as a Decimal, or None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


async def _checkout_page(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    payment = sandbox.payments.get(request.match_info["reference"])
    if payment is None:
        return web.Response(status=404, text="unknown payment")
    ref = payment.reference
    html = (
        f"<html><body><h1>Sandbox checkout</h1><p>{payment.amount:f} {payment.currency}: {payment.status}</p>"
        f'<form method="post" action="?outcome=success"><button>Pay</button></form>'
        f'<form method="post" action="?outcome=failed"><button>Decline</button></form>'
        f"<p>ref {ref}</p></body></html>"
    )
    return web.Response(text=html, content_type="text/html")


async def _checkout_submit(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    payment = sandbox.payments.get(request.match_info["reference"])
    if payment is None:
        return web.Response(status=404, text="unknown payment")
    sandbox.pay(payment, request.query.get("outcome", "success"))
    return web.Response(text=f"payment {payment.status}", content_type="text/html")


async def _pay(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    payment = sandbox.payments.get(request.match_info["reference"])
    if payment is None:
        return web.json_response({"error": "unknown payment"}, status=404)
    try:
        raw = await request.json() if request.can_read_body else {}
    except ValueError:
        return web.json_response({"error": "body must be JSON"}, status=400)
    raw = raw if isinstance(raw, dict) else {}
    sandbox.pay(
        payment,
        str(raw.get("outcome", "success")),
        decimal_or_none(raw.get("amount")),
        raw.get("currency") if isinstance(raw.get("currency"), str) else None,
    )
    return web.json_response(payment.as_json())


async def _redeliver(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    payment = sandbox.payments.get(request.match_info["reference"])
    if payment is None:
        return web.json_response({"error": "unknown payment"}, status=404)
    sandbox.send_webhook(payment, delay=0.0)
    return web.json_response(payment.as_json())


async def _list(request: web.Request) -> web.Response:
    sandbox = request.app[SANDBOX]
    return web.json_response(
        {
            "payments": [p.as_json() for p in sandbox.payments.values()],
            "delivered": sandbox.delivered,
            **sandbox.knobs(),
        }
    )


class Knobbed(Protocol):
    """A sandbox part whose behaviour is set by JSON knobs."""

    def knobs(self) -> dict[str, Any]: ...
    def set_knobs(self, raw: dict[str, Any]) -> None: ...


async def set_knobs_from(request: web.Request, target: Knobbed) -> web.Response:
    """Apply a control request's JSON knobs to ``target``; 400 with the reason if they are bad."""
    try:
        raw = await request.json()
        if not isinstance(raw, dict):
            raise ValueError("body must be a JSON object")
        target.set_knobs(raw)
    except (ValueError, TypeError) as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response(target.knobs())


async def _control(request: web.Request) -> web.Response:
    return await set_knobs_from(request, request.app[SANDBOX])


async def _on_cleanup(app: web.Application) -> None:
    await app[SANDBOX].close()


def create_app(sandbox: GatewaySandbox) -> web.Application:
    """An app with the common routes; the gateway adds its own API routes to it."""
    app = web.Application()
    app[SANDBOX] = sandbox
    app.router.add_get("/checkout/{reference}", _checkout_page)
    app.router.add_post("/checkout/{reference}", _checkout_submit)
    app.router.add_post("/sandbox/pay/{reference}", _pay)
    app.router.add_post("/sandbox/redeliver/{reference}", _redeliver)
    app.router.add_get("/sandbox/payments", _list)
    app.router.add_post("/sandbox/control", _control)
    app.on_cleanup.append(_on_cleanup)
    return app


def sandbox_of(runner: web.AppRunner) -> GatewaySandbox:
    """The sandbox state behind a runner from a ``start_…_sandbox`` helper."""
    return runner.app[SANDBOX]


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on ``host:port`` (0 = any free port); return its runner and base URL."""
    runner = web.AppRunner(app, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"
