"""The one ledger check: sound after real moves, and each way of breaking the books is named."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger
from domain.database import Database
from domain.ledger import NewTransfer
from domain.ledger_invariants import InvariantKind, InvariantProblem, invariant_problems
from domain.models import Account, Transfer
from tests.integration.ledger_check import assert_ledger_balanced


class _RolledBack(Exception):
    """Raised to roll a test's hand-made damage back."""


async def _moves(session: AsyncSession) -> tuple[int, int, str, str]:
    """A promo-funded wallet with one posted, one pending and one voided purchase; returns
    (wallet id, promo id, the pending transfer's id, the wallet's code)."""
    tag = uuid.uuid4().hex
    wallet = await ledger.open_account(session, f"test:{tag}", "NGN", no_overdraft=True)
    promo = await ledger.open_account(session, f"test:promo:{tag}", "NGN")
    shop = await ledger.open_account(session, f"test:shop:{tag}", "NGN")
    await ledger.create_transfer(session, NewTransfer(f"{tag}:fund", promo, wallet, 10_000, "NGN", "promo"))
    await ledger.create_transfer(session, NewTransfer(f"{tag}:buy", wallet, shop, 1_500, "NGN", "purchase"))
    for suffix in ("held", "voided"):
        await ledger.create_transfer(
            session, NewTransfer(f"{tag}:{suffix}", wallet, shop, 700, "NGN", "purchase", pending=True)
        )
    assert await ledger.void_pending(session, f"{tag}:voided")
    return wallet, promo, f"{tag}:held", f"test:{tag}"


Damage = Callable[[AsyncSession, int, int, str], Awaitable[None]]


async def _problems_after(db: Database, damage: Damage) -> list[InvariantProblem]:
    """The problems seen once ``damage`` is done to fresh books; everything is rolled back after."""
    found: list[InvariantProblem] = []
    with pytest.raises(_RolledBack):
        async with db.transaction() as session:
            wallet, promo, held, _code = await _moves(session)
            assert await invariant_problems(session) == []
            await damage(session, wallet, promo, held)
            found = await invariant_problems(session)
            raise _RolledBack
    return found


async def test_real_moves_leave_the_ledger_sound(db: Database) -> None:
    async with db.transaction() as session:
        _wallet, _promo, held, _code = await _moves(session)
        assert await ledger.post_pending(session, held)
        assert not await ledger.post_pending(session, held)  # a second post moves nothing
    await assert_ledger_balanced(db)


async def test_a_total_edited_by_hand_unbalances_its_currency(db: Database) -> None:
    async def credit_out_of_nowhere(session: AsyncSession, wallet: int, _promo: int, _held: str) -> None:
        await session.execute(
            update(Account).where(Account.id == wallet).values(credits_posted=Account.credits_posted + 5)
        )

    kinds = {problem.kind for problem in await _problems_after(db, credit_out_of_nowhere)}
    assert kinds == {InvariantKind.CURRENCY_UNBALANCED, InvariantKind.TOTALS_DIFFER_FROM_TRANSFERS}


async def test_a_pending_transfer_posted_twice_is_found_though_the_currency_still_sums_to_zero(
    db: Database,
) -> None:
    async def post_twice(session: AsyncSession, _wallet: int, _promo: int, held: str) -> None:
        assert await ledger.post_pending(session, held)
        transfer = await session.get(Transfer, held)
        assert transfer is not None
        for account_id, column in (
            (transfer.debit_account_id, Account.debits_posted),
            (transfer.credit_account_id, Account.credits_posted),
        ):
            await session.execute(
                update(Account).where(Account.id == account_id).values({column: column + transfer.amount})
            )

    problems = await _problems_after(db, post_twice)
    assert {problem.kind for problem in problems} == {InvariantKind.TOTALS_DIFFER_FROM_TRANSFERS}
    assert len(problems) == 2  # both legs
    assert "debits_posted" in str(problems[0]) + str(problems[1])


async def test_an_account_below_zero_that_must_not_be_is_found(db: Database) -> None:
    async def promo_made_a_wallet(session: AsyncSession, _wallet: int, promo: int, _held: str) -> None:
        # The promo account is below zero by design; were it a wallet, that would be an overdraft.
        # The table's own CHECK refuses that flag on it, so the damage needs the check gone first
        # (as in a dump restored without its constraints); the rollback brings it back.
        await session.execute(text("ALTER TABLE accounts DROP CONSTRAINT ck_accounts_no_overdraft"))
        await session.execute(
            update(Account).where(Account.id == promo).values(debits_must_not_exceed_credits=True)
        )

    problems = await _problems_after(db, promo_made_a_wallet)
    assert [problem.kind for problem in problems] == [InvariantKind.OVERDRAWN]
    assert problems[0].where.startswith("test:promo:") and "-10000" in problems[0].detail


async def test_a_transfer_between_currencies_is_found(db: Database) -> None:
    async def relabel(session: AsyncSession, _wallet: int, _promo: int, held: str) -> None:
        await session.execute(update(Transfer).where(Transfer.id == held).values(currency="GHS"))

    problems = await _problems_after(db, relabel)
    assert [problem.kind for problem in problems] == [InvariantKind.CURRENCY_MISMATCH]
    assert problems[0].where.endswith(":held") and "in GHS between a NGN and a NGN" in problems[0].detail


NEXUSTOP = [sys.executable, "-m", "nexustop.cli"]


def test_ledger_verify_passes_after_demo_purchases_and_fails_on_hand_broken_books(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{database}", "PYTHONIOENCODING": "utf-8"}

    def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            NEXUSTOP + args, input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
        )

    chat = run(["chat", "--demo", "--json", "--country", "NG"], "buy 500 airtime for 08031234567\nConfirm\n")
    assert any(json.loads(line)["text"].startswith("✅ Delivered") for line in chat.stdout.splitlines())

    sound = run(["ledger", "verify"])
    assert sound.returncode == 0, sound.stderr
    assert "ledger sound" in sound.stdout

    with sqlite3.connect(database) as books:
        books.execute("UPDATE accounts SET credits_posted = credits_posted + 100 WHERE code LIKE 'wallet:%'")
    broken = run(["ledger", "verify"])
    assert broken.returncode == 2
    assert "currency_unbalanced: NGN" in broken.stderr
    assert "totals_differ_from_transfers: wallet:" in broken.stderr
