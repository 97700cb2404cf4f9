"""Turn queued notifications (delivered, refunded, delayed) into localized receipts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import funding, gifting, transfer_news
from conversations.i18n import N_, Localizer, display_phone, localizer
from conversations.messages import Reply
from domain.countries import get_country
from domain.models import Notification, Order, User, utcnow
from domain.money import Money
from domain.purchase_terms import ProductKind
from domain.users import available_balance

#: Receipt texts per notification kind, translated when rendered.
_RECEIPTS = {
    "order_delivered": N_("✅ Delivered: %(price)s %(product)s to %(phone)s. Ref %(ref)s."),
    "order_refunded": N_(
        "❌ %(product)s to %(phone)s could not be delivered. %(price)s is back in your wallet. Ref %(ref)s."
    ),
    "order_pending": N_(
        "⏳ The network is slow to confirm %(product)s to %(phone)s. Your money is safe;"
        " I'll tell you as soon as it is done. Ref %(ref)s."
    ),
    "order_needs_review": N_(
        "⚠️ We could not confirm %(product)s to %(phone)s. Your %(price)s is held safely"
        " while our team checks it. Ref %(ref)s."
    ),
}


def _product(t: Localizer, order: Order) -> str:
    country = get_country(order.country)
    network = country.network(order.network) if country else None
    name = network.name if network else order.network
    if order.kind == ProductKind.DATA and network and order.bundle_code:
        bundle = network.bundle(order.bundle_code)
        return t._("%(network)s %(bundle)s data", network=name, bundle=bundle.name if bundle else "")
    return t._("%(network)s airtime", network=name)


async def render(session: AsyncSession, notification: Notification) -> Reply | None:
    """The receipt for one notification, in its user's language."""
    if gifting.is_gift_notification(notification.kind):
        return await gifting.render(session, notification)
    if notification.kind in funding.RECEIPTS:
        return await funding.render(session, notification)
    if transfer_news.is_transfer_notification(notification):
        return await transfer_news.render(session, notification)
    order = await session.get(Order, notification.order_id) if notification.order_id else None
    user = await session.get(User, notification.user_id)
    if order is None or user is None:
        return None
    country = get_country(order.country)
    t = localizer(user.language, country)
    values = {
        "price": t.money(Money(order.amount, order.currency)),
        "product": _product(t, order),
        "phone": display_phone(order.phone),
        "ref": order.reference,
    }
    template = _RECEIPTS.get(notification.kind)
    if template is None:
        return None
    text = t._(template, **values)
    if notification.kind in ("order_delivered", "order_refunded"):
        balance = Money(await available_balance(session, user.id, order.currency), order.currency)
        text += "\n" + t._("Your balance: %(balance)s", balance=t.money(balance))
    return Reply(text)


async def take_undelivered(session: AsyncSession, conversation_id: int) -> list[Reply]:
    """Render and mark delivered every notification waiting for a conversation, oldest first."""
    statement = (
        select(Notification)
        .where(Notification.conversation_id == conversation_id, Notification.delivered_at.is_(None))
        .order_by(Notification.id)
        .with_for_update(skip_locked=True)
    )
    replies = []
    for notification in (await session.scalars(statement)).all():
        reply = await render(session, notification)
        notification.delivered_at = utcnow()
        if reply is not None:
            replies.append(reply)
    return replies
