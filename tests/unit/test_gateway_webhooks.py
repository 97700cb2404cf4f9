"""Gateway adapters read webhooks and amounts exactly: signatures, keys, units."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from domain.money import Money
from domain.ports import PaymentStatus
from payments.flutterwave import FlutterwaveGateway
from payments.flutterwave import check_from_transaction as flutterwave_check
from payments.momo import MomoGateway, check_from_status
from payments.paystack import PaystackGateway, from_subunits, to_subunits
from payments.paystack import check_from_transaction as paystack_check

SECRET = "sk_test_unit"
HASH = "unit-hash"
BODY = json.dumps(
    {"event": "charge.success", "data": {"id": 7, "reference": "ref-1", "amount": 500000}}
).encode()


def _paystack() -> PaystackGateway:
    return PaystackGateway("http://127.0.0.1:9", SECRET)


def _flutterwave() -> FlutterwaveGateway:
    return FlutterwaveGateway("http://127.0.0.1:9", "FLWSECK_TEST-x", HASH)


def test_paystack_accepts_its_hmac_sha512_and_nothing_else() -> None:
    good = hmac.new(SECRET.encode(), BODY, hashlib.sha512).hexdigest()
    notice = _paystack().parse_webhook(BODY, {"X-Paystack-Signature": good})
    assert notice.authentic is True and notice.reference == "ref-1" and notice.key == "charge.success:ref-1:7"
    for headers in ({}, {"x-paystack-signature": good[:-1] + "0"}, {"x-paystack-signature": "zz"}):
        refused = _paystack().parse_webhook(BODY, headers)
        assert refused.authentic is False and refused.reference is None
        assert refused.key.startswith("forged:")  # never the real event's key
    tampered = BODY.replace(b"500000", b"900000")
    assert _paystack().parse_webhook(tampered, {"x-paystack-signature": good}).authentic is False


def test_paystack_transfer_events_are_not_payments() -> None:
    body = json.dumps({"event": "transfer.success", "data": {"id": 1, "reference": "t-1"}}).encode()
    signed = hmac.new(SECRET.encode(), body, hashlib.sha512).hexdigest()
    assert _paystack().parse_webhook(body, {"x-paystack-signature": signed}).reference is None


@pytest.mark.parametrize(
    ("headers", "authentic"),
    [
        ({"verif-hash": HASH}, True),
        ({"flutterwave-signature": "SIG"}, True),
        ({"verif-hash": HASH, "flutterwave-signature": "SIG"}, True),
        ({"verif-hash": "nope"}, False),
        ({"flutterwave-signature": "bm9wZQ=="}, False),
        ({"verif-hash": HASH, "flutterwave-signature": "bm9wZQ=="}, False),
        ({}, False),
    ],
)
def test_flutterwave_verif_hash_and_signature(headers: dict[str, str], authentic: bool) -> None:
    body = json.dumps(
        {"event": "charge.completed", "data": {"id": 9, "tx_ref": "r", "status": "successful"}}
    ).encode()
    signature = base64.b64encode(hmac.new(HASH.encode(), body, hashlib.sha256).digest()).decode()
    headers = {k: signature if v == "SIG" else v for k, v in headers.items()}
    notice = _flutterwave().parse_webhook(body, headers)
    assert notice.authentic is authentic
    assert (notice.reference == "r") is authentic


def test_flutterwave_legacy_flat_body_is_read() -> None:
    body = json.dumps(
        {"id": 3, "txRef": "r2", "status": "successful", "event.type": "CARD_TRANSACTION"}
    ).encode()
    notice = _flutterwave().parse_webhook(body, {"verif-hash": HASH})
    assert notice.authentic is True and notice.reference == "r2"


def test_momo_callbacks_are_unsigned_hints() -> None:
    gateway = MomoGateway("http://127.0.0.1:9", "k", "u", "s")
    body = json.dumps(
        {"externalId": "ref-3", "status": "SUCCESSFUL", "amount": "50", "currency": "GHS"}
    ).encode()
    notice = gateway.parse_webhook(body, {})
    assert notice.authentic is None and notice.reference == "ref-3"
    assert gateway.parse_webhook(b"not json", {}).reference is None


def test_units_per_gateway() -> None:
    assert to_subunits(Money.of("5000", "NGN")) == 500000
    assert to_subunits(Money.of("5000", "XOF")) == 500000  # Paystack: always two decimals
    assert from_subunits(500000, "XOF") == 5000
    assert from_subunits(500001, "XOF") is None
    assert from_subunits("150", "GHS") == 150
    assert from_subunits(100, "USD") is None
    check = paystack_check(
        {"status": "success", "reference": "r", "amount": 500000, "currency": "NGN", "id": 1}
    )
    assert (check.status, check.amount_minor, check.currency) == (PaymentStatus.SUCCESSFUL, 500000, "NGN")
    assert paystack_check({"status": "abandoned"}).status is PaymentStatus.PENDING
    assert paystack_check({"status": "failed"}).status is PaymentStatus.FAILED
    flw = flutterwave_check({"status": "successful", "tx_ref": "r", "amount": 5000.5, "currency": "NGN"})
    assert flw.amount_minor == 500050
    assert flutterwave_check({"status": "successful", "amount": 1.5, "currency": "XOF"}).amount_minor is None
    momo = check_from_status(
        {"status": "SUCCESSFUL", "amount": "50", "currency": "GHS", "externalId": "r"}, "r"
    )
    assert (momo.status, momo.amount_minor, momo.reference) == (PaymentStatus.SUCCESSFUL, 5000, "r")
    assert (
        check_from_status({"status": "FAILED", "reason": "APPROVAL_REJECTED"}, "r").status
        is PaymentStatus.FAILED
    )
    assert check_from_status({"status": "PENDING"}, "r").status is PaymentStatus.PENDING


def test_orange_notifications_are_unsigned_hints_keyed_by_the_url_reference() -> None:
    from payments.orange import QUERY_HEADER, OrangeGateway

    gateway = OrangeGateway("http://127.0.0.1:9", "id", "secret", "mk")
    body = json.dumps({"status": "SUCCESS", "notif_token": "t", "txnid": "MP1"}).encode()
    notice = gateway.parse_webhook(body, {QUERY_HEADER: "ref=ref-9"})
    assert notice.authentic is None and notice.reference == "ref-9"
    assert gateway.parse_webhook(body, {}).reference is None
