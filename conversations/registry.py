"""The flows the engine knows: adding one is its module plus one line here."""

from __future__ import annotations

from conversations import (
    account,
    after_verify,
    claims,
    funding,
    gifting,
    identity,
    onboarding,
    purchase,
    transfers,
)
from conversations.flows import FlowRegistry
from conversations.turn import IDLE

#: States no flow owns: the engine's own (nothing going on; the country asked before anything else).
ENGINE_STATES = frozenset((IDLE, onboarding.AWAIT_COUNTRY))
#: Button actions no flow owns: the engine's own (cancel ends any flow; the country comes first).
ENGINE_ACTIONS = frozenset(("cancel", "country"))

FLOWS = FlowRegistry()
for _flow in (
    purchase.FLOW,
    transfers.FLOW,
    transfers.PIN_FLOW,
    after_verify.FLOW,
    funding.FLOW,
    gifting.FLOW,
    claims.FLOW,
    identity.FLOW,
    account.FLOW,
    onboarding.LANGUAGE,
):
    FLOWS.register(_flow)
