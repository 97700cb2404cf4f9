"""The conversation engine: one turn per inbound message, in order per conversation, state in the database."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from conversations import (
    account,
    claims,
    gifting,
    handoff,
    identity,
    onboarding,
    pin,
    purchase,
    receipts,
    store,
    transfers,
)
from conversations.intents import Intent
from conversations.messages import ChatKind, InboundMessage, Reply, forgetting
from conversations.parser import Parsed, parse
from conversations.registry import FLOWS
from conversations.turn import IDLE, WAITING_FOR, OutsideCall, Turn
from domain import handoff as modes
from domain import orders
from domain.countries import get_country
from domain.database import Database
from domain.funding import FundingService
from domain.gifts import DEFAULT_TTL_HOURS
from domain.handoff import Mode, Reason
from domain.models import Conversation, Order
from domain.orders import IN_FLIGHT
from domain.ports import FulfilmentQueue, IdentityVerifier
from domain.transfers import TransferService
from services.unit_of_work import UnitOfWork

#: Called inside a turn's transaction with (session, conversation id, replies), so a channel can
#: queue its outbound messages and mark its update processed atomically with the turn itself.
WithinTurn = Callable[[AsyncSession, int | None, list[Reply]], Awaitable[None]]
#: Told after commit that a conversation a person is (or should be) looking at changed: (id, mode).
LiveEvents = Callable[[int, str], Awaitable[None]]

log = logging.getLogger(__name__)

#: Intents a correction's words may also carry ("wrong number" is a complaint elsewhere).
_CORRECTABLE = frozenset((Intent.TALK_TO_AGENT, Intent.HELP, Intent.THANKS))
#: Outside calls one message may lead to in a row (an identity check, then the resumed send's lookup).
MAX_OUTSIDE_CALLS = 3
#: Longest text we look at; anything beyond is noise for a purchase chat.
MAX_TEXT = 1000
#: Control characters (NUL included, which PostgreSQL text cannot store), except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
#: What the transcript keeps of a message that held a PIN or an identity number.
REDACTED = "[PIN or ID number hidden]"
#: States whose messages are secrets, redacted even when nobody answers them (a person has the chat).
_SECRET_STATES = frozenset((*pin.STATES, *identity.SECRET_STATES))


def clean_text(text: str | None) -> str:
    """User text made safe to store and parse: no control characters, at most ``MAX_TEXT`` long."""
    return _CONTROL.sub("", text or "")[:MAX_TEXT]


def _awaited(turn: Turn) -> OutsideCall[Any] | None:
    """The outside call a turn asked for, its token kept in the slots; none once a person has the chat."""
    call = turn.outside
    if call is None:
        return None
    conversation = turn.conversation
    if conversation.handoff_now is not None or conversation.mode == Mode.WITH_AGENT:
        return None
    conversation.slots[WAITING_FOR] = call.token
    return call


def _transcript_body(message: InboundMessage, secret: bool) -> str:
    """The inbound line as the transcript keeps it: redacted when it held a secret."""
    if secret and message.text:
        return REDACTED
    return clean_text(message.text) or f"[{clean_text(message.payload)}]"


class Engine:
    """Answers inbound messages from any channel; places orders and hands them to fulfilment."""

    def __init__(
        self,
        db: Database,
        queue: FulfilmentQueue,
        *,
        quote_ttl_seconds: float = 600.0,
        demo: bool = False,
        live: LiveEvents | None = None,
        reply_minutes: int = handoff.DEFAULT_REPLY_MINUTES,
        funding: FundingService | None = None,
        gift_ttl_hours: int = DEFAULT_TTL_HOURS,
        transfers: TransferService | None = None,
        identity: IdentityVerifier | None = None,
        kyc_pepper: str | bytes = b"",
    ) -> None:
        self.db = db
        self.queue = queue
        self.quote_ttl_seconds = quote_ttl_seconds
        self.demo = demo
        self.live = live
        """Where the support inbox hears of turns in conversations that are not the bot's alone."""
        self.reply_minutes = reply_minutes
        self.funding = funding
        self.gift_ttl_hours = gift_ttl_hours
        self.transfers = transfers
        self.identity = identity
        self.kyc_pepper = kyc_pepper

    async def handle(self, message: InboundMessage, *, within: WithinTurn | None = None) -> list[Reply]:
        """Answer one message; orders it placed are queued only after everything is committed.

        ``within`` runs in the same transaction as the turn: what it writes commits with the
        turn or not at all, so a retried update can never answer twice. A turn that asks the
        outside world (an account lookup, an identity check, a payment link) commits first; the
        call is made with no transaction open (the conversation is not locked meanwhile) and its
        answer is applied in a turn of its own, whose replies go through ``within`` too and
        follow the first turn's in the list returned.
        """
        uow = UnitOfWork(self.db)
        replies, call = await self._first_turn(uow, message, within)
        for _ in range(MAX_OUTSIDE_CALLS):
            if call is None:
                break
            answer = await call.ask()
            more, call = await self._answer_turn(uow, message, call, answer, within)
            replies += more
        if call is not None:
            log.warning(
                "conversation turn asked more than %d outside calls; %s dropped", MAX_OUTSIDE_CALLS, call.kind
            )
        return replies

    async def _first_turn(
        self, uow: UnitOfWork, message: InboundMessage, within: WithinTurn | None
    ) -> tuple[list[Reply], OutsideCall[Any] | None]:
        """The message's own turn: its replies, and the outside call it asked for (made after commit)."""
        async with uow.transaction() as session:
            opened = await store.open_chat(session, message)
            # A new message supersedes an outside answer still awaited: that answer is ignored.
            opened.conversation.slots.pop(WAITING_FOR, None)
            turn = self._turn(uow, opened, message)
            secret = opened.conversation.state in _SECRET_STATES
            if opened.conversation.mode == Mode.WITH_AGENT:
                replies = []  # a person has this chat: keep the message for them, the bot stays silent
            else:
                replies = await self._answer(turn)
            call = _awaited(turn)
            forget = (
                secret or any(reply.forget_inbound for reply in replies) or (call is not None and call.secret)
            )
            inbound = {
                "body": _transcript_body(message, forget),
                "channel_message_id": message.channel_message_id,
            }
            await store.save_turn(session, opened, inbound, replies)
            await self._close(session, opened, replies, within)
        await self._tell_live(opened)
        return replies, call

    async def _answer_turn(
        self,
        uow: UnitOfWork,
        message: InboundMessage,
        call: OutsideCall[Any],
        answer: object,
        within: WithinTurn | None,
    ) -> tuple[list[Reply], OutsideCall[Any] | None]:
        """Apply an outside call's answer under the conversation's lock, if it still waits for it."""
        async with uow.transaction() as session:
            opened = await store.open_chat(session, message)
            conversation = opened.conversation
            if conversation.slots.get(WAITING_FOR) != call.token or conversation.mode == Mode.WITH_AGENT:
                log.info("conversation %s moved on: its %s answer is ignored", conversation.id, call.kind)
                return [], None
            del conversation.slots[WAITING_FOR]
            turn = self._turn(uow, opened, message)
            replies = await call.apply(turn, answer)
            following = _awaited(turn)
            await store.save_answer(session, opened, replies)
            await self._close(session, opened, replies, within)
        await self._tell_live(opened)
        return replies, following

    def _turn(self, uow: UnitOfWork, opened: store.Opened, message: InboundMessage) -> Turn:
        """A turn on a conversation just opened (locked), with this engine's services."""
        turn = Turn(
            uow, self.queue, opened.user, opened.conversation, message, self.quote_ttl_seconds, self.demo
        )
        turn.reply_minutes = self.reply_minutes
        turn.funding = self.funding
        turn.gift_ttl_hours = self.gift_ttl_hours
        turn.transfers, turn.identity, turn.kyc_pepper = self.transfers, self.identity, self.kyc_pepper
        return turn

    @staticmethod
    async def _close(
        session: AsyncSession, opened: store.Opened, replies: list[Reply], within: WithinTurn | None
    ) -> None:
        """The end of any turn's transaction: a handoff noted, the channel's own writes."""
        if opened.conversation.handoff_now is not None:
            await modes.note_waiting(session, opened.conversation.id, Reason(opened.conversation.handoff_now))
        if within is not None:
            await within(session, opened.conversation.id, replies)

    async def _tell_live(self, opened: store.Opened) -> None:
        """After commit: tell the support inbox about a conversation a person is (or should be) watching."""
        conversation = opened.conversation
        if self.live is not None and (conversation.mode != Mode.BOT or conversation.handed_off):
            await self.live(conversation.id, conversation.mode)

    async def _answer(self, turn: Turn) -> list[Reply]:
        """The bot's answer; two misunderstood turns in a row hand the chat to a person."""
        conversation = turn.conversation
        if conversation.mode == Mode.RESOLVED and await modes.reopen(turn.session, conversation.id):
            conversation.mode = Mode.BOT.value
        before = conversation.misunderstood
        open_quote = turn.slots.get("quote")
        replies = await self._respond(turn)
        if conversation.misunderstood <= before:
            conversation.misunderstood = 0
        elif (
            conversation.misunderstood >= handoff.MISUNDERSTOOD_LIMIT
            and turn.message.chat_kind is ChatKind.PRIVATE  # group chatter is not a plea for help
        ):
            conversation.misunderstood = 0
            replies = [
                *_without_choices(turn, replies[:1]),
                await handoff.hand_off(turn, Reason.MISUNDERSTOOD),
            ]
        if open_quote and not turn.placed_orders and _left_behind(turn, str(open_quote)):
            await orders.void_quotes(turn.session, conversation.id, str(open_quote))
        return replies

    async def notifications(self, channel: str, chat_id: str) -> list[Reply]:
        """Receipts and updates waiting for a chat, each delivered once."""
        async with self.db.transaction() as session:
            conversation = await _find_conversation(session, channel, chat_id)
            if conversation is None:
                return []
            replies = await receipts.take_undelivered(session, conversation.id)
            await store.record_replies(session, conversation.id, replies)
            return replies

    async def orders_in_flight(self, channel: str, chat_id: str) -> int:
        """How many orders placed from a chat are still waiting for the provider."""
        async with self.db.transaction() as session:
            conversation = await _find_conversation(session, channel, chat_id)
            if conversation is None:
                return 0
            count = await session.scalar(
                select(func.count(Order.id)).where(
                    Order.conversation_id == conversation.id, Order.state.in_(list(IN_FLIGHT))
                )
            )
            return int(count or 0)

    async def _respond(self, turn: Turn) -> list[Reply]:
        text = clean_text(turn.message.text)
        payload = clean_text(turn.message.payload)[:128]
        if payload.startswith("country:"):
            return await _onboard(turn, payload.removeprefix("country:"), None, "")
        if not payload and (token := gifting.token_in(turn.message, text)):
            if claims.is_claim_token(token):
                return await claims.on_link(turn, token)
            return await gifting.on_start(turn, token)
        if turn.message.chat_kind is ChatKind.GROUP and gifting.is_gift_command(text):
            return await gifting.in_group(turn, text)
        if turn.user.country is None:
            parsed = parse(text, turn.message.country_hint or "NG") if text.strip() else None
            if turn.user.language is None:
                turn.user.language = onboarding.first_language(turn, parsed)
            country = onboarding.country_from_message(turn, text, parsed)
            if country is None and parsed is not None and identity.carries_number(parsed, text):
                return forgetting([onboarding.ask_country(turn, "")])  # never kept to replay later
            if country is None:
                return [onboarding.ask_country(turn, text)]
            return await _onboard(turn, country, parsed, text)
        if payload:
            return await _on_payload(turn, payload)
        return await _on_text(turn, text)


