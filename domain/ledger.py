"""The double-entry ledger, TigerBeetle style: accounts, transfers, pending → posted | voided.

Every movement of money is a transfer under a client-chosen id, which makes it idempotent:
creating the same transfer twice moves money once. Accounts that must not be overdrawn (user
wallets) are checked under a row lock taken in ascending id order, so concurrent transfers can
neither overdraw nor deadlock. Many transfers can be committed in one database transaction
(``create_transfers``), which is where throughput comes from.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any, cast

from sqlalchemy import ColumnElement, ScalarSelect, Table, bindparam, delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.database import DriverStatement, dialect_insert, driver_connection
from domain.models import Account, Transfer, utcnow


class LedgerError(Exception):
    """A transfer the ledger refused."""


class InsufficientFunds(LedgerError):
    """The debit account may not go below zero and cannot afford the amount."""


class TransferConflict(LedgerError):
    """A transfer id was reused with different accounts, amount or phase."""


class TransferState(StrEnum):
    """Where a transfer stands."""

    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class TransferResult(StrEnum):
    """What ``create_transfers`` did with one transfer of a batch."""

    CREATED = "created"
    EXISTS = "exists"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    CONFLICT = "conflict"
    LINKED_EVENT_FAILED = "linked_event_failed"
    """In a linked batch, another transfer failed, so this one was not created either."""


class TransferCode(StrEnum):
    """Why money moved: the closed list of a transfer's ``code`` (TigerBeetle's word)."""

    PROMO = "promo"
    FUNDING = "funding"
    PURCHASE = "purchase"
    REFUND = "refund"
    GIFT_ESCROW = "gift_escrow"
    GIFT_PURCHASE = "gift_purchase"
    GIFT_CHANGE = "gift_change"
    GIFT_REFUND = "gift_refund"
    SEND_P2P = "p2p"
    SEND_CLAIMABLE = "claimable"
    PAYOUT_BANK = "bank"
    PAYOUT_MOBILE_MONEY = "mobile_money"
    CLAIM = "claim"
    PAYOUT_REVERSAL = "payout_reversal"


_CODES = frozenset(TransferCode)


@dataclass(frozen=True, slots=True)
class NewTransfer:
    """A transfer to create: ``amount`` minor units from the debit to the credit account."""

    id: str
    debit_account_id: int
    credit_account_id: int
    amount: int
    currency: str
    code: TransferCode
    pending: bool = False

    def __post_init__(self) -> None:
        if self.code not in _CODES:
            raise LedgerError(f"{self.code!r} is not a TransferCode")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise LedgerError("a transfer moves a positive integer number of minor units")
        if self.debit_account_id == self.credit_account_id:
            raise LedgerError("a transfer needs two different accounts")


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's totals and what is available to spend from it."""

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def posted(self) -> int:
        """Credit balance: credits posted minus debits posted."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """What can still be debited: the posted balance less pending debits."""
        return self.posted - self.debits_pending


async def open_account(
    session: AsyncSession,
    code: str,
    currency: str,
    *,
    user_id: int | None = None,
    no_overdraft: bool = False,
) -> int:
    """Return the id of the account named ``code``, creating it if it does not exist yet."""
    found = await session.scalar(select(Account.id).where(Account.code == code))
    if found is not None:
        return found
    statement = (
        dialect_insert(session)(Account)
        .values(
            code=code,
            currency=currency,
            user_id=user_id,
            debits_must_not_exceed_credits=no_overdraft,
            debits_pending=0,
            debits_posted=0,
            credits_pending=0,
            credits_posted=0,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["code"])
    )
    await session.execute(statement)
    account_id = await session.scalar(select(Account.id).where(Account.code == code))
    if account_id is None:
        raise LedgerError(f"could not open account {code}")
    return account_id


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """An account to open if missing: its code, currency, owner and overdraft rule."""

    code: str
    currency: str
    user_id: int | None = None
    no_overdraft: bool = False


def wallet_spec(user_id: int, currency: str) -> AccountSpec:
    """A user's wallet in one currency (never below zero)."""
    return AccountSpec(wallet_code(user_id, currency), currency, user_id, no_overdraft=True)


def system_spec(name: str, currency: str) -> AccountSpec:
    """A system account such as ``claims`` or ``payouts``."""
    return AccountSpec(system_code(name, currency), currency)


