"""Gifting: "/gift 500" in a group (to the person replied to), "5x200" giveaways, 1:1 gift links.

The flow, whatever the channel:

1. **Ask.** In a group, ``/gift 500`` replying to someone, ``/gift @username 500`` for someone we
   already know (or a giveaway ``/gift 5x200``) records a draft gift. No money moves in a group:
   the sender confirms in private — at once when they already chat with us (a message is pushed
   there), else through a single-use deep link. In a private chat, "gift 500 to 0803…" records
   the draft and asks for confirmation straight away.
2. **Confirm.** The sender's Confirm escrows the money (``domain.gifts.confirm``); the group gets
   the announcement with a Claim link, or the sender gets the link to pass on.
3. **Claim.** The recipient opens the link (``/start g_…``), gives a number (typed, shared, or
   their own) and the top-up order is placed from the escrow. Both are told when it lands, and
   the group's announcement is updated in place (claims, expiry, decline).

Links are channel-neutral: ``Reply.link`` is ``start:<token>`` and each channel turns that into its
own deep link (Telegram: ``t.me/<bot>?start=<token>``); typing "claim <token>" works everywhere.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import onboarding
from conversations.flows import Flow
from conversations.i18n import Localizer, display_phone, example_airtime, example_phone, localizer
from conversations.intents import Intent
from conversations.messages import Button, ChatKind, InboundMessage, Reply
from conversations.parser import Parsed, parse
from conversations.turn import Turn
from domain import gifts
from domain.countries import Country, get_country
from domain.gifts import GiftProblem, GiftRefused, GiftState
from domain.models import Conversation, Gift, GiftClaim, Notification, Order, User
from domain.money import Money, MoneyError
from domain.orders import needs_pin_in
from domain.phones import guess_network, normalize_phone
from domain.purchase_terms import ProductKind, check_gift_airtime
from domain.users import available_balance, identity_by_username
from services import gifts as gift_services
from services.purchases import InsufficientFunds

#: Waiting for the number a claimed gift should top up (slots: ``gift``, maybe ``phone``).
AWAIT_GIFT_PHONE = "await_gift_phone"
#: A deep-link payload or a typed "claim <token>" (the French and Portuguese replies say "réclamer",
#: "resgatar").
_TOKEN = re.compile(
    r"^(?:/?(?:start|claim|r[ée]clamer|resgatar)\s+)?([cgm]_[A-Za-z0-9_-]{10,40})$", re.IGNORECASE
)
_COMMAND = re.compile(r"^/?gift(?:@\w+)?\b\s*(.*)$", re.IGNORECASE | re.DOTALL)
_SHARES = re.compile(r"^(\d{1,2})\s*[x×*]\s*(.+)$", re.IGNORECASE)
#: ``@username`` anywhere in the command (Telegram handles: letters, digits, underscores).
_HANDLE = re.compile(r"(?:^|\s)@(\w{3,32})\b")


def start_link(token: str) -> str:
    """The channel-neutral link a channel renders as its own deep link."""
    return f"start:{token}"


def token_in(message: InboundMessage, text: str) -> str | None:
    """The token a message opens (a gift's, or ``m_…`` money's): a /start payload, or "claim <token>"."""
    if message.start_payload:
        found = _TOKEN.match(message.start_payload.strip())
        return found.group(1) if found else None
    found = _TOKEN.match(text.strip())
    return found.group(1) if found and message.chat_kind is ChatKind.PRIVATE else None


def is_gift_command(text: str) -> bool:
    """True for "gift …" / "/gift …", the only money command a group may use."""
    return bool(_COMMAND.match(text.strip()))


# ---- pricing ------------------------------------------------------------------------------


class _Priced:
    """What a spec such as ``500``, ``1GB`` or ``5x200`` costs in a country."""

    def __init__(self, kind: ProductKind, amount: int, shares: int, data_mb: int | None) -> None:
        self.kind, self.amount, self.shares, self.data_mb = kind, amount, shares, data_mb


def _price(t: Localizer, country: Country, spec: str) -> _Priced | str:
    """Price a gift spec, or say what is wrong with it."""
    shares = 1
    if match := _SHARES.match(spec.strip()):
        shares, spec = int(match.group(1)), match.group(2)
    if not 1 <= shares <= gifts.MAX_SHARES:
        return t._("A giveaway can have 1 to %(count)s gifts.", count=gifts.MAX_SHARES)
    parsed = parse(spec, country.code)
    if parsed.data_mb:
        prices = [b.price.minor for n in country.networks for b in n.bundles if b.data_mb == parsed.data_mb]
        if not prices:
            return t._("No network here sells that data bundle. Try an airtime amount instead.")
        priced = _Priced(ProductKind.DATA, max(prices), shares, parsed.data_mb)
    elif parsed.amount is not None:
        try:
            amount = Money.of(parsed.amount, country.currency).minor
        except MoneyError:
            return t.bad_amount(parsed.amount, country.currency)
        if out_of_range := check_gift_airtime(country, Money(amount, country.currency)):
            return t._(
                "An airtime gift must be between %(low)s and %(high)s.",
                low=t.money(out_of_range.low),
                high=t.money(out_of_range.high),
            )
        priced = _Priced(ProductKind.AIRTIME, amount, shares, None)
    else:
        return t._("How much? For example: /gift 500, /gift 1GB, or /gift 5x200 for a giveaway.")
    if needs_pin_in(country.code, Money(priced.amount * shares, country.currency)):
        return t._(
            "Gifts above %(threshold)s need a transaction PIN, which is not available yet.",
            threshold=t.money(country.pin_threshold),
        )
    return priced


def _what(t: Localizer, gift: Gift) -> str:
    """A gift's content as people say it: "₦500 airtime", "1GB data"."""
    if gift.kind == ProductKind.DATA and gift.data_mb:
        size = f"{gift.data_mb // 1024}GB" if gift.data_mb % 1024 == 0 else f"{gift.data_mb}MB"
        return t._("%(size)s data", size=size)
    assert gift.amount is not None and gift.currency is not None
    return t._("%(price)s airtime", price=t.money(Money(gift.amount, gift.currency)))