async def _onboard(turn: Turn, country: str, parsed: Parsed | None, text: str) -> list[Reply]:
    """Settle the country, then answer the request the user made before we knew it."""
    if get_country(country) is None:
        return [Reply(turn.t._("That choice is no longer available."))]
    if turn.user.country == country.upper():
        return [Reply(turn.t._("You're all set. What would you like to buy?"))]
    first_contact = turn.user.country is None
    replies, pending = await onboarding.settle(turn, country, onboarding.first_language(turn, parsed))
    if first_contact:
        replies += await claims.collect_waiting(turn)
    request = pending if pending else (text if first_contact else "")
    if request and _only_thanks(turn, request):
        replies.append(account.help_reply(turn))  # a first "thanks" is a greeting: show what we do
    elif request and not _only_country(turn, request):
        replies += await _on_text(turn, request)
    return replies


def _only_thanks(turn: Turn, text: str) -> bool:
    country = turn.country
    return parse(text, country.code if country else "NG").intent is Intent.THANKS


def _only_country(turn: Turn, text: str) -> bool:
    """True when the text did nothing but name the country (no request to replay)."""
    country = turn.country
    parsed = parse(text, country.code if country else "NG")
    return parsed.intent in (Intent.UNKNOWN, Intent.HELP) and parsed.country is not None


