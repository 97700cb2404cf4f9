"""Statements run straight on the driver connection belong to the session's transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import JSON, String, bindparam, select, text

from domain.database import Database, DriverStatement, driver_connection
from domain.models import Account

_ADD_ACCOUNT = DriverStatement(
    text(
        "INSERT INTO accounts (code, currency, debits_must_not_exceed_credits, debits_pending,"
        " debits_posted, credits_pending, credits_posted, created_at)"
        " VALUES (:code, 'NGN', true, 0, 0, 0, 0, now()) RETURNING id"
    )
)
_FIND = DriverStatement(select(Account.id, Account.code).where(Account.code == bindparam("code")))


async def _exists(db: Database, code: str) -> bool:
    async with db.transaction() as session:
        return await session.scalar(select(Account.id).where(Account.code == code)) is not None


async def test_a_driver_write_before_any_session_statement_rolls_back_with_the_session(db: Database) -> None:
    code = f"test:driver:{uuid.uuid4().hex}"
    try:
        async with db.transaction() as session:
            driver = await driver_connection(session)
            await _ADD_ACCOUNT.fetchrow(driver, {"code": code})
            raise RuntimeError("abandon the turn")
    except RuntimeError:
        pass
    assert not await _exists(db, code)


async def test_driver_and_session_statements_see_each_other_and_commit_together(db: Database) -> None:
    code = f"test:driver:{uuid.uuid4().hex}"
    async with db.transaction() as session:
        driver = await driver_connection(session)
        row = await _ADD_ACCOUNT.fetchrow(driver, {"code": code})
        assert row is not None
        assert await session.scalar(select(Account.code).where(Account.id == row[0])) == code
        assert await _FIND.fetchrow(driver, {"code": code}) == (row[0], code)
    assert await _exists(db, code)


async def test_each_transaction_of_a_session_gets_a_connection_inside_it(db: Database) -> None:
    async with db.sessions() as session:
        for _ in range(2):
            async with session.begin():
                driver = await driver_connection(session)
                assert driver is await driver_connection(session)
                assert driver.is_in_transaction()


async def test_sqlite_has_no_driver_connection(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        async with database.transaction() as session:
            assert await driver_connection(session) is None
    finally:
        await database.dispose()


def test_named_parameters_become_positional_ones_and_json_ones_are_serialized() -> None:
    plain = DriverStatement(text("SELECT :doc, :n, :n").bindparams(bindparam("doc", type_=String())))
    assert "$3" not in plain.sql  # a name used twice is one parameter
    assert plain.arguments({"doc": "x", "n": 2}) == ["x", 2]
    as_json = DriverStatement(text("SELECT CAST(:doc AS json)").bindparams(bindparam("doc", type_=JSON)))
    assert as_json.arguments({"doc": {"a": 1}}) == ['{"a": 1}']
