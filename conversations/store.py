"""A conversation's state on the turn path: one locking read at the start, one write at the end.

Everything here is a cacheable Core statement (no ORM unit of work): per turn, the identity, user
and conversation come back in one query that locks the conversation, and the transcript lines
and the conversation's new state are written once when the turn is answered. The identity's
username is written only on the turns that show a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import JSON, DateTime, Table, and_, bindparam, case, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from conversations.messages import InboundMessage, Reply
from conversations.turn import ChatState, ChatUser
from domain.database import DriverStatement, driver_connection, flush_pending
from domain.models import Conversation, Identity, Message, User, utcnow
from domain.users import find_or_create_user

_users = cast(Table, User.__table__)
_identities = cast(Table, Identity.__table__)
_conversations = cast(Table, Conversation.__table__)
_messages = cast(Table, Message.__table__)

# NO KEY UPDATE serializes the chat's turns like FOR UPDATE but does not block the KEY SHARE
# locks taken by rows that reference the conversation (messages, quotes, orders).
_OPEN = (
    select(
        _users.c.id,
        _users.c.phone,
        _users.c.country,
        _users.c.language,
        _conversations.c.id,
        _conversations.c.state,
        _conversations.c.slots,
        _conversations.c.misunderstood,
        _conversations.c.mode,
        _conversations.c.waiting_since.is_not(None),
        _identities.c.username,
    )
    .select_from(
        _identities.join(_users, _users.c.id == _identities.c.user_id).join(
            _conversations,
            and_(
                _conversations.c.channel == bindparam("channel"),
                _conversations.c.chat_id == bindparam("chat_id"),
            ),
        )
    )
    .where(
        _identities.c.channel == bindparam("channel"),
        _identities.c.channel_user_id == bindparam("channel_user_id"),
    )
    .with_for_update(of=_conversations, key_share=True)
)
_FIND_CONVERSATION = select(_conversations.c.id).where(
    _conversations.c.channel == bindparam("channel"), _conversations.c.chat_id == bindparam("chat_id")
)
# The state an outside call's answer leaves: no message came in, so last_inbound_at stays.
_SAVE_ANSWER = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(
        state=bindparam("state"),
        slots=bindparam("slots"),
        misunderstood=bindparam("misunderstood"),
        updated_at=bindparam("now"),
    )
)
_SAVE_CONVERSATION = _SAVE_ANSWER.values(last_inbound_at=bindparam("now"))
_SAVE_USER = (
    update(_users)
    .where(_users.c.id == bindparam("user_id"))
    .values(country=bindparam("country"), language=bindparam("language"))
)
# A handle belongs to one person at a time: whoever showed it before (and has since changed
# theirs) loses it in the same statement that gives it to this identity.
_SAVE_USERNAME = (
    update(_identities)
    .where(
        _identities.c.channel == bindparam("on_channel"),
        or_(
            _identities.c.channel_user_id == bindparam("owner"),
            _identities.c.username == bindparam("handle"),
        ),
    )
    .values(
        username=case((_identities.c.channel_user_id == bindparam("owner"), bindparam("handle")), else_=None)
    )
)
_ADD_MESSAGES = insert(_messages)
# PostgreSQL: the conversation's new state and the turn's transcript lines in one round trip,
# the lines passed as arrays (inserted in order, so ids follow the transcript).
_SAVE_TURN_PG = text(
    "WITH saved AS (UPDATE conversations SET state = :state, slots = CAST(:slots AS json),"
    " misunderstood = :misunderstood, last_inbound_at = :now, updated_at = :now"
    " WHERE id = :conversation_id RETURNING id)"
    " INSERT INTO messages (conversation_id, direction, sender, body, channel_message_id, created_at)"
    " SELECT saved.id, t.direction, t.sender, t.body, t.channel_message_id, :now"
    " FROM saved, unnest(CAST(:directions AS varchar[]), CAST(:senders AS varchar[]),"
    " CAST(:bodies AS text[]), CAST(:channel_message_ids AS varchar[]))"
    " WITH ORDINALITY AS t(direction, sender, body, channel_message_id, n) ORDER BY t.n"
).bindparams(bindparam("slots", type_=JSON), bindparam("now", type_=DateTime(timezone=True)))
# On PostgreSQL both run on the driver connection: they are on every turn (see DriverStatement).
_OPEN_ON_DRIVER = DriverStatement(_OPEN)
_SAVE_TURN_ON_DRIVER = DriverStatement(_SAVE_TURN_PG)


@dataclass(frozen=True, slots=True)
class Opened:
    """What a turn starts from: its user and its (locked) conversation, plus the user as loaded."""

    user: ChatUser
    conversation: ChatState
    loaded: tuple[str | None, str | None]
    """The user's country and language when loaded, to write back only what changed."""
    username: str | None = None
    """The identity's stored handle (lower-case), to write it only when the channel shows another."""


