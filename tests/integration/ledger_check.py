"""The one ledger check every test that moves money ends with."""

from __future__ import annotations

from domain.database import Database
from domain.ledger_invariants import invariant_problems


async def assert_ledger_balanced(db: Database) -> None:
    """The ledger is sound: every currency sums to zero (posted and pending), no wallet is below
    zero, every account's totals are what its transfers add up to."""
    async with db.transaction() as session:
        problems = await invariant_problems(session)
    assert not problems, "ledger unsound:\n" + "\n".join(map(str, problems))
