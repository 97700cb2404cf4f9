"""Who is at either end of a transfer, as users see them: names, phones, banks, wallets, masked accounts.

A payee reads "ADA OBI (GTBank ******6789)": the name when we know one (the name the account
lookup or the identity check returned, else the channel's name) and where the money goes. Account
numbers show their last four digits only; phone numbers are shown whole, as the sender typed them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.i18n import Localizer, display_phone
from domain import banks
from domain.models import Identity, KycProfile, MoneyTransfer, User
from domain.phones import mask_phone
from domain.ports import PayoutKind
from domain.transfers import TransferKind


@dataclass(frozen=True, slots=True)
class Payee:
    """Who gets a transfer, as shown to the sender: a name if known, and where the money goes."""

    name: str | None
    where: str

    def __str__(self) -> str:
        return f"{self.name} ({self.where})" if self.name else self.where


def bank_name(country: str, code: str) -> str:
    """A bank's name from its code (ours or a gateway's)."""
    bank = banks.bank_by_code(country, code)
    return bank.name if bank else code


def wallet_name(country: str, network: str) -> str:
    """A mobile-money wallet's name from our network id."""
    wallet = banks.mobile_money_network(country, network)
    return wallet.name if wallet else network


def _wallet_at_gateway(country: str, gateway: str, code: str | None) -> str:
    """A wallet's name from its code at the gateway that paid it."""
    return next((w.name for w in banks.mobile_money_networks(country) if w.code_at(gateway) == code), "")


async def name_of(session: AsyncSession, user_id: int) -> str | None:
    """What we call a user to others: the name their identity check gave, else their channel name."""
    verified = await session.scalar(select(KycProfile.verified_name).where(KycProfile.user_id == user_id))
    if verified:
        return verified
    return await session.scalar(
        select(Identity.display_name)
        .where(Identity.user_id == user_id, Identity.display_name.is_not(None))
        .order_by(Identity.id.desc())
        .limit(1)
    )


def of_slots(country: str, slots: dict[str, Any]) -> Payee:
    """The payee of a send being quoted (its slots)."""
    payout = slots.get("payout")
    if payout == PayoutKind.BANK:
        where = f"{bank_name(country, slots['bank'])} {mask_phone(slots['account'])}"
    elif payout == PayoutKind.MOBILE_MONEY:
        where = f"{wallet_name(country, slots['network'])} {display_phone(slots['account'])}"
    else:
        where = display_phone(slots["phone"])
    return Payee(slots.get("name"), where)


async def of_transfer(session: AsyncSession, transfer: MoneyTransfer) -> Payee:
    """The payee of a transfer that was made."""
    kind = TransferKind(transfer.kind)
    account = transfer.account_number or ""
    if kind is TransferKind.BANK:
        where = f"{bank_name(transfer.country, transfer.bank_code or '')} {mask_phone(account)}"
        return Payee(transfer.recipient_name, where)
    if kind is TransferKind.MOBILE_MONEY:
        wallet = _wallet_at_gateway(transfer.country, transfer.gateway or "", transfer.bank_code)
        return Payee(transfer.recipient_name, f"{wallet} {display_phone(account)}".strip())
    name = await name_of(session, transfer.recipient_user_id) if transfer.recipient_user_id else None
    return Payee(name or transfer.recipient_name, display_phone(transfer.recipient_phone or ""))


async def sender_name(session: AsyncSession, t: Localizer, transfer: MoneyTransfer) -> str:
    """Who sent a transfer, as its recipient sees it."""
    name = await name_of(session, transfer.sender_user_id)
    if name:
        return name
    phone = await session.scalar(select(User.phone).where(User.id == transfer.sender_user_id))
    return display_phone(phone) if phone else t._("A NexusTop user")
