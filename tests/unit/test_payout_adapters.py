"""Payout adapters without a network: account forms, refusals before sending, webhook shapes, statuses."""

from __future__ import annotations

import hashlib
import hmac
import json

from domain.money import Money
from domain.ports import PayoutDestination, PayoutKind, PayoutRequest, PayoutStatus
from payments.flutterwave import FlutterwaveGateway
from payments.flutterwave import check_from_transfer as flutterwave_check
from payments.flutterwave import signature as flutterwave_signature
from payments.momo import MomoDisbursement, holder_name, is_uuid4
from payments.paystack import PaystackGateway, account_number
from payments.paystack import check_from_transfer as paystack_check

DOWN = "http://127.0.0.1:9"
WALLET = PayoutDestination(PayoutKind.MOBILE_MONEY, "GH", "GHS", "+233241234567", "MTN")


def test_paystack_takes_ghanaian_wallets_in_local_form() -> None:
    assert account_number(WALLET) == "0241234567"
    bank = PayoutDestination(PayoutKind.BANK, "NG", "NGN", "0123456789", "058")
    assert account_number(bank) == "0123456789"


def test_paystack_transfer_statuses() -> None:
    base = {"reference": "r", "amount": 150050, "currency": "NGN", "transfer_code": "TRF_1"}
    expected = {
        "success": PayoutStatus.SUCCEEDED,
        "failed": PayoutStatus.FAILED,
        "rejected": PayoutStatus.FAILED,
        "abandoned": PayoutStatus.FAILED,
        "reversed": PayoutStatus.REVERSED,
        "pending": PayoutStatus.PENDING,
        "processing": PayoutStatus.PENDING,
        "otp": PayoutStatus.PENDING,
        "queued": PayoutStatus.PENDING,
        "received": PayoutStatus.PENDING,
        "something new": PayoutStatus.PENDING,
    }
    for raw, status in expected.items():
        check = paystack_check({**base, "status": raw})
        assert check.status is status, raw
        assert (check.amount_minor, check.currency, check.gateway_reference) == (150050, "NGN", "TRF_1")


def test_flutterwave_transfer_amounts_are_exact_major_units() -> None:
    check = flutterwave_check({"status": "SUCCESSFUL", "amount": 1500.5, "currency": "NGN", "reference": "r"})
    assert (check.status, check.amount_minor) == (PayoutStatus.SUCCEEDED, 150050)
    assert flutterwave_check({"status": "NEW", "amount": "5000", "currency": "XOF"}).amount_minor == 5000
    assert flutterwave_check({"status": "FAILED", "amount": 0.001, "currency": "XOF"}).amount_minor is None


def test_paystack_unsigned_transfer_event_is_forged_and_charges_pass_through() -> None:
    gateway = PaystackGateway(DOWN, "sk_unit")
    body = json.dumps({"event": "transfer.success", "data": {"id": 1, "reference": "t-1"}}).encode()
    notice = gateway.parse_payout_webhook(body, {})
    assert notice is not None and notice.authentic is False and notice.reference is None
    signed = hmac.new(b"sk_unit", body, hashlib.sha512).hexdigest()
    good = gateway.parse_payout_webhook(body, {"X-Paystack-Signature": signed})
    assert good is not None and good.authentic is True and good.reference == "t-1"
    assert good.key == "transfer.success:t-1:1"
    charge = json.dumps({"event": "charge.success", "data": {"id": 2, "reference": "c-1"}}).encode()
    assert gateway.parse_payout_webhook(charge, {}) is None


def test_flutterwave_reads_v3_and_legacy_transfer_webhooks() -> None:
    gateway = FlutterwaveGateway(DOWN, "FLWSECK_TEST-x", "hash")
    v3 = json.dumps(
        {"event": "transfer.completed", "data": {"id": 9, "reference": "t-9", "status": "FAILED"}}
    ).encode()
    legacy = json.dumps(
        {"event.type": "Transfer", "transfer": {"id": 9, "reference": "t-9", "status": "FAILED"}}
    )
    for body in (v3, legacy.encode()):
        notice = gateway.parse_payout_webhook(body, {"verif-hash": "hash"})
        assert notice is not None and notice.authentic is True
        assert (notice.reference, notice.event, notice.key) == (
            "t-9",
            "transfer.failed",
            "transfer:9:FAILED:t-9",
        )
        forged = gateway.parse_payout_webhook(
            body, {"flutterwave-signature": flutterwave_signature("x", body)}
        )
        assert forged is not None and forged.authentic is False


async def test_momo_refuses_before_sending_what_it_cannot_pay() -> None:
    gateway = MomoDisbursement(DOWN, "k", "u", "s", countries=("GH",))
    request = PayoutRequest("not-a-uuid", Money.of(10, "GHS"), WALLET, "A B")
    # Nothing listens at DOWN: an attempt to send would come back PENDING, not FAILED.
    assert (await gateway.send_payout(request)).status is PayoutStatus.FAILED
    elsewhere = PayoutDestination(PayoutKind.MOBILE_MONEY, "CI", "XOF", "+2250512345678", "MTN")
    unsupported = PayoutRequest("0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b", Money.of(10, "XOF"), elsewhere, "A B")
    assert (await gateway.send_payout(unsupported)).status is PayoutStatus.FAILED
    sent = PayoutRequest("0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b", Money.of(10, "GHS"), WALLET, "A B")
    assert (await gateway.send_payout(sent)).status is PayoutStatus.PENDING  # unreachable: unknown
    await gateway.close()


def test_momo_helpers() -> None:
    assert is_uuid4("0b1c2d3e-4f50-4612-8a7b-9c0d1e2f3a4b")
    assert not is_uuid4("0b1c2d3e-4f50-1612-8a7b-9c0d1e2f3a4b")  # version 1
    assert not is_uuid4("nope")
    assert holder_name({"given_name": "AMA", "family_name": "MENSAH"}) == "AMA MENSAH"
    assert holder_name({"name": "KOFI ASANTE"}) == "KOFI ASANTE"
    assert holder_name({}) is None and holder_name([]) is None
    callback = json.dumps({"externalId": "t-1", "status": "SUCCESSFUL", "payee": {"partyId": "1"}}).encode()
    gateway = MomoDisbursement(DOWN, "k", "u", "s")
    notice = gateway.parse_payout_webhook(callback, {})
    assert notice is not None and notice.authentic is None and notice.reference == "t-1"
    collection = json.dumps({"externalId": "p-1", "status": "SUCCESSFUL", "payer": {"partyId": "1"}}).encode()
    assert gateway.parse_payout_webhook(collection, {}) is None