def _someone(t: Localizer, name: str | None) -> str:
    return name or t._("a friend")


# ---- in a group ---------------------------------------------------------------------------


async def in_group(turn: Turn, text: str) -> list[Reply]:
    """``/gift …`` in a group: record a draft and send the sender to private to confirm."""
    t = turn.t
    message = turn.message
    match = _COMMAND.match(text.strip())
    spec = (match.group(1) if match else "").strip()
    handle = _HANDLE.search(spec)
    spec = _HANDLE.sub(" ", spec).strip()
    giveaway = bool(_SHARES.match(spec))
    if not spec:
        return [
            Reply(
                t._("Reply to someone's message with /gift 500 (or 1GB), or send /gift 5x200 for a giveaway.")
            )
        ]
    target = (message.target_user_id, message.target_name)
    if handle is not None and not giveaway:
        found = await _known_as(turn, handle.group(1), spec)
        if isinstance(found, Reply):
            return [found]
        target = found
    if not giveaway and not target[0]:
        return [
            Reply(t._("Reply to the message of the person you want to gift, with /gift %(spec)s.", spec=spec))
        ]
    if target[0] == message.channel_user_id:
        return [Reply(t._("You can't send a gift to yourself."))]
    gift = await gifts.create_draft(
        turn.session,
        channel=message.channel,
        sender_user_id=turn.user.id,
        spec=spec,
        sender_name=message.display_name,
        origin_conversation_id=turn.conversation.id,
        recipient_channel_user_id=None if giveaway else target[0],
        recipient_name=None if giveaway else target[1],
        ttl_hours=turn.gift_ttl_hours,
    )
    private = await _private_conversation(
        turn.session, turn.user.id, message.channel, message.channel_user_id
    )
    name = _someone(t, message.display_name)
    if private is not None and turn.user.country is not None:
        await gifts.tell(turn.session, turn.user.id, private, f"gift_confirm:{gift.id}")
        return [Reply(t._("%(name)s, I've sent you a private message to confirm your gift.", name=name))]
    return [
        Reply(
            t._("%(name)s, confirm your gift in a private chat with me.", name=name),
            link=start_link(gift.confirm_token),
            link_title=t._("Confirm privately"),
        )
    ]