async def _on_payload(turn: Turn, payload: str) -> list[Reply]:
    """A button pressed: cancel is the engine's, any other action goes to the flow that owns it."""
    action, _, value = payload.partition(":")
    if action == "cancel":
        return [await _cancel(turn)]
    flow = FLOWS.for_action(action)
    answer = await flow.on_payload(turn, action, value) if flow is not None else None
    return answer if answer is not None else [Reply(turn.t._("That choice is no longer available."))]


async def _on_text(turn: Turn, text: str) -> list[Reply]:
    """A typed message: the engine's rules first, then the flow the chat's state waits in, then the intent."""
    if not text.strip():
        return [account.help_reply(turn)]
    if onboarding.is_language_request(text):
        return [onboarding.language_reply(turn, text)]
    country = turn.country
    assert country is not None
    parsed = parse(text, country.code)
    if parsed.intent is Intent.CANCEL:
        return [await _cancel(turn)]
    state = turn.conversation.state
    if state in purchase.PURCHASE_STATES and (answer := await _to_open_purchase(turn, text, parsed)):
        return answer
    flow = FLOWS.for_state(state)
    if flow is not None and (answer := await flow.on_state(turn, text, parsed)) is not None:
        return answer
    # A flow that let the message go may have ended (a send kept for verifying): read the state again.
    idle = turn.conversation.state == IDLE
    if idle and (answer := await transfers.stray_secret(turn, text, parsed)):
        return answer
    if parsed.intent is Intent.CONFIRM:
        return await purchase.confirm(turn, None)
    if parsed.intent is Intent.CHANGE_NETWORK and "phone" in turn.slots and not parsed.network:
        return [purchase.change_network(turn)]  # "wrong network": which one, then
    return await _on_intent(turn, parsed, text)


