"""Every sandbox refuses a knob it does not have, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.gateway import GatewaySandbox
from sandbox.graph import GraphState
from sandbox.serving import refuse_unknown_knobs
from sandbox.transfers import TransferBook
from sandbox.vtpass import SandboxState


def test_unknown_knobs_are_named_and_known_ones_pass() -> None:
    refuse_unknown_knobs({"copies": 2}, ("copies", "delay"))
    with pytest.raises(ValueError, match=r"unknown knobs: \['colour', 'size'\]"):
        refuse_unknown_knobs({"copies": 2, "size": 1, "colour": "red"}, ("copies", "delay"))


def _no_webhook(*_: Any) -> Any:
    raise AssertionError("not called")


@pytest.mark.parametrize(
    "sandbox",
    [
        GatewaySandbox(_no_webhook),
        TransferBook(GatewaySandbox(_no_webhook), _no_webhook),
        GraphState("token", "secret", "phone"),
        SandboxState("api", "public", "secret"),
    ],
    ids=["gateway", "transfers", "graph", "vtpass"],
)
def test_each_sandbox_refuses_a_knob_it_does_not_have(sandbox: Any) -> None:
    with pytest.raises(ValueError, match=r"unknown knobs: .*no_such_knob"):
        sandbox.set_knobs({"no_such_knob": 1})