@dataclass(frozen=True, slots=True)
class LockedAccount:
    """An account locked for the rest of the transaction, with what it held when locked."""

    id: int
    available: int
    """Credits posted minus debits posted and pending: what can be debited now."""
    held: int
    """Posted balance plus credits on their way in: what counts against a balance cap."""


_accounts_table = cast(Table, Account.__table__)
#: What an account can be debited now: credits posted less debits posted and pending.
AVAILABLE = (
    _accounts_table.c.credits_posted - _accounts_table.c.debits_posted - _accounts_table.c.debits_pending
)


def available_of(code: ColumnElement[str]) -> ScalarSelect[int]:
    """What the account named ``code`` can be debited now, as a scalar subquery (NULL when none)."""
    return select(AVAILABLE).where(_accounts_table.c.code == code).scalar_subquery()


_LOCK_BY_CODES = (
    select(
        _accounts_table.c.code,
        _accounts_table.c.id,
        AVAILABLE,
        _accounts_table.c.credits_posted
        - _accounts_table.c.debits_posted
        + _accounts_table.c.credits_pending,
    )
    .where(_accounts_table.c.code.in_(bindparam("codes", expanding=True)))
    .order_by(_accounts_table.c.id)
    .with_for_update(key_share=True)
)


@cache
def _open_statement(dialect: str) -> Any:
    """``INSERT … ON CONFLICT (code) DO NOTHING`` for accounts (built once per dialect)."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    return insert(_accounts_table).on_conflict_do_nothing(index_elements=["code"])


async def open_and_lock(session: AsyncSession, specs: Sequence[AccountSpec]) -> dict[str, LockedAccount]:
    """Open the accounts that are missing, then lock them all in id order; by code.

    Two statements whatever the number of accounts. Locks are taken in ascending id order, as
    ``create_transfers`` takes them, so callers that lock up front cannot deadlock with it.
    """
    unique = {spec.code: spec for spec in specs}
    if not unique:
        return {}
    now = utcnow()
    connection = await session.connection()
    await connection.execute(
        _open_statement(connection.dialect.name),
        [
            {
                "code": spec.code,
                "currency": spec.currency,
                "user_id": spec.user_id,
                "debits_must_not_exceed_credits": spec.no_overdraft,
                "debits_pending": 0,
                "debits_posted": 0,
                "credits_pending": 0,
                "credits_posted": 0,
                "created_at": now,
            }
            for spec in sorted(unique.values(), key=lambda s: s.code)
        ],
    )
    rows = (await connection.execute(_LOCK_BY_CODES, {"codes": list(unique)})).all()
    return {code: LockedAccount(account_id, int(avail), int(held)) for code, account_id, avail, held in rows}


def wallet_code(user_id: int, currency: str) -> str:
    """The account code of a user's wallet in one currency."""
    return f"wallet:{user_id}:{currency}"


def system_code(name: str, currency: str) -> str:
    """The account code of a system account such as ``topups`` or ``promo``."""
    return f"system:{name}:{currency}"


#: How many rows a busy system account is spread over (per currency).
SHARDS = 16


def shard(name: str, key: int) -> str:
    """The name of one of the ``SHARDS`` rows of the system account ``name``, picked by ``key``.

    Every order of a currency credits its system account; as a single row, that account's lock
    would queue all concurrent orders behind one another. Spread over rows picked by a stable key
    (the user), they only meet by chance. The shards are ordinary accounts: the currency still
    sums to zero, and a total is the sum of the rows whose code starts with the name.
    """
    return f"{name}.{key % SHARDS}"


async def open_wallet(session: AsyncSession, user_id: int, currency: str) -> int:
    """Return the id of a user's wallet (never below zero), creating it if needed."""
    return await open_account(
        session, wallet_code(user_id, currency), currency, user_id=user_id, no_overdraft=True
    )


async def open_system_account(session: AsyncSession, name: str, currency: str) -> int:
    """Return the id of a system account, creating it if needed."""
    return await open_account(session, system_code(name, currency), currency)


def _same_transfer(row: Transfer, new: NewTransfer) -> bool:
    return (
        row.debit_account_id == new.debit_account_id
        and row.credit_account_id == new.credit_account_id
        and row.amount == new.amount
        and row.currency == new.currency
        and row.two_phase == new.pending
    )


