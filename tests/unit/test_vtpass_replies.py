"""VTpass replies are parsed by models that read every documented shape and refuse the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from payments.vtpass import TopupReply, VariationsReply


def test_a_delivered_pay_reply() -> None:
    reply = TopupReply.model_validate_json(
        b'{"code": "000", "response_description": "TRANSACTION SUCCESSFUL",'
        b' "content": {"transactions": {"status": "delivered", "transactionId": "1712"}}}'
    )
    assert (reply.code, reply.transaction.status, reply.provider_reference) == ("000", "delivered", "1712")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"code": 16, "response_description": "TRANSACTION FAILED", "content": []}',
        b'{"code": "016", "content": "error"}',
        b'{"code": "016", "content": {"errors": ["x"]}}',
    ],
    ids=["numeric-code-and-list-content", "string-content", "content-without-transaction"],
)
def test_error_replies_in_their_odd_shapes_carry_no_transaction(raw: bytes) -> None:
    reply = TopupReply.model_validate_json(raw)
    assert reply.code in {"16", "016"}
    assert reply.transaction.status == "" and reply.provider_reference is None


def test_a_reply_that_is_not_a_json_object_is_refused() -> None:
    for raw in (b"[1, 2]", b"<html>busy</html>", b'"000"'):
        with pytest.raises(ValidationError):
            TopupReply.model_validate_json(raw)


def test_service_variations() -> None:
    reply = VariationsReply.model_validate_json(
        b'{"response_description": "000", "content": {"variations": [{"variation_code": "mtn-1gb",'
        b' "name": "1GB", "variation_amount": "500.00", "fixedPrice": "Yes"}]}}'
    )
    (row,) = reply.content.variations
    assert (row.variation_code, row.variation_amount, row.fixedPrice) == ("mtn-1gb", Decimal("500.00"), "Yes")
    with pytest.raises(ValidationError):
        VariationsReply.model_validate_json(b'{"response_description": "000", "content": {}}')