async def _known_as(turn: Turn, username: str, spec: str) -> tuple[str, str] | Reply:
    """The person behind an ``@username`` the bot has seen (channel id, name), or why not."""
    known = await identity_by_username(turn.session, turn.message.channel, username)
    if known is None:
        return Reply(
            turn.t._(
                "I don't know @%(username)s yet. Reply to one of their messages with /gift %(spec)s instead.",
                username=username,
                spec=spec,
            )
        )
    return known.channel_user_id, known.display_name or f"@{username}"


async def _private_conversation(
    session: AsyncSession, user_id: int, channel: str, channel_user_id: str
) -> int | None:
    """The user's one-to-one conversation on a channel (its chat id is their channel id), if any."""
    return await session.scalar(
        select(Conversation.id).where(
            Conversation.user_id == user_id,
            Conversation.channel == channel,
            Conversation.chat_id == channel_user_id,
        )
    )


# ---- deep links ---------------------------------------------------------------------------


async def on_start(turn: Turn, token: str) -> list[Reply]:
    """A deep link (or "claim <token>"): the sender's confirmation, or a recipient's claim."""
    t = turn.t
    if turn.message.chat_kind is not ChatKind.PRIVATE:
        return [Reply(t._("Let's do that in a private chat with me."))]
    gift = await gifts.by_token(turn.session, token)
    if gift is None:
        return [Reply(t._("This gift link is not valid."))]
    replies: list[Reply] = []
    if turn.user.country is None:
        country = gift.country or onboarding.country_from_message(turn, "", None)
        if country is None:
            return [onboarding.ask_country(turn, f"claim {token}")]
        replies, _ = await onboarding.settle(turn, country, onboarding.first_language(turn, None))
        t = turn.t
    if token.startswith("c_"):
        return replies + await _confirmation(turn, gift)
    return replies + await _claim_offer(turn, gift)


async def _confirmation(turn: Turn, gift: Gift) -> list[Reply]:
    """Show the sender what their gift costs, with Confirm / Cancel."""
    t = turn.t
    if gift.sender_user_id != turn.user.id:
        return [Reply(t._("This link is for the person who sent the gift."))]
    if gift.state != GiftState.DRAFT:
        return [Reply(t._("That gift is already confirmed or cancelled."))]
    return [await confirmation_reply(turn.session, gift, t, turn.country)]


async def confirmation_reply(
    session: AsyncSession, gift: Gift, t: Localizer, country: Country | None
) -> Reply:
    """The sender's confirmation of a draft gift (also pushed to their private chat)."""
    if country is None:
        return Reply(t._("Tell me which country you're in first, then open the link again."))
    priced = _price(t, country, gift.spec)
    if isinstance(priced, str):
        return Reply(priced)
    total = Money(priced.amount * priced.shares, country.currency)
    balance = Money(await available_balance(session, gift.sender_user_id, country.currency), country.currency)
    each = t.money(Money(priced.amount, country.currency))
    if priced.kind is ProductKind.DATA and priced.data_mb:
        size = f"{priced.data_mb // 1024}GB" if priced.data_mb % 1024 == 0 else f"{priced.data_mb}MB"
        each = t._("%(size)s data", size=size)
    if priced.shares > 1:
        text = t._(
            "Giveaway: %(count)s gifts of %(each)s for the first %(count)s people who claim."
            " Total %(total)s?",
            count=priced.shares,
            each=each,
            total=t.money(total),
        )
    else:
        who = gift.recipient_name or (display_phone(gift.recipient_phone) if gift.recipient_phone else None)
        text = t._(
            "Gift %(each)s to %(who)s for %(total)s?", each=each, who=_someone(t, who), total=t.money(total)
        )
    hours = gift.ttl_hours or gifts.DEFAULT_TTL_HOURS
    text += (
        "\n"
        + t.n_(
            "Unclaimed gifts expire after %(hours)s hour and the money comes back to you.",
            "Unclaimed gifts expire after %(hours)s hours and the money comes back to you.",
            hours,
            hours=hours,
        )
        + "\n"
        + t._("Your balance: %(balance)s", balance=t.money(balance))
    )
    return Reply(
        text,
        buttons=(Button(f"giftok:{gift.id}", t._("Confirm")), Button(f"giftno:{gift.id}", t._("Cancel"))),
    )


