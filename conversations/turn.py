"""The context of one conversation turn, shared by the flows that answer it."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from conversations.i18n import Localizer, localizer
from conversations.messages import InboundMessage, Reply
from domain.countries import Country, get_country
from domain.funding import FundingService
from domain.gifts import DEFAULT_TTL_HOURS
from domain.ports import FulfilmentQueue, IdentityVerifier
from domain.transfers import TransferService
from services.unit_of_work import UnitOfWork


@dataclass(slots=True)
class ChatUser:
    """The user behind a turn, as loaded at its start (changes are written back at its end)."""

    id: int
    phone: str | None
    country: str | None
    language: str | None


@dataclass(slots=True)
class ChatState:
    """A conversation's engine state, as loaded (locked) at a turn's start and saved at its end."""

    id: int
    state: str
    slots: dict[str, Any]
    misunderstood: int
    mode: str = "bot"
    """Who answers (``domain.handoff.Mode``); a turn saves it only through ``domain.handoff``."""
    handed_off: bool = False
    """A person has been asked for at some point: the support inbox follows this chat live."""
    handoff_now: str | None = None
    """Why this turn handed the chat to a person (``domain.handoff.Reason``), if it did."""


Answer = TypeVar("Answer")

#: The state of a conversation with no flow going on.
IDLE = "idle"
#: The slot that names the outside answer a conversation waits for (``OutsideCall.token``).
WAITING_FOR = "waiting_for"


@dataclass(frozen=True, slots=True)
class OutsideCall(Generic[Answer]):
    """A question a flow puts to the outside world (a registry, a bank, a gateway) in a turn.

    The engine commits the turn first, then awaits ``ask`` with no transaction open, then hands
    the answer to ``apply`` in a new turn that holds the conversation's lock again, but only if
    the conversation still waits for this very call (its ``token``): a user who wrote again
    meanwhile, a person taking the chat, or a second delivery of the answer changes nothing.
    """

    kind: str
    """What is asked (for logs): ``account_lookup``, ``identity_check``, ``payment_link``."""
    ask: Callable[[], Awaitable[Answer]]
    """The outside call; it must not raise for the provider's trouble (answer that instead)."""
    apply: Callable[[Turn, Answer], Awaitable[list[Reply]]]
    """The flow's next step with the answer, in the new turn; returns that turn's replies."""
    secret: bool = False
    """The message that led to the call held a secret (an identity number): it is redacted."""
    token: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass
class Turn:
    """One inbound message being answered, inside one database transaction."""

    uow: UnitOfWork
    """The turn's unit of work: use cases join its transaction; after-commit work waits for it."""
    queue: FulfilmentQueue
    """Where orders placed in this turn go, once the turn has committed."""
    user: ChatUser
    conversation: ChatState
    message: InboundMessage
    quote_ttl_seconds: float
    demo: bool
    placed_orders: list[int] = field(default_factory=list)
    """Orders placed in this turn (each queued for fulfilment by the use case, after the commit)."""
    reply_minutes: int = 15
    """Roughly how soon a person answers once the bot hands the chat over (told to the user)."""
    funding: FundingService | None = None
    """Starts wallet top-ups at payment gateways; None where funding is not wired (then "coming soon")."""
    transfers: TransferService | None = None
    """Sends money out (P2P, claimable links, payouts); None where money out is not wired (no PIN pepper)."""
    identity: IdentityVerifier | None = None
    """Looks identity numbers up in the national registries; None where KYC checks are not wired."""
    kyc_pepper: str | bytes = b""
    """Key of the identity-number hashes (``domain.kyc``); empty where KYC checks are not wired."""
    gift_ttl_hours: int = DEFAULT_TTL_HOURS
    """How long a gift asked for in this turn stays claimable once confirmed (``GIFT_TTL_HOURS``)."""
    outside: OutsideCall[Any] | None = None
    """The outside call this turn asked for, made by the engine once the turn has committed."""

    @property
    def session(self) -> AsyncSession:
        """The turn's open transaction."""
        return self.uow.session

    @property
    def country(self) -> Country | None:
        """The user's country, once known."""
        return get_country(self.user.country) if self.user.country else None

    @property
    def t(self) -> Localizer:
        """Translate and format for this user."""
        return localizer(self.user.language, self.country)

    @property
    def slots(self) -> dict[str, Any]:
        """The conversation's slots (a copy; write back with ``set_slots``)."""
        return dict(self.conversation.slots or {})

    def set_slots(self, slots: dict[str, Any], state: str) -> None:
        """Replace the slots and the state."""
        self.conversation.slots = dict(slots)
        self.conversation.state = state

    def reset(self) -> None:
        """Forget any flow in progress."""
        self.set_slots({}, IDLE)

    def call_outside(self, call: OutsideCall[Answer]) -> list[Reply]:
        """Ask the outside world after this turn commits; its answer comes in a turn of its own.

        Returns this turn's replies for the flow to return (none: the answer's turn speaks).
        """
        if self.outside is not None:
            raise RuntimeError(f"a turn makes one outside call; {self.outside.kind} is already asked")
        self.outside = call
        return []
