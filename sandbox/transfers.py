"""What the payout sandboxes share: transfers in memory, magic account numbers, settling, webhooks.

Magic numbers are the last four digits of the account number (or wallet number):

========  ========================================================================================
``0000``  no such account: the name lookup finds nothing, and a payout to it fails (Paystack
          refuses its recipient, so no transfer exists)
``1111``  the transfer fails
``2222``  the transfer stays pending for ``pending_queries`` status queries (or ``settle_after``
          seconds, whichever comes first), then succeeds
``3333``  the transfer succeeds, then is reversed after ``pending_queries`` more status queries (or
          ``reverse_after`` seconds). Paystack reports ``reversed``; Flutterwave and MoMo have no
          reversal state, so there it reads ``FAILED`` from then on, with a second webhook
``4444``  the transfer is created and succeeds, but the answer to the request comes only after
          ``hang_seconds`` (past the client's timeout): a status query finds it
other     succeeds at once; the lookup answers a deterministic, plausible account name
========  ========================================================================================

One transfer per reference: a repeated reference never pays twice (each gateway answers the
repeat its own way). Every status change sends the gateway's webhook through the gateway
sandbox's deliveries, so its ``webhook_url``, ``copies`` and ``delay`` knobs (late, twice, never)
apply as for payments. Transfer knobs: ``POST /sandbox/transfers/control`` with any of
``pending_queries``, ``settle_after``, ``reverse_after``, ``hang_seconds``;
``GET /sandbox/transfers`` lists the transfers.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web

from sandbox.gateway import SANDBOX, GatewaySandbox, set_knobs_from
from sandbox.serving import refuse_unknown_knobs

#: Builds a transfer's webhook: (raw body, headers), or None when the gateway sends none for it.
TransferWebhook = Callable[["SandboxTransfer"], tuple[bytes, dict[str, str]] | None]

NO_SUCH_ACCOUNT, FAILS, PENDS, REVERSES, HANGS = "0000", "1111", "2222", "3333", "4444"
_KNOBS = ("pending_queries", "settle_after", "reverse_after", "hang_seconds")
_GIVEN = ("ADAEZE", "KWAME", "AMINATA", "CHINEDU", "ABENA", "MOUSSA", "FOLAKE", "YAW", "FATOU", "EMEKA")
_FAMILY = ("OKAFOR", "MENSAH", "DIALLO", "ADEYEMI", "BOATENG", "NDIAYE", "BALOGUN", "OWUSU", "TRAORE", "EZE")


def magic(account_number: str) -> str:
    """The last four digits of an account or wallet number: what decides a sandbox outcome."""
    return "".join(ch for ch in account_number if ch.isdigit())[-4:]


def account_name(account_number: str) -> str | None:
    """The holder's name the sandbox gives an account (the same every time); None for ``…0000``."""
    if magic(account_number) == NO_SUCH_ACCOUNT:
        return None
    # The last nine digits: the same name for a wallet in E.164, without "+" or in local form.
    digest = hashlib.sha256("".join(ch for ch in account_number if ch.isdigit())[-9:].encode()).digest()
    return f"{_GIVEN[digest[0] % len(_GIVEN)]} {_FAMILY[digest[1] % len(_FAMILY)]}"


@dataclass(slots=True)
class SandboxTransfer:
    """One transfer the sandbox knows, in major units."""

    id: int
    reference: str
    amount: Decimal
    currency: str
    account_number: str
    bank_code: str | None
    account_name: str
    status: str = "pending"
    """pending → success | failed; success → reversed."""
    queries: int = 0
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """For ``GET /sandbox/transfers`` (the account number masked like any log)."""
        return {
            "id": self.id,
            "reference": self.reference,
            "amount": f"{self.amount:f}",
            "currency": self.currency,
            "account": "*" * max(len(self.account_number) - 4, 0) + self.account_number[-4:],
            "bank_code": self.bank_code,
            "status": self.status,
            "queries": self.queries,
        }