async def _claim_offer(turn: Turn, gift: Gift) -> list[Reply]:
    """Tell the recipient about the gift and ask which number to top up."""
    t = turn.t
    message = turn.message
    mine = await gifts.claim_of(turn.session, gift.id, turn.user.id)
    if mine is not None:
        return [Reply(t._("You already claimed this gift."))]
    problem = gifts.claim_problem(gift, turn.user.id, message.channel, message.channel_user_id)
    if problem is not None:
        return [Reply(_problem_text(t, problem))]
    turn.set_slots({"gift": gift.id}, AWAIT_GIFT_PHONE)
    buttons = []
    if turn.user.phone:
        buttons.append(Button("giftphone:self", t._("My number")))
    if gift.recipient_phone:
        buttons.append(Button("giftphone:named", display_phone(gift.recipient_phone)))
    if gift.recipient_channel_user_id is not None:
        buttons.append(Button(f"giftdecline:{gift.id}", t._("Decline")))
    text = t._(
        "🎁 %(sender)s sent you %(what)s! Which phone number should I top up?",
        sender=_someone(t, gift.sender_name),
        what=_what(t, gift),
    )
    return [Reply(text, buttons=tuple(buttons[:3]), request_contact=turn.user.phone is None)]


def _problem_text(t: Localizer, problem: GiftProblem) -> str:
    texts = {
        GiftProblem.NOT_YOURS: t._("This gift is for someone else."),
        GiftProblem.OWN_GIFT: t._("You can't claim your own gift."),
        GiftProblem.EXPIRED: t._("This gift has expired."),
        GiftProblem.ALL_CLAIMED: t._("Sorry, every gift has already been claimed."),
        GiftProblem.ALREADY_CLAIMED: t._("You already claimed this gift."),
    }
    return texts.get(problem, t._("This gift is no longer available."))


# ---- private chat: 1:1 gifts, buttons, the claimer's number ------------------------------