# PostgreSQL fast path: one statement per step whatever the batch size, with the batch passed
# as arrays, run on the driver connection. SQLAlchemy cannot cache a multi-row INSERT built from
# values, and compiling it costs more CPU than the database spends on it (measured by
# bench/ledger.py); even cached, its per-execution work costs about what asyncpg's does.
_CLAIM_PG = text(
    "INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, currency, code,"
    " two_phase, state, created_at, resolved_at)"
    " SELECT t.id, t.d, t.c, t.a, t.cur, t.code, t.tp,"
    " CASE WHEN t.tp THEN 'pending' ELSE 'posted' END, CAST(:now AS timestamptz),"
    " CASE WHEN t.tp THEN NULL ELSE CAST(:now AS timestamptz) END"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:debits AS bigint[]), CAST(:credits AS bigint[]),"
    " CAST(:amounts AS bigint[]), CAST(:currencies AS varchar[]), CAST(:codes AS varchar[]),"
    " CAST(:two_phase AS boolean[])) AS t(id, d, c, a, cur, code, tp)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
_APPLY_PG = text(
    "UPDATE accounts AS a SET debits_pending = a.debits_pending + d.dp,"
    " debits_posted = a.debits_posted + d.dpo, credits_pending = a.credits_pending + d.cp,"
    " credits_posted = a.credits_posted + d.cpo"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:dp AS bigint[]), CAST(:dpo AS bigint[]),"
    " CAST(:cp AS bigint[]), CAST(:cpo AS bigint[])) AS d(id, dp, dpo, cp, cpo)"
    " WHERE a.id = d.id"
)


_CLAIM_ON_DRIVER = DriverStatement(_CLAIM_PG)
_APPLY_ON_DRIVER = DriverStatement(_APPLY_PG)