async def open_chat(session: AsyncSession, message: InboundMessage) -> Opened:
    """Find (or on first contact create) the user and the conversation, locking the conversation."""
    driver = await driver_connection(session)
    opened = await _find(session, driver, message)
    if opened is None:
        await _create(session, message)
        opened = await _find(session, driver, message)
        assert opened is not None
    handle = message.username.removeprefix("@").lower()[:64] if message.username else None
    if handle != opened.username:
        params = {"on_channel": message.channel, "owner": message.channel_user_id, "handle": handle}
        await session.execute(_SAVE_USERNAME, params)
    return opened


async def _find(session: AsyncSession, driver: Any, message: InboundMessage) -> Opened | None:
    params = {
        "channel": message.channel,
        "chat_id": message.chat_id,
        "channel_user_id": message.channel_user_id,
    }
    if driver is not None:
        row = await _OPEN_ON_DRIVER.fetchrow(driver, params)
    else:
        row = (await session.execute(_OPEN, params)).first()
    if row is None:
        return None
    user = ChatUser(row[0], row[1], row[2], row[3])
    conversation = ChatState(row[4], row[5], dict(row[6] or {}), row[7], row[8], bool(row[9]))
    return Opened(user, conversation, (user.country, user.language), row[10])


async def _create(session: AsyncSession, message: InboundMessage) -> None:
    """First contact on a channel or in a chat: create whichever of identity and conversation is missing."""
    known = await find_or_create_user(
        session,
        message.channel,
        message.channel_user_id,
        phone=message.phone,
        display_name=message.display_name,
    )
    params = {"channel": message.channel, "chat_id": message.chat_id}
    if (await session.execute(_FIND_CONVERSATION, params)).first() is not None:
        return
    try:
        async with session.begin_nested():
            session.add(
                Conversation(
                    user_id=known.user.id, channel=message.channel, chat_id=message.chat_id, slots={}
                )
            )
    except IntegrityError:
        pass  # another process created it first; the caller locks theirs


async def save_turn(
    session: AsyncSession, opened: Opened, inbound: dict[str, str | None], replies: Sequence[Reply]
) -> None:
    """Write the turn back: the user if it changed, the conversation's state, the transcript lines."""
    conversation = opened.conversation
    await _save_user(session, opened)
    state = {
        "conversation_id": conversation.id,
        "state": conversation.state,
        "slots": conversation.slots,
        "misunderstood": conversation.misunderstood,
        "now": utcnow(),
    }
    lines = [{"direction": "in", "sender": "user", **inbound}, *_outbound(replies)]
    driver = await driver_connection(session)  # the one open_chat began (looked up once per transaction)
    if driver is not None:
        await flush_pending(session)  # the session's changes first, as its autoflush would have done
        columns = {
            "directions": [line["direction"] for line in lines],
            "senders": [line["sender"] for line in lines],
            "bodies": [line["body"] for line in lines],
            "channel_message_ids": [line["channel_message_id"] for line in lines],
        }
        await _SAVE_TURN_ON_DRIVER.execute(driver, state | columns)
        return
    await session.execute(_SAVE_CONVERSATION, state)
    await session.execute(
        _ADD_MESSAGES,
        [{"conversation_id": conversation.id, "created_at": state["now"], **line} for line in lines],
    )


async def save_answer(session: AsyncSession, opened: Opened, replies: Sequence[Reply]) -> None:
    """Write back a turn that applied an outside call's answer: the state and the bot's replies."""
    conversation = opened.conversation
    await _save_user(session, opened)
    await flush_pending(session)
    await session.execute(
        _SAVE_ANSWER,
        {
            "conversation_id": conversation.id,
            "state": conversation.state,
            "slots": conversation.slots,
            "misunderstood": conversation.misunderstood,
            "now": utcnow(),
        },
    )
    await record_replies(session, conversation.id, replies)


async def _save_user(session: AsyncSession, opened: Opened) -> None:
    """Write the user's country and language back when the turn changed them."""
    user = opened.user
    if (user.country, user.language) != opened.loaded:
        await session.execute(
            _SAVE_USER, {"user_id": user.id, "country": user.country, "language": user.language}
        )


async def record_replies(session: AsyncSession, conversation_id: int, replies: Sequence[Reply]) -> None:
    """Add the bot's replies to a conversation's transcript."""
    if replies:
        now = utcnow()
        lines = [
            {"conversation_id": conversation_id, "created_at": now, **line} for line in _outbound(replies)
        ]
        await session.execute(_ADD_MESSAGES, lines)


def _outbound(replies: Sequence[Reply]) -> list[dict[str, str | None]]:
    return [
        {"direction": "out", "sender": "bot", "body": reply.text, "channel_message_id": None}
        for reply in replies
    ]