class TransferBook:
    """One gateway sandbox's transfers: magic outcomes, timers and webhooks."""

    def __init__(self, sandbox: GatewaySandbox, webhook: TransferWebhook, **knobs: Any) -> None:
        self.sandbox = sandbox
        self.webhook = webhook
        self.transfers: dict[str, SandboxTransfer] = {}
        self.pending_queries = 2
        self.settle_after = 5.0
        self.reverse_after = 10.0
        self.hang_seconds = 20.0
        self._ids = itertools.count(5_000_001)
        self._timers: set[asyncio.TimerHandle] = set()
        self.set_knobs(knobs)

    def knobs(self) -> dict[str, Any]:
        """Knob values now in force."""
        return {name: getattr(self, name) for name in _KNOBS}

    def set_knobs(self, raw: dict[str, Any]) -> None:
        """Apply knobs from JSON or keyword arguments; ``ValueError`` on unknown or bad values."""
        refuse_unknown_knobs(raw, _KNOBS)
        if "pending_queries" in raw:
            self.pending_queries = max(int(raw["pending_queries"]), 0)
        for name in ("settle_after", "reverse_after", "hang_seconds"):
            if name in raw:
                setattr(self, name, max(float(raw[name]), 0.0))

    def create(
        self,
        reference: str,
        amount: Decimal,
        currency: str,
        account_number: str,
        bank_code: str | None,
        **extra: Any,
    ) -> tuple[SandboxTransfer, bool]:
        """The transfer under ``reference`` and whether it is new; an existing one is left alone."""
        existing = self.transfers.get(reference)
        if existing is not None:
            return existing, False
        transfer = SandboxTransfer(
            next(self._ids),
            reference,
            amount,
            currency,
            account_number,
            bank_code,
            account_name(account_number) or "",
            extra=dict(extra),
        )
        self.transfers[reference] = transfer
        outcome = magic(account_number)
        if outcome in (NO_SUCH_ACCOUNT, FAILS):
            self.move(transfer, "failed")
        elif outcome == PENDS:
            self._after(self.settle_after, transfer, "pending", "success")
        else:
            self.move(transfer, "success")
            if outcome == REVERSES:
                self._after(self.reverse_after, transfer, "success", "reversed")
        return transfer, True

    def hangs(self, transfer: SandboxTransfer) -> bool:
        """True when the request that created ``transfer`` should answer only after ``hang_seconds``."""
        return magic(transfer.account_number) == HANGS

    async def hang(self) -> None:
        """Sleep past the client's timeout (the transfer already exists)."""
        await asyncio.sleep(self.hang_seconds)

    def query(self, reference: str) -> SandboxTransfer | None:
        """A status query for ``reference``; it counts toward the ``2222`` and ``3333`` transitions."""
        transfer = self.transfers.get(reference)
        if transfer is None:
            return None
        transfer.queries += 1
        if transfer.queries > self.pending_queries:
            outcome = magic(transfer.account_number)
            if outcome == PENDS and transfer.status == "pending":
                self.move(transfer, "success")
            elif outcome == REVERSES and transfer.status == "success":
                self.move(transfer, "reversed")
        return transfer

    def move(self, transfer: SandboxTransfer, status: str) -> None:
        """Set a transfer's status and send its webhook (to the knob's URL, else its callback URL)."""
        transfer.status = status
        built = self.webhook(transfer)
        if built is not None:
            self.sandbox.post(built, self.sandbox.webhook_url or transfer.extra.get("callback_url"))

    def _after(self, seconds: float, transfer: SandboxTransfer, before: str, after: str) -> None:
        def fire() -> None:
            self._timers.discard(handle)
            if transfer.status == before:
                self.move(transfer, after)

        handle = asyncio.get_running_loop().call_later(seconds, fire)
        self._timers.add(handle)

    def close(self) -> None:
        """Cancel pending timers."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()


TRANSFERS = web.AppKey("transfer_book", TransferBook)


def transfers_of(runner: web.AppRunner) -> TransferBook:
    """The transfer book behind a runner from a ``start_…_sandbox`` helper."""
    return runner.app[TRANSFERS]


async def _list(request: web.Request) -> web.Response:
    book = request.app[TRANSFERS]
    return web.json_response({"transfers": [t.as_json() for t in book.transfers.values()], **book.knobs()})


async def _control(request: web.Request) -> web.Response:
    return await set_knobs_from(request, request.app[TRANSFERS])


async def _on_cleanup(app: web.Application) -> None:
    app[TRANSFERS].close()


def add_transfers(app: web.Application, webhook: TransferWebhook, **knobs: Any) -> TransferBook:
    """Give a gateway sandbox app its transfer book and the ``/sandbox/transfers`` routes."""
    book = TransferBook(app[SANDBOX], webhook, **knobs)
    app[TRANSFERS] = book
    app.router.add_get("/sandbox/transfers", _list)
    app.router.add_post("/sandbox/transfers/control", _control)
    app.on_cleanup.append(_on_cleanup)
    return book
