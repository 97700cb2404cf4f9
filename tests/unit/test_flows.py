"""The flow registry: lookups, clashes refused, and every state and button the chat uses routed."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

from conversations import account, claims, gifting, identity, onboarding, purchase, transfers
from conversations.flows import Flow, FlowClash, FlowRegistry
from conversations.intents import Intent
from conversations.messages import Reply
from conversations.parser import Parsed
from conversations.registry import ENGINE_ACTIONS, ENGINE_STATES, FLOWS
from conversations.turn import IDLE, Turn

PACKAGE = Path(__file__).resolve().parents[2] / "conversations"
#: A button id's action, as written in an f-string or literal ("net:{…}", "cancel").
_ACTION = re.compile(r"^([a-z]+)(?::|$)")


async def _start(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return []


def _modules() -> list[tuple[ModuleType, ast.Module]]:
    """Every module of the conversations package, imported and parsed."""
    return [
        (importlib.import_module(f"conversations.{path.stem}"), ast.parse(path.read_text()))
        for path in sorted(PACKAGE.glob("*.py"))
    ]


def _value(module: ModuleType, node: ast.expr) -> object:
    """What a constant, a module-level name or ``module.NAME`` in ``module`` stands for."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return getattr(module, node.id)
    assert isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name), ast.dump(node)
    return getattr(getattr(module, node.value.id), node.attr)


def _called(node: ast.AST, name: str) -> bool:
    func = node.func if isinstance(node, ast.Call) else None
    return (isinstance(func, ast.Name) and func.id == name) or (
        isinstance(func, ast.Attribute) and func.attr == name
    )


def _states_written() -> set[str]:
    """Every state a conversation is put in: the second argument of each ``set_slots`` call."""
    states = set()
    for module, tree in _modules():
        for node in ast.walk(tree):
            if _called(node, "set_slots") and isinstance(node, ast.Call) and len(node.args) == 2:
                state = _value(module, node.args[1])
                assert isinstance(state, str)
                states.add(state)
    return states


def _leading_text(node: ast.expr) -> str | None:
    """The literal start of a string or f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def _actions_emitted() -> set[str]:
    """The action of every button or list row the chat sends; an id built elsewhere in the function
    (a list of choices) counts by the ``action:`` strings that function writes."""
    actions = set()
    for _, tree in _modules():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not (isinstance(node, ast.Call) and (_called(node, "Button") or _called(node, "ListRow"))):
                    continue
                ids = [node.args[0]]
                if _leading_text(node.args[0]) is None:
                    ids = [inner for inner in ast.walk(function) if isinstance(inner, ast.JoinedStr)]
                for id_ in ids:
                    if (text := _leading_text(id_)) and (match := _ACTION.match(text)):
                        actions.add(match.group(1))
    return actions


def test_the_registry_finds_each_flow_by_state_action_and_intent() -> None:
    assert FLOWS.for_state(purchase.AWAIT_PHONE) is purchase.FLOW
    assert FLOWS.for_state(transfers.CONFIRM) is transfers.FLOW
    assert FLOWS.for_state(gifting.AWAIT_GIFT_PHONE) is gifting.FLOW
    assert FLOWS.for_state(claims.AWAIT_CONTACT) is claims.FLOW
    assert FLOWS.for_state(identity.NUMBER) is identity.FLOW
    assert FLOWS.for_state("pin_enter") is transfers.PIN_FLOW
    assert FLOWS.for_state(IDLE) is None
    assert FLOWS.for_action("sendok") is transfers.FLOW
    assert FLOWS.for_action("giftok") is gifting.FLOW
    assert FLOWS.for_action("lang") is onboarding.LANGUAGE
    assert FLOWS.for_action("cancel") is None
    assert FLOWS.for_intent(Intent.BUY_DATA) is purchase.FLOW
    assert FLOWS.for_intent(Intent.RESET_PIN) is identity.FLOW
    assert FLOWS.for_intent(Intent.CHECK_BALANCE) is account.FLOW
    assert FLOWS.for_intent(Intent.HELP) is None


@pytest.mark.parametrize(
    "second",
    [
        Flow("b", states=("s",)),
        Flow("b", actions=("a",)),
        Flow("b", starts={Intent.GIFT: _start}),
        Flow("a"),
        Flow("b", states=("t", "t")),
    ],
    ids=["state", "action", "intent", "name", "twice in one flow"],
)
def test_two_flows_claiming_one_thing_are_refused(second: Flow) -> None:
    registry = FlowRegistry()
    registry.register(Flow("a", states=("s",), actions=("a",), starts={Intent.GIFT: _start}))
    with pytest.raises(FlowClash):
        registry.register(second)
    assert [flow.name for flow in registry.flows] == ["a"]


def test_every_state_belongs_to_one_flow_or_the_engine() -> None:
    written = _states_written()
    assert {purchase.AWAIT_CONFIRM, transfers.LOOKUP, "pin_choose", IDLE} <= written  # the scan sees them
    assert not FLOWS.states & ENGINE_STATES
    assert written - FLOWS.states - ENGINE_STATES == set()
    assert FLOWS.states | ENGINE_STATES == written  # no flow claims a state nothing enters


def test_every_button_the_chat_sends_is_routed() -> None:
    emitted = _actions_emitted()
    assert {"net", "bundle", "country", "lang", "sendok", "idkind", "giftphone", "cancel"} <= emitted
    assert not FLOWS.actions & ENGINE_ACTIONS
    assert emitted - FLOWS.actions - ENGINE_ACTIONS == set()
    assert FLOWS.actions <= emitted  # no flow answers a button nothing sends
