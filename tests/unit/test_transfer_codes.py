"""A transfer's code is one of the ledger's closed list, never free text."""

from __future__ import annotations

import pytest

from domain.ledger import LedgerError, NewTransfer, TransferCode


def test_a_transfer_takes_a_code_from_the_closed_list() -> None:
    transfer = NewTransfer("t1", 1, 2, 500, "NGN", TransferCode.GIFT_REFUND)
    assert transfer.code == "gift_refund"


@pytest.mark.parametrize("code", ["Refund", "gift-refund", "", "anything"])
def test_free_text_codes_are_refused(code: str) -> None:
    with pytest.raises(LedgerError, match="not a TransferCode"):
        NewTransfer("t1", 1, 2, 500, "NGN", code)  # type: ignore[arg-type]
