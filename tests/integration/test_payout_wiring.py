"""Payout wiring: gateways from settings, shared with funding, and the demo's sandbox payouts end to end."""

from __future__ import annotations

import uuid
from contextlib import AsyncExitStack

from pydantic import SecretStr

from domain.banks import find_bank, mobile_money_network
from domain.money import Money
from domain.payout_routes import route_payout
from domain.ports import LookupStatus, PayoutRequest, PayoutStatus
from nexustop.bootstrap import demo_settings
from nexustop.funding import build_gateways, start_gateway_sandboxes
from nexustop.payouts import build_payout_gateways, demo_payout_settings, open_payout_gateways
from nexustop.settings import Settings
from payments.momo import MomoDisbursement

KEYS = {
    "paystack_secret_key": SecretStr("sk_test_x"),
    "flutterwave_secret_key": SecretStr("FLWSECK_TEST-x"),
    "flutterwave_secret_hash": SecretStr("hash"),
    "mtn_disbursement_subscription_key": SecretStr("dsub"),
    "mtn_disbursement_api_user": "duser",
    "mtn_disbursement_api_key": SecretStr("dkey"),
    "mtn_disbursement_countries": ("GH", "CI"),
}


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_no_credentials_no_payout_gateways() -> None:
    assert build_payout_gateways(_settings()) == {}


def test_each_gateway_with_credentials_pays_out() -> None:
    gateways = build_payout_gateways(_settings(**KEYS))
    assert sorted(gateways) == ["flutterwave", "momo", "paystack"]
    momo = gateways["momo"]
    assert isinstance(momo, MomoDisbursement) and momo.countries == {"GH", "CI"}
    assert all(gateway.name == name for name, gateway in gateways.items())
    assert "dkey" not in repr(momo) and "sk_test_x" not in repr(gateways["paystack"])


async def test_funding_adapters_are_shared_not_doubled() -> None:
    settings = _settings(**KEYS)
    funding = build_gateways(settings)
    async with AsyncExitStack() as stack:
        payouts = open_payout_gateways(stack, settings, funding)
        assert payouts["paystack"] is funding["paystack"]
        assert payouts["flutterwave"] is funding["flutterwave"]
        assert payouts["momo"] is not funding.get("momo")  # disbursement: its own credentials


def test_demo_sandbox_credentials_only_when_the_sandboxes_run() -> None:
    demo = demo_settings(_settings(database_url="sqlite+aiosqlite:///unused.db"))
    assert demo.mtn_disbursement_subscription_key.get_secret_value()
    assert "momo" in build_payout_gateways(demo)
    assert demo_payout_settings(_settings(**KEYS)) == {}
    real_paystack = _settings(paystack_secret_key=SecretStr("sk_live_real"))
    assert demo_payout_settings(real_paystack) == {}


async def test_demo_pays_out_through_the_in_process_sandboxes() -> None:
    settings = demo_settings(
        _settings(database_url="sqlite+aiosqlite:///unused.db", public_url="http://127.0.0.1:9")
    )
    async with AsyncExitStack() as stack:
        settings = await start_gateway_sandboxes(stack, settings)
        funding = build_gateways(settings)
        for gateway in funding.values():
            stack.push_async_callback(gateway.close)
        payouts = open_payout_gateways(stack, settings, funding)
        targets = [
            (find_bank("NG", "gtb"), "0123456789", Money.of(2500, "NGN")),
            (mobile_money_network("GH", "MTN"), "+233241234567", Money.of(30, "GHS")),
            (mobile_money_network("GH", "TELECEL"), "+233201234567", Money.of(30, "GHS")),
            (mobile_money_network("CI", "ORANGE"), "+2250712345678", Money.of(5000, "XOF")),
            (mobile_money_network("BJ", "MTN"), "+2290197123456", Money.of(5000, "XOF")),
        ]
        used = set()
        for to, number, amount in targets:
            assert to is not None
            route = route_payout(payouts, to, number)
            assert route is not None, to
            used.add(route.gateway.name)
            found = await route.gateway.lookup_account(route.destination)
            assert found.status is LookupStatus.FOUND
            request = PayoutRequest(str(uuid.uuid4()), amount, route.destination, found.account_name or "A B")
            check = await route.gateway.send_payout(request)
            assert check.status is PayoutStatus.SUCCEEDED, check
            assert (check.amount_minor, check.currency) == (amount.minor, amount.currency)
        assert used == {"paystack", "momo", "flutterwave"}