async def _to_open_purchase(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """What a message does to the open quote or question before it may start anything new: a yes
    to the bot's own suggestion, a correction (however worded), a side question answered with the
    quote still open; None when it does none of these."""
    if parsed.intent is Intent.CONFIRM:
        return await purchase.accept_suggestion(turn)
    if "correction" in parsed.flags and (
        purchase.continues_flow(turn, parsed) or parsed.intent in _CORRECTABLE
    ):
        if _carries_change(parsed):
            return await purchase.continue_purchase(turn, text, parsed)
        wrong = {flag.removeprefix("wrong:") for flag in parsed.flags if flag.startswith("wrong:")}
        return await purchase.forget_wrong(turn, wrong) if wrong else None
    if parsed.intent in account.ANSWERS:
        return [await account.ANSWERS[parsed.intent](turn), *(await purchase.open_again(turn))]
    return None


def _carries_change(parsed: Parsed) -> bool:
    """Whether a message names a value a quote is made of (or tried to: a bad number, a huge amount)."""
    return bool(
        parsed.phone
        or parsed.amount is not None
        or parsed.network
        or parsed.data_mb
        or parsed.validity_days
        or parsed.own_number
        or parsed.flags & {"invalid_phone", "huge_amount", "negative_amount"}
    )


def _left_behind(turn: Turn, quote_id: str) -> bool:
    """Whether the purchase a quote belonged to is over (a person has the chat, another flow
    started, it was cancelled) without the quote being confirmed or asked a PIN for."""
    slots = turn.slots
    return turn.conversation.state not in purchase.PURCHASE_STATES and quote_id not in (
        slots.get("quote"),
        slots.get(purchase.PIN_FOR),
    )


def _without_choices(turn: Turn, replies: list[Reply]) -> list[Reply]:
    """Replies kept before a handoff, without buttons (a Confirm there would be for a void quote)."""
    if any(reply.choices() for reply in replies):
        return [Reply(turn.t._("Sorry, I didn't get that."))]
    return replies


async def _on_intent(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    """A request no flow in progress took: the flow it starts, else the engine's own answers."""
    intent = parsed.intent
    flow = FLOWS.for_intent(intent)
    if turn.message.chat_kind is ChatKind.GROUP and flow is not None and flow.private_only:
        return [Reply(turn.t._("Let's do that in a private chat with me."))]
    if purchase.implied_product(parsed) is not None:
        return await purchase.start_buying(turn, parsed, text)
    if flow is not None and flow.available(turn):
        if flow.states and flow is not purchase.FLOW and turn.conversation.state in purchase.PURCHASE_STATES:
            turn.reset()  # a flow of its own ends the purchase: its quote is void (see Engine._answer)
        return await flow.starts[intent](turn, parsed, text)
    if intent is Intent.TALK_TO_AGENT:
        return [await handoff.hand_off(turn, Reason.ASKED)]
    if intent in account.NOT_YET:
        return [account.not_yet_reply(turn, intent)]
    if turn.conversation.mode == Mode.WAITING and intent in (Intent.HELP, Intent.UNKNOWN):
        return [handoff.still_waiting(turn)]  # "hello?" while a person is on the way
    if intent is Intent.HELP and turn.conversation.state in purchase.PURCHASE_STATES:
        # then the question again, or the quote still open
        if "quote" in turn.slots:
            return [account.help_reply(turn), purchase.quote_still_open(turn)]
        return [account.help_reply(turn), *(await purchase.advance(turn, turn.slots))]
    if intent in (Intent.HELP, Intent.CHANGE_NETWORK):  # no order to change: what we can do
        return [account.help_reply(turn)]
    if intent is Intent.THANKS:
        return [Reply(turn.t._("You're welcome! Say help any time to see what I can do."))]
    turn.conversation.misunderstood += 1
    return [Reply(turn.t._("Sorry, I didn't get that.")), account.help_reply(turn)]


async def _cancel(turn: Turn) -> Reply:
    had_flow = turn.conversation.state != IDLE
    turn.reset()
    if had_flow:
        return Reply(turn.t._("Cancelled. Nothing was charged."))
    last = await orders.last_order(turn.session, turn.user.id)
    if last is not None and last.state in IN_FLIGHT:
        # A top-up sent to the network cannot be called back: say so rather than "nothing to cancel".
        return Reply(
            turn.t._(
                "Your order %(ref)s is already with the network and can't be cancelled."
                " I'll message you as soon as it is done.",
                ref=last.reference,
            )
        )
    return Reply(turn.t._("There is nothing to cancel."))


async def _find_conversation(session: AsyncSession, channel: str, chat_id: str) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(Conversation.channel == channel, Conversation.chat_id == chat_id)
    )
