"""Users and their channel identities, wallets and the demo opening balance."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain import ledger
from domain.countries import Country
from domain.models import Identity, User


@dataclass(frozen=True, slots=True)
class KnownUser:
    """A user found (or just created) from a channel identity."""

    user: User
    identity: Identity
    is_new: bool


async def find_or_create_user(
    session: AsyncSession,
    channel: str,
    channel_user_id: str,
    *,
    phone: str | None = None,
    display_name: str | None = None,
) -> KnownUser:
    """Return the user behind a channel identity, creating both on first contact.

    A phone the channel vouches for (WhatsApp's ``wa_id``) links the identity to an existing user
    with that phone, so one person keeps one wallet across channels.
    """
    found = await session.execute(
        select(Identity, User)
        .join(User, User.id == Identity.user_id)
        .where(Identity.channel == channel, Identity.channel_user_id == channel_user_id)
    )
    row = found.first()
    if row is not None:
        return KnownUser(user=row[1], identity=row[0], is_new=False)
    user = await session.scalar(select(User).where(User.phone == phone)) if phone else None
    is_new = user is None
    if user is None:
        user = User(phone=phone)
        session.add(user)
        await session.flush()
    identity = Identity(
        user_id=user.id, channel=channel, channel_user_id=channel_user_id, display_name=display_name
    )
    session.add(identity)
    await session.flush()
    return KnownUser(user=user, identity=identity, is_new=is_new)


async def identity_by_username(session: AsyncSession, channel: str, username: str) -> Identity | None:
    """The identity that last showed ``username`` (any case, with or without ``@``) on a channel."""
    handle = username.removeprefix("@").lower()
    return await session.scalar(
        select(Identity)
        .where(Identity.channel == channel, Identity.username == handle)
        .order_by(Identity.id.desc())
        .limit(1)
    )


async def record_phone(session: AsyncSession, user_id: int, phone: str) -> bool:
    """Keep a number the channel vouches for (a shared contact) on a user who has none.

    True when the user has that number now; False when it is someone else's (or the user has
    another one): accounts are never merged here.
    """
    owner = await session.scalar(select(User.id).where(User.phone == phone))
    if owner is not None:
        return owner == user_id
    try:
        async with session.begin_nested():
            result = await session.execute(
                update(User).where(User.id == user_id, User.phone.is_(None)).values(phone=phone)
            )
    except IntegrityError:
        return False  # another user took the number a moment ago
    return bool(getattr(result, "rowcount", 0))


async def available_balance(session: AsyncSession, user_id: int, currency: str) -> int:
    """What the user can spend now in ``currency``, in minor units (the wallet is opened if missing)."""
    return (await wallet_balance(session, user_id, currency)).available


async def existing_wallet_balance(
    session: AsyncSession, user_id: int, currency: str
) -> ledger.Balance | None:
    """The user's wallet totals in ``currency``; None when they have no such wallet (none is opened)."""
    return await ledger.balance_by_code(session, ledger.wallet_code(user_id, currency))


async def wallet_balance(session: AsyncSession, user_id: int, currency: str) -> ledger.Balance:
    """The user's wallet totals in ``currency`` (the wallet is opened if missing)."""
    found = await existing_wallet_balance(session, user_id, currency)
    if found is not None:
        return found
    return await ledger.balance(session, await ledger.open_wallet(session, user_id, currency))


async def grant_opening_balance(session: AsyncSession, user_id: int, country: Country) -> bool:
    """Fund a demo user's wallet once from the promo account; False if it was already granted."""
    wallet = await ledger.open_wallet(session, user_id, country.currency)
    promo = await ledger.open_system_account(session, "promo", country.currency)
    result = await ledger.create_transfer(
        session,
        ledger.NewTransfer(
            id=f"promo:{user_id}:{country.currency}",
            debit_account_id=promo,
            credit_account_id=wallet,
            amount=country.demo_opening_balance.minor,
            currency=country.currency,
            code=ledger.TransferCode.PROMO,
        ),
    )
    return result is ledger.TransferResult.CREATED