async def _claim_ids(session: AsyncSession, batch: Sequence[NewTransfer]) -> set[str]:
    """Insert the transfer rows, skipping ids that exist; return the ids this call inserted."""
    now = utcnow()
    driver = await driver_connection(session)
    if driver is not None:
        columns = {
            "ids": [t.id for t in batch],
            "debits": [t.debit_account_id for t in batch],
            "credits": [t.credit_account_id for t in batch],
            "amounts": [t.amount for t in batch],
            "currencies": [t.currency for t in batch],
            "codes": [t.code for t in batch],
            "two_phase": [t.pending for t in batch],
            "now": now,
        }
        return {row[0] for row in await _CLAIM_ON_DRIVER.fetch(driver, columns)}
    rows = [
        {
            "id": t.id,
            "debit_account_id": t.debit_account_id,
            "credit_account_id": t.credit_account_id,
            "amount": t.amount,
            "currency": t.currency,
            "code": t.code,
            "two_phase": t.pending,
            "state": TransferState.PENDING if t.pending else TransferState.POSTED,
            "created_at": now,
            "resolved_at": None if t.pending else now,
        }
        for t in batch
    ]
    table = cast(Table, Transfer.__table__)
    statement = (
        dialect_insert(session)(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    )
    connection = await session.connection()
    return set((await connection.execute(statement, rows)).scalars().all())


@dataclass(slots=True)
class _Snapshot:
    """A locked account's totals as this batch sees them (kept apart from ORM state on purpose)."""

    id: int
    currency: str
    no_overdraft: bool
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending


# NO KEY UPDATE: it does not conflict with the KEY SHARE locks that inserting transfer rows
# (foreign keys to these accounts) takes, which FOR UPDATE would deadlock on.
_LOCK_BY_IDS = (
    select(
        Account.id,
        Account.currency,
        Account.debits_must_not_exceed_credits,
        Account.debits_pending,
        Account.debits_posted,
        Account.credits_pending,
        Account.credits_posted,
    )
    .where(Account.id.in_(bindparam("ids", expanding=True)))
    .order_by(Account.id)
    .with_for_update(key_share=True)
)
_LOCK_ON_DRIVER = DriverStatement(
    text(
        "SELECT id, currency, debits_must_not_exceed_credits, debits_pending, debits_posted,"
        " credits_pending, credits_posted FROM accounts WHERE id = ANY(CAST(:ids AS bigint[]))"
        " ORDER BY id FOR NO KEY UPDATE"
    )
)


async def _lock_accounts(session: AsyncSession, ids: Iterable[int]) -> dict[int, _Snapshot]:
    """Lock the accounts in ascending id order (no deadlocks) and return their current totals."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    driver = await driver_connection(session)
    if driver is not None:
        rows: Sequence[Sequence[Any]] = await _LOCK_ON_DRIVER.fetch(driver, {"ids": wanted})
    else:
        rows = (await (await session.connection()).execute(_LOCK_BY_IDS, {"ids": wanted})).all()
    return {row[0]: _Snapshot(*row) for row in rows}


class _Deltas:
    """Changes to account totals accumulated over a batch, then applied in one statement."""

    _FIELDS = ("debits_pending", "debits_posted", "credits_pending", "credits_posted")

    def __init__(self) -> None:
        self.by_account: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(self._FIELDS, 0))

    def add(self, account_id: int, field: str, amount: int) -> None:
        self.by_account[account_id][field] += amount

    async def apply(self, session: AsyncSession) -> None:
        """Add the deltas to the accounts; the caller must hold their locks (``_lock_accounts``)."""
        if not self.by_account:
            return
        ordered = sorted(self.by_account.items())
        driver = await driver_connection(session)
        if driver is not None:
            columns = {
                "ids": [account_id for account_id, _ in ordered],
                "dp": [fields["debits_pending"] for _, fields in ordered],
                "dpo": [fields["debits_posted"] for _, fields in ordered],
                "cp": [fields["credits_pending"] for _, fields in ordered],
                "cpo": [fields["credits_posted"] for _, fields in ordered],
            }
            await _APPLY_ON_DRIVER.execute(driver, columns)
            return
        table = cast(Table, Account.__table__)
        statement = (
            update(table)
            .where(table.c.id == bindparam("account_id"))
            .values({f: table.c[f] + bindparam(f"d_{f}") for f in self._FIELDS})
        )
        params = [
            {"account_id": account_id, **{f"d_{f}": v for f, v in fields.items()}}
            for account_id, fields in ordered
        ]
        await (await session.connection()).execute(statement, params)


async def create_transfers(
    session: AsyncSession, batch: Sequence[NewTransfer], *, linked: bool = False
) -> list[TransferResult]:
    """Create many transfers in the caller's transaction; return one result per transfer.

    Transfers apply in batch order. A transfer whose id already exists with the same terms is
    ``EXISTS`` and moves nothing; with other terms, ``CONFLICT``. A transfer that would take a
    no-overdraft account below zero is ``INSUFFICIENT_FUNDS`` and leaves no trace.

    ``linked`` (TigerBeetle's linked events): all of the batch's transfers are created or none
    is. If one is refused or already exists, it keeps its result, the others this call would
    have created are ``LINKED_EVENT_FAILED``, and nothing of the batch is written. (A savepoint
    cannot do this: the driver statements run outside SQLAlchemy's view of the transaction.)
    """
    if len({t.id for t in batch}) != len(batch):
        raise LedgerError("a batch may not repeat a transfer id")
    if not batch:
        return []
    if len(batch) == 1 and (driver := await driver_connection(session)):
        return [await _create_one(session, driver, batch[0])]
    claimed = await _claim_ids(session, batch)
    accounts = await _lock_accounts(
        session,
        [a for t in batch if t.id in claimed for a in (t.debit_account_id, t.credit_account_id)],
    )
    deltas = _Deltas()
    results: dict[str, TransferResult] = {}
    rejected: list[str] = []
    for transfer in batch:
        if transfer.id not in claimed:
            continue
        debit, credit = accounts[transfer.debit_account_id], accounts[transfer.credit_account_id]
        if debit.currency != transfer.currency or credit.currency != transfer.currency:
            raise LedgerError("a transfer's accounts must share its currency")
        if debit.no_overdraft and debit.available < transfer.amount:
            rejected.append(transfer.id)
            results[transfer.id] = TransferResult.INSUFFICIENT_FUNDS
            continue
        phase = "pending" if transfer.pending else "posted"
        _bump(debit, f"debits_{phase}", transfer.amount, deltas)
        _bump(credit, f"credits_{phase}", transfer.amount, deltas)
        results[transfer.id] = TransferResult.CREATED
    if linked and (rejected or len(claimed) < len(batch)):
        created = [t.id for t in batch if results.get(t.id) is TransferResult.CREATED]
        results.update(dict.fromkeys(created, TransferResult.LINKED_EVENT_FAILED))
        rejected, deltas = [*rejected, *created], _Deltas()
    if rejected:
        await session.execute(delete(Transfer).where(Transfer.id.in_(rejected)))
    await deltas.apply(session)
    await _judge_existing(session, [t for t in batch if t.id not in claimed], results)
    return [results[t.id] for t in batch]


# PostgreSQL, one transfer (every purchase): claim its id, then (only if this claimed it) lock both
# accounts in id order, judge the transfer on their locked totals and move the money, in one
# round trip instead of three. The claim runs first as in the batch path: the locking read
# waits on it (its EXISTS). Same rules as the batch path: a no-overdraft debit account must
# afford the amount, both accounts must be in the transfer's currency.
_CREATE_ONE_ON_DRIVER = DriverStatement(
    text(
        "WITH claimed AS (INSERT INTO transfers (id, debit_account_id, credit_account_id, amount,"
        " currency, code, two_phase, state, created_at, resolved_at) VALUES (CAST(:id AS varchar),"
        " CAST(:debit AS bigint), CAST(:credit AS bigint), CAST(:amount AS bigint),"
        " CAST(:currency AS varchar), CAST(:code AS varchar), CAST(:pending AS boolean),"
        " CASE WHEN CAST(:pending AS boolean) THEN 'pending' ELSE 'posted' END,"
        " CAST(:now AS timestamptz),"
        " CASE WHEN CAST(:pending AS boolean) THEN NULL ELSE CAST(:now AS timestamptz) END)"
        " ON CONFLICT (id) DO NOTHING RETURNING id),"
        " locked AS (SELECT id, currency, debits_must_not_exceed_credits AS guard,"
        " credits_posted - debits_posted - debits_pending AS available FROM accounts"
        " WHERE id = ANY(CAST(:ids AS bigint[])) AND EXISTS (SELECT FROM claimed)"
        " ORDER BY id FOR NO KEY UPDATE),"
        " verdict AS (SELECT count(*) AS found,"
        " coalesce(bool_and(currency = CAST(:currency AS varchar)), false) AS same_currency,"
        " coalesce(bool_and(NOT (id = CAST(:debit AS bigint) AND guard"
        " AND available < CAST(:amount AS bigint))), false) AS affordable FROM locked),"
        " moved AS (UPDATE accounts AS a SET"
        " debits_pending = a.debits_pending + CASE WHEN a.id = CAST(:debit AS bigint)"
        " AND CAST(:pending AS boolean) THEN CAST(:amount AS bigint) ELSE 0 END,"
        " debits_posted = a.debits_posted + CASE WHEN a.id = CAST(:debit AS bigint)"
        " AND NOT CAST(:pending AS boolean) THEN CAST(:amount AS bigint) ELSE 0 END,"
        " credits_pending = a.credits_pending + CASE WHEN a.id = CAST(:credit AS bigint)"
        " AND CAST(:pending AS boolean) THEN CAST(:amount AS bigint) ELSE 0 END,"
        " credits_posted = a.credits_posted + CASE WHEN a.id = CAST(:credit AS bigint)"
        " AND NOT CAST(:pending AS boolean) THEN CAST(:amount AS bigint) ELSE 0 END"
        " FROM verdict WHERE a.id = ANY(CAST(:ids AS bigint[])) AND verdict.found = 2"
        " AND verdict.same_currency AND verdict.affordable RETURNING a.id)"
        " SELECT (SELECT count(*) FROM claimed) AS claimed, found, same_currency, affordable,"
        " (SELECT count(*) FROM moved) AS moved FROM verdict"
    )
)


async def _create_one(session: AsyncSession, driver: Any, transfer: NewTransfer) -> TransferResult:
    """Create one transfer in one statement (see ``_CREATE_ONE_ON_DRIVER``)."""
    params = {
        "id": transfer.id,
        "ids": sorted((transfer.debit_account_id, transfer.credit_account_id)),
        "debit": transfer.debit_account_id,
        "credit": transfer.credit_account_id,
        "amount": transfer.amount,
        "currency": transfer.currency,
        "code": transfer.code,
        "pending": transfer.pending,
        "now": utcnow(),
    }
    verdict = await _CREATE_ONE_ON_DRIVER.fetchrow(driver, params)
    assert verdict is not None
    claimed, found, same_currency, affordable, moved = verdict
    if not claimed:
        results: dict[str, TransferResult] = {}
        await _judge_existing(session, [transfer], results)
        return results[transfer.id]
    assert found == 2  # the transfer's foreign keys would have refused a missing account
    if not same_currency:
        raise LedgerError("a transfer's accounts must share its currency")
    if not affordable:
        await session.execute(delete(Transfer).where(Transfer.id == transfer.id))
        return TransferResult.INSUFFICIENT_FUNDS
    assert moved == 2
    return TransferResult.CREATED


def _bump(account: _Snapshot, field: str, amount: int, deltas: _Deltas) -> None:
    """Change the in-memory snapshot (so later transfers in the batch see it) and record it."""
    setattr(account, field, getattr(account, field) + amount)
    deltas.add(account.id, field, amount)


async def _judge_existing(
    session: AsyncSession, existing: Sequence[NewTransfer], results: dict[str, TransferResult]
) -> None:
    if not existing:
        return
    rows = await session.scalars(select(Transfer).where(Transfer.id.in_([t.id for t in existing])))
    by_id = {row.id: row for row in rows}
    for transfer in existing:
        row = by_id.get(transfer.id)
        same = row is not None and _same_transfer(row, transfer)
        results[transfer.id] = TransferResult.EXISTS if same else TransferResult.CONFLICT


async def create_transfer(session: AsyncSession, transfer: NewTransfer) -> TransferResult:
    """Create one transfer; raise ``InsufficientFunds`` or ``TransferConflict`` when refused."""
    (result,) = await create_transfers(session, [transfer])
    if result is TransferResult.INSUFFICIENT_FUNDS:
        raise InsufficientFunds(transfer.id)
    if result is TransferResult.CONFLICT:
        raise TransferConflict(transfer.id)
    return result


async def _resolve_pending(
    session: AsyncSession, transfer_ids: Sequence[str], target: TransferState
) -> set[str]:
    statement = (
        update(Transfer)
        .where(Transfer.id.in_(transfer_ids), Transfer.state == TransferState.PENDING)
        .values(state=target, resolved_at=utcnow())
        .returning(Transfer.id, Transfer.debit_account_id, Transfer.credit_account_id, Transfer.amount)
        .execution_options(synchronize_session=False)
    )
    resolved = (await session.execute(statement)).all()
    # One UPDATE … FROM does not promise an order of row locks; take them in id order first.
    await _lock_accounts(session, [account for row in resolved for account in (row[1], row[2])])
    deltas = _Deltas()
    for _id, debit_id, credit_id, amount in resolved:
        deltas.add(debit_id, "debits_pending", -amount)
        deltas.add(credit_id, "credits_pending", -amount)
        if target is TransferState.POSTED:
            deltas.add(debit_id, "debits_posted", amount)
            deltas.add(credit_id, "credits_posted", amount)
    await deltas.apply(session)
    return {row[0] for row in resolved}


async def post_pending(session: AsyncSession, transfer_id: str) -> bool:
    """Post a pending transfer; False if it was not pending (already posted or voided)."""
    return transfer_id in await _resolve_pending(session, [transfer_id], TransferState.POSTED)


async def void_pending(session: AsyncSession, transfer_id: str) -> bool:
    """Void a pending transfer, returning the reserved amount; False if it was not pending."""
    return transfer_id in await _resolve_pending(session, [transfer_id], TransferState.VOIDED)


_TOTALS = DriverStatement(
    select(
        _accounts_table.c.debits_pending,
        _accounts_table.c.debits_posted,
        _accounts_table.c.credits_pending,
        _accounts_table.c.credits_posted,
    ).where(_accounts_table.c.code == bindparam("code"))
)


async def balance_by_code(session: AsyncSession, code: str) -> Balance | None:
    """The totals of the account named ``code``; None if there is no such account."""
    found = await _TOTALS.first(session, {"code": code})
    if found is None:
        return None
    return Balance(
        int(found["debits_pending"]),
        int(found["debits_posted"]),
        int(found["credits_pending"]),
        int(found["credits_posted"]),
    )


async def balance(session: AsyncSession, account_id: int) -> Balance:
    """Read an account's totals."""
    account = await session.get(Account, account_id, populate_existing=True)
    if account is None:
        raise LedgerError(f"no account {account_id}")
    return Balance(
        account.debits_pending,
        account.debits_posted,
        account.credits_pending,
        account.credits_posted,
    )