async def start_direct(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    """ "gift 500 to 0803…" in a private chat: a gift link the sender passes on."""
    if turn.message.chat_kind is not ChatKind.PRIVATE:
        return [Reply(turn.t._("Let's do that in a private chat with me."))]
    if parsed.amount is None and not parsed.data_mb:
        return [_how_much_to_gift(turn)]
    gift = await gifts.create_draft(
        turn.session,
        channel=turn.message.channel,
        sender_user_id=turn.user.id,
        spec=_spec_of(parsed),
        sender_name=turn.message.display_name,
        origin_conversation_id=turn.conversation.id,
        recipient_phone=parsed.phone,
        ttl_hours=turn.gift_ttl_hours,
    )
    return [await confirmation_reply(turn.session, gift, turn.t, turn.country)]


def _how_much_to_gift(turn: Turn) -> Reply:
    """A gift asked for with no amount or size: say how to ask, with local examples."""
    country = turn.country
    assert country is not None
    return Reply(
        turn.t._(
            "How much would you like to gift? For example: gift %(amount)s to %(phone)s, or gift 1GB.",
            amount=turn.t.money(example_airtime(country)),
            phone=example_phone(country.code),
        )
    )


def _spec_of(parsed: Parsed) -> str:
    """The gift spec ("500", "1024MB") from what the parser read; "0" when it read no amount."""
    if parsed.data_mb:
        return f"{parsed.data_mb}MB"
    if parsed.amount is not None:
        return format(parsed.amount, "f")
    return "0"


async def on_payload(turn: Turn, action: str, value: str) -> list[Reply]:
    """The gift buttons: confirm, cancel, decline, "my number"."""
    t = turn.t
    match action:
        case "giftok" if value.isdigit():
            return await _confirm(turn, int(value))
        case "giftno" if value.isdigit():
            cancelled = await gifts.cancel_draft(turn.session, int(value), turn.user.id)
            return [
                Reply(
                    t._("Gift cancelled. Nothing was charged.")
                    if cancelled
                    else t._("That gift is already confirmed or cancelled.")
                )
            ]
        case "giftdecline" if value.isdigit():
            return await _decline(turn, int(value))
        case "giftphone" if turn.conversation.state == AWAIT_GIFT_PHONE:
            gift = await _slot_gift(turn)
            phone = turn.user.phone if value == "self" else (gift.recipient_phone if gift else None)
            if gift is None or phone is None:
                return [Reply(t._("That choice is no longer available."))]
            return await _claim(turn, gift, phone, None)
    return [Reply(t._("That choice is no longer available."))]


async def _slot_gift(turn: Turn) -> Gift | None:
    gift_id = turn.slots.get("gift")
    return await turn.session.get(Gift, gift_id) if isinstance(gift_id, int) else None


async def on_text(turn: Turn, text: str) -> list[Reply]:
    """While a claim waits for a number: read it (with a network name, if given)."""
    gift = await _slot_gift(turn)
    if gift is None or gift.country is None:
        turn.reset()
        return [Reply(turn.t._("That gift is no longer available."))]
    parsed = parse(text, gift.country)
    own = turn.user.phone if parsed.own_number else None
    phone = parsed.phone or normalize_phone(text, gift.country) or own
    if phone is None:
        return [
            Reply(
                turn.t._(
                    "Please send the phone number to top up, e.g. %(example)s.",
                    example=example_phone(gift.country),
                ),
                request_contact=turn.user.phone is None,
            )
        ]
    return await _claim(turn, gift, phone, parsed.network)


async def _claim(turn: Turn, gift: Gift, phone: str, network_id: str | None) -> list[Reply]:
    t = turn.t
    country = get_country(gift.country or "")
    assert country is not None and gift.amount is not None
    network = country.network(network_id or guess_network(phone, country.code) or "")
    if network is None:
        return [
            Reply(
                t._(
                    "I couldn't tell the network of %(phone)s."
                    ' Send it with the network name, e.g. "MTN %(phone)s".',
                    phone=display_phone(phone),
                )
            )
        ]
    bundle = None
    price = gift.amount
    if gift.kind == ProductKind.DATA:
        bundle = next((b for b in network.bundles if b.data_mb == gift.data_mb), None)
        if bundle is None:
            return [
                Reply(
                    t._(
                        "%(network)s has no bundle of that size. Try a number on another network.",
                        network=network.name,
                    )
                )
            ]
        price = bundle.price.minor
    request = gift_services.ClaimRequest(
        turn.user.id,
        turn.message.channel,
        turn.message.channel_user_id,
        turn.conversation.id,
        phone,
        network.id,
        price,
        bundle_code=bundle.code if bundle else None,
        claimer_name=turn.message.display_name,
    )
    claimed = await gift_services.claim_gift(turn.uow, turn.queue, gift.id, request)
    turn.reset()
    if isinstance(claimed, GiftProblem):
        return [Reply(_problem_text(t, claimed))]
    if not isinstance(claimed, gifts.Claimed):
        return [Reply(t._("That choice is no longer available."))]
    if not claimed.created:
        return [Reply(t._("You already claimed this gift."))]
    turn.placed_orders.append(claimed.order.id)
    return [
        Reply(
            t._(
                "🎁 Claimed! %(what)s is on its way to %(phone)s (ref %(ref)s)."
                " I'll tell you when it arrives.",
                what=_what(t, gift),
                phone=display_phone(phone),
                ref=claimed.order.reference,
            )
        )
    ]


async def _decline(turn: Turn, gift_id: int) -> list[Reply]:
    t = turn.t
    try:
        await gifts.decline(
            turn.session, gift_id, turn.message.channel, turn.message.channel_user_id, turn.user.id
        )
    except GiftRefused as refused:
        return [Reply(_problem_text(t, refused.problem))]
    turn.reset()
    return [Reply(t._("Gift declined. The sender gets their money back."))]


async def _confirm(turn: Turn, gift_id: int) -> list[Reply]:
    """The sender's Confirm: escrow the money, then announce the gift or hand over its link."""
    t = turn.t
    country = turn.country
    gift = await turn.session.get(Gift, gift_id)
    if gift is None or country is None or gift.sender_user_id != turn.user.id:
        return [Reply(t._("That choice is no longer available."))]
    priced = _price(t, country, gift.spec)
    if isinstance(priced, str):
        return [Reply(priced)]
    # The sender was told how long the gift lasts when they asked for it: keep that promise.
    hours = gift.ttl_hours or turn.gift_ttl_hours
    offer = gift_services.GiftOffer(
        priced.kind, country.code, country.currency, priced.amount, priced.shares, priced.data_mb
    )
    confirmed = await gift_services.confirm_gift(
        turn.uow,
        gift_id=gift.id,
        sender_user_id=turn.user.id,
        offer=offer,
        sender_conversation_id=turn.conversation.id,
        ttl_seconds=hours * 3600.0,
    )
    if isinstance(confirmed, InsufficientFunds):
        return [
            Reply(
                t._(
                    "Your balance (%(balance)s) is not enough for this gift. Nothing was charged.",
                    balance=t.money(confirmed.available),
                )
            )
        ]
    if isinstance(confirmed, GiftProblem) or not confirmed.created:
        return [Reply(t._("That gift is already confirmed or cancelled."))]
    gift = confirmed.gift
    turn.reset()
    if gift.origin_conversation_id not in (None, turn.conversation.id):
        await gifts.tell(turn.session, turn.user.id, gift.origin_conversation_id, f"gift_announce:{gift.id}")
        return [Reply(t._("🎁 Done! The money is set aside and I've announced your gift in the group."))]
    return [
        Reply(
            t.n_(
                '🎁 Your gift is ready. To get it, your friend sends "claim %(token)s" to me:'
                " forward them this message. Unclaimed, it comes back to you in %(hours)s hour.",
                '🎁 Your gift is ready. To get it, your friend sends "claim %(token)s" to me:'
                " forward them this message. Unclaimed, it comes back to you in %(hours)s hours.",
                hours,
                token=gift.claim_token,
                hours=hours,
            ),
            link=start_link(gift.claim_token),
            link_title=t._("Claim gift"),
        )
    ]


# ---- notifications --------------------------------------------------------------------------


async def render(session: AsyncSession, notification: Notification) -> Reply | None:
    """The text (and Claim link) of a gift notification, in its user's language."""
    kind, _, ref = notification.kind.partition(":")
    user = await session.get(User, notification.user_id)
    if user is None:
        return None
    order = await session.get(Order, notification.order_id) if notification.order_id else None
    gift: Gift | None = None
    claim: GiftClaim | None = None
    if ref.isdigit():
        gift = await session.get(Gift, int(ref))
    elif order is not None:
        claim = await session.scalar(select(GiftClaim).where(GiftClaim.order_id == order.id))
        gift = await session.get(Gift, claim.gift_id) if claim else None
    if gift is None:
        return None
    country = get_country(gift.country or user.country or "")
    t = localizer(user.language, country)
    if kind == "gift_confirm":
        return await confirmation_reply(session, gift, t, get_country(user.country or ""))
    sender = _someone(t, gift.sender_name)
    what = _what(t, gift) if gift.amount is not None else ""
    if kind in ("gift_announce", "gift_status"):
        return await _announcement(session, t, gift, update=kind == "gift_status")
    claimer = _someone(t, claim.claimer_name if claim else None)
    balance = ""
    if gift.currency and kind in ("gift_expired", "gift_declined", "gift_failed"):
        available = await available_balance(session, user.id, gift.currency)
        balance = "\n" + t._("Your balance: %(balance)s", balance=t.money(Money(available, gift.currency)))
    texts = {
        "gift_claimed": t._(
            "🎉 %(claimer)s claimed %(sender)s's gift of %(what)s.", claimer=claimer, sender=sender, what=what
        ),
        "gift_delivered": t._("✅ %(claimer)s received your gift of %(what)s.", claimer=claimer, what=what),
        "gift_failed": t._(
            "❌ Your gift to %(claimer)s could not be delivered; the money is back in your wallet.",
            claimer=claimer,
        ),
        "gift_undelivered": t._(
            "❌ The gift from %(sender)s could not be delivered to that number.", sender=sender
        ),
        "gift_expired": t._(
            "⌛ Your gift of %(what)s was not claimed in time; the unclaimed money is back in your wallet.",
            what=what,
        ),
        "gift_declined": t._(
            "Your gift of %(what)s was declined; the money is back in your wallet.", what=what
        ),
    }
    found = texts.get(kind)
    return Reply(found + balance) if found else None


async def _announcement(session: AsyncSession, t: Localizer, gift: Gift, *, update: bool) -> Reply:
    """The group's announcement of a gift as it stands now; ``update`` edits the one already shown."""
    sender = _someone(t, gift.sender_name)
    what = _what(t, gift) if gift.amount is not None else ""
    if gift.shares > 1:
        text = t._(
            "🎁 %(sender)s is giving away %(count)s × %(what)s! First come, first served.",
            sender=sender,
            count=gift.shares,
            what=what,
        )
    else:
        text = t._(
            "🎁 %(sender)s sent %(recipient)s %(what)s",
            sender=sender,
            recipient=_someone(t, gift.recipient_name),
            what=what,
        )
    status = await _status(session, t, gift)
    if status:
        text += "\n" + status
    key = f"gift:{gift.id}"
    claimable = gift.state == GiftState.ACTIVE
    return Reply(
        text,
        link=start_link(gift.claim_token) if claimable else None,
        link_title=t._("Claim") if claimable else "",
        key=None if update else key,
        replaces=key if update else None,
    )


async def _status(session: AsyncSession, t: Localizer, gift: Gift) -> str:
    """One line on where an announced gift stands: claims so far, claimed, expired or declined."""
    sender = _someone(t, gift.sender_name)
    if gift.shares > 1:
        return _giveaway_status(t, gift)
    if gift.state == GiftState.CLAIMED:
        claim = await session.scalar(select(GiftClaim).where(GiftClaim.gift_id == gift.id))
        name = (claim.claimer_name if claim else None) or gift.recipient_name
        return t._("✅ Claimed by %(name)s.", name=_someone(t, name))
    if gift.state == GiftState.EXPIRED:
        return t._("⌛ Expired; the money went back to %(sender)s.", sender=sender)
    if gift.state == GiftState.DECLINED:
        return t._("❌ Declined; the money went back to %(sender)s.", sender=sender)
    return ""


def _giveaway_status(t: Localizer, gift: Gift) -> str:
    """A giveaway's line: how many shares are claimed, all of them, or expiry with the rest refunded."""
    if gift.state == GiftState.CLAIMED:
        return t._("✅ All %(count)s claimed.", count=gift.shares)
    if gift.state == GiftState.EXPIRED:
        return t._(
            "⌛ Expired with %(claimed)s/%(count)s claimed; the rest went back to %(sender)s.",
            claimed=gift.claimed,
            count=gift.shares,
            sender=_someone(t, gift.sender_name),
        )
    if gift.claimed:
        return t._("🎁 %(claimed)s/%(count)s claimed", claimed=gift.claimed, count=gift.shares)
    return ""


def is_gift_notification(kind: str) -> bool:
    """True for the notification kinds ``render`` answers."""
    return kind.startswith("gift_")


# ---- the flow in the engine -------------------------------------------------------------------


async def _on_state(turn: Turn, text: str, parsed: Parsed) -> list[Reply]:
    return await on_text(turn, text)


async def _start(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return await start_direct(turn, parsed, turn.message.text or "")  # the words as sent, case and all


FLOW = Flow(
    "gift",
    states=(AWAIT_GIFT_PHONE,),
    on_state=_on_state,
    actions=("giftok", "giftno", "giftdecline", "giftphone"),
    on_payload=on_payload,
    starts={Intent.GIFT: _start},
)
