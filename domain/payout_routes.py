"""Which configured gateway pays a payout, and the destination written in that gateway's codes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domain.banks import Bank, MobileMoneyNetwork
from domain.countries import get_country
from domain.ports import PayoutDestination, PayoutGateway, PayoutKind


@dataclass(frozen=True, slots=True)
class PayoutRoute:
    """A gateway and the destination as that gateway names it (its own bank or wallet code)."""

    gateway: PayoutGateway
    destination: PayoutDestination


def route_payout(
    gateways: Mapping[str, PayoutGateway], to: Bank | MobileMoneyNetwork, account_number: str
) -> PayoutRoute | None:
    """The first gateway of the country's payout routing that is configured and takes this account.

    ``account_number`` is the bank account's digits, or the wallet's number in E.164. None when no
    configured gateway pays out there.
    """
    country = get_country(to.country)
    if country is None:
        return None
    kind = PayoutKind.BANK if isinstance(to, Bank) else PayoutKind.MOBILE_MONEY
    for name in country.payout_gateways(kind):
        gateway, code = gateways.get(name), to.code_at(name)
        if gateway is None or code is None:
            continue
        destination = PayoutDestination(kind, country.code, country.currency, account_number, code)
        if gateway.supports(destination):
            return PayoutRoute(gateway, destination)
    return None
