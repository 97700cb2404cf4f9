"""Conversation flows as the engine finds them: by the state a chat waits in, a button's action, an intent.

A flow (a purchase, a send, a gift claim, …) is one ``Flow`` value exposed by its own module and
registered once in ``conversations.registry``; the engine looks flows up in the registry instead of
naming them. The registry refuses two flows claiming one state, button action or intent, so the
lookups are unambiguous and the order flows are registered in never matters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field

from conversations.intents import Intent
from conversations.messages import Reply
from conversations.parser import Parsed
from conversations.turn import Turn

#: A message in one of the flow's states: its replies, or None when it asks for something else.
OnState = Callable[[Turn, str, Parsed], Awaitable[list[Reply] | None]]
#: A button of the flow pressed, as (action, value) of ``action:value``: its replies, or None for a
#: choice no longer available.
OnPayload = Callable[[Turn, str, str], Awaitable[list[Reply] | None]]
#: A request that starts the flow, as (parsed message, its text).
Start = Callable[[Turn, Parsed, str], Awaitable[list[Reply]]]


async def _nothing(turn: Turn, *args: object) -> None:
    """A handler for what a flow does not own."""
    return None


def _always(turn: Turn) -> bool:
    """A flow wired everywhere."""
    return True


@dataclass(frozen=True, slots=True)
class Flow:
    """One conversation flow: what it owns and how the engine hands it a message."""

    name: str
    states: tuple[str, ...] = ()
    """The conversation states it waits in; a message in one goes to ``on_state`` first."""
    on_state: OnState = _nothing
    actions: tuple[str, ...] = ()
    """The button actions (the payload before ``:``) it answers with ``on_payload``."""
    on_payload: OnPayload = _nothing
    starts: Mapping[Intent, Start] = field(default_factory=dict)
    """The intents that start it, each with its start."""
    available: Callable[[Turn], bool] = _always
    """Whether its intents start it here (a flow not wired leaves them to "not yet")."""
    private_only: bool = False
    """Its intents are refused in a group chat (a group sees no one's wallet or orders)."""


class FlowClash(ValueError):
    """Two flows claim one state, button action or intent."""


@dataclass
class FlowRegistry:
    """The flows the engine knows, found by state, button action or intent."""

    _by_state: dict[str, Flow] = field(default_factory=dict, init=False)
    _by_action: dict[str, Flow] = field(default_factory=dict, init=False)
    _by_intent: dict[str, Flow] = field(default_factory=dict, init=False)
    flows: list[Flow] = field(default_factory=list, init=False)

    def register(self, flow: Flow) -> Flow:
        """Add a flow; raises ``FlowClash`` when a state, action, intent or name is already taken."""
        if any(known.name == flow.name for known in self.flows):
            raise FlowClash(f"two flows are named {flow.name!r}")
        _check(flow.name, self._by_state, flow.states, "state")
        _check(flow.name, self._by_action, flow.actions, "button action")
        _check(flow.name, self._by_intent, flow.starts, "intent")
        self._by_state |= dict.fromkeys(flow.states, flow)
        self._by_action |= dict.fromkeys(flow.actions, flow)
        self._by_intent |= dict.fromkeys(flow.starts, flow)
        self.flows.append(flow)
        return flow

    def for_state(self, state: str) -> Flow | None:
        """The flow waiting in ``state``; None for the engine's own states (idle, onboarding)."""
        return self._by_state.get(state)

    def for_action(self, action: str) -> Flow | None:
        """The flow whose buttons carry ``action``."""
        return self._by_action.get(action)

    def for_intent(self, intent: Intent) -> Flow | None:
        """The flow ``intent`` starts."""
        return self._by_intent.get(intent)

    @property
    def states(self) -> frozenset[str]:
        """Every state some flow owns."""
        return frozenset(self._by_state)

    @property
    def actions(self) -> frozenset[str]:
        """Every button action some flow answers."""
        return frozenset(self._by_action)


def _check(name: str, taken: Mapping[str, Flow], keys: Iterable[str], what: str) -> None:
    """Raise when one of ``keys`` is claimed twice, by an earlier flow or within the flow itself."""
    keys = list(keys)
    for key in keys:
        if key in taken:
            raise FlowClash(f"{what} {key!r} is claimed by both {taken[key].name!r} and {name!r}")
        if keys.count(key) > 1:
            raise FlowClash(f"{what} {key!r} is claimed twice by {name!r}")
