"""Proving who you are in chat: KYC upgrades with a BVN, NIN or national ID card, and PIN resets.

"verify" → which number (BVN or NIN in Nigeria, the ID card elsewhere) → the number →
``kyc.prepare_upgrade``, the registry asked by the turn's identity verifier once the turn has
committed, ``kyc.apply_upgrade`` in the turn that gets its answer → the new level and limits.
"forgot my PIN" → the identity number already on file (compared by keyed hash, the registry is
not asked; users with none on file verify one first) → ``pins.reset``.

A send refused because the user was not verified rides along in the upgrade flow's slots and
resumes once the number is verified (``conversations.after_verify`` has the rule).

Identity numbers are secrets as PINs are: the replies to messages that carry one redact them from
the transcript (``Reply.forget_inbound``) and the slots only ever hold the kind being asked for.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any

from conversations import after_verify, transfers
from conversations.flows import Flow
from conversations.i18n import N_, Localizer
from conversations.intents import Intent
from conversations.messages import Button, ChatKind, Reply, forgetting
from conversations.parser import Parsed
from conversations.turn import OutsideCall, Turn
from domain import kyc, pins, risk
from domain.kyc import NumberProblem, UpgradeCheck, UpgradeOutcome, UpgradeResult
from domain.models import KycProfile
from domain.money import Money
from domain.ports import IdentityCheck, IdentityKind

#: Waiting for the kind of number (BVN or NIN), then for the number itself.
KIND, NUMBER = "id_kind", "id_number"
STATES = (KIND, NUMBER)
#: States whose messages are identity numbers.
SECRET_STATES = (NUMBER,)
#: Button actions: pick a kind, start verifying.
ACTIONS = ("idkind", "idverify")
#: Why a number is asked for: a KYC upgrade, or a PIN reset.
UPGRADE, RESET = "upgrade", "reset"
#: Wrong or unknown numbers in a row before the flow stops.
MAX_TRIES = 3

#: The order kinds are offered in.
_ORDER = (IdentityKind.BVN, IdentityKind.NIN, IdentityKind.NATIONAL_ID)
_KIND_WORDS = {"bvn": IdentityKind.BVN, "nin": IdentityKind.NIN, "nimc": IdentityKind.NIN}
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-./]*")
_WORD = re.compile(r"[a-z]+")
_ASK_NUMBER = {
    IdentityKind.BVN: N_("Send your 11-digit BVN (dial *565*0# from the number your bank has to see it)."),
    IdentityKind.NIN: N_("Send your 11-digit NIN (dial *346# to see it)."),
    IdentityKind.NATIONAL_ID: N_("Send the number on your national ID card."),
}
_REFUSALS = {
    UpgradeOutcome.NOT_ACCEPTED: N_("That kind of identity number is not used in your country."),
    UpgradeOutcome.NOT_FOUND: N_(
        "I couldn't find that number in the registry. Please check it and send it again."
    ),
    UpgradeOutcome.UNAVAILABLE: N_(
        "The identity registry is not answering right now. Please try again in a few minutes."
    ),
    UpgradeOutcome.ALREADY_LINKED: N_(
        "That number is already linked to another NexusTop account."
        " If it is yours, say agent and our team will help."
    ),
    UpgradeOutcome.DIFFERENT_NUMBER: N_(
        "Another number of that kind is already on your account."
        " To change it, say agent and our team will help."
    ),
    UpgradeOutcome.NAME_MISMATCH: N_(
        "The name on that number doesn't match the name on your other verified number."
        " If this is a mistake, say agent and our team will help."
    ),
}


def kind_label(t: Localizer, kind: IdentityKind) -> str:
    """How a kind of identity number is called: BVN, NIN, national ID number."""
    return t._("national ID number") if kind is IdentityKind.NATIONAL_ID else kind.value.upper()


def number_in(text: str) -> str | None:
    """The identity number in a message: its longest run of tokens with digits (at least 4)."""
    runs: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        if any(ch.isdigit() for ch in token):
            runs[-1].append(token)
        elif runs[-1]:
            runs.append([])
    best = max((" ".join(run) for run in runs), key=_digits, default="")
    return best if _digits(best) >= 4 else None


def carries_number(parsed: Parsed, text: str) -> bool:
    """True for a request to verify that already holds the number ("my BVN is 221…"): a secret."""
    return parsed.intent is Intent.VERIFY_IDENTITY and number_in(text) is not None


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def _kind_named(text: str, country: str) -> IdentityKind | None:
    accepted = kyc.accepted_kinds(country)
    for word in _WORD.findall(text.lower()):
        kind = _KIND_WORDS.get(word)
        if kind in accepted:
            return kind
    return None


def _missing(country: str, profile: KycProfile | None) -> list[IdentityKind]:
    """The kinds of number the country counts that the user has not verified yet."""
    accepted = kyc.accepted_kinds(country)
    have = kyc.verified_kinds(profile, country)
    return [kind for kind in _ORDER if kind in accepted and kind not in have]


def _country(turn: Turn) -> str:
    country = turn.country
    assert country is not None
    return country.code


def _unavailable(turn: Turn, purpose: str) -> Reply | None:
    """Why this flow cannot run in this chat, or None when it can."""
    t = turn.t
    if turn.message.chat_kind is not ChatKind.PRIVATE:
        return Reply(t._("Let's do that in a private chat with me."))
    if purpose == RESET and turn.transfers is None:
        return Reply(t._("Sending money is not available yet, so there is no PIN to reset."))
    if turn.identity is None or not turn.kyc_pepper or not kyc.accepted_kinds(_country(turn)):
        return Reply(t._("Identity checks are not available here yet."))
    return None


# ---- starting -------------------------------------------------------------------------------


async def start_verify(turn: Turn, text: str) -> list[Reply]:
    """ "verify", "upgrade", "my BVN is …": ask for what is missing, or verify at once."""
    refused = _unavailable(turn, UPGRADE)
    if refused is not None:
        return [refused]
    country = _country(turn)
    missing = _missing(country, await kyc.profile(turn.session, turn.user.id))
    kind = _kind_named(text, country)
    if kind is None and not missing:
        turn.reset()
        return [_already_verified(turn, await kyc.tier_of(turn.session, turn.user.id))]
    number = number_in(text)
    slots = {"purpose": UPGRADE, **after_verify.carried(turn)}
    replies = await _collect(turn, slots, kind, missing, number)
    return forgetting(replies) if number is not None else replies


async def start_reset(turn: Turn, text: str) -> list[Reply]:
    """ "forgot my PIN": ask for the identity number on file (verifying one first if there is none)."""
    refused = _unavailable(turn, RESET)
    if refused is not None:
        return [refused]
    t = turn.t
    if not await pins.has_pin(turn.session, turn.user.id):
        turn.reset()
        return [Reply(t._("You don't have a PIN yet. You'll choose one the first time you send money."))]
    country = _country(turn)
    found = await kyc.profile(turn.session, turn.user.id)
    on_file = [kind for kind in _ORDER if kind in kyc.verified_kinds(found, country)]
    if not on_file:
        intro = Reply(t._("To reset your PIN, I first need to check who you are."))
        replies = await _collect(
            turn, {"purpose": RESET}, _kind_named(text, country), _missing(country, found), None
        )
        return [intro, *replies]
    turn.set_slots({"purpose": RESET, "tries": 0}, NUMBER)
    kinds = " / ".join(kind_label(t, kind) for kind in on_file)
    return [Reply(t._("To reset your PIN, send the %(kinds)s you verified your account with.", kinds=kinds))]


async def _collect(
    turn: Turn,
    slots: dict[str, Any],
    kind: IdentityKind | None,
    missing: list[IdentityKind],
    number: str | None,
) -> list[Reply]:
    """Go on from what is known: ask the kind, ask the number, or check the number now."""
    if kind is None and len(missing) == 1:
        kind = missing[0]
    if kind is None:
        return [_ask_kind(turn, slots, missing)]
    slots |= {"kind": kind.value, "tries": 0}
    if number is not None:
        return await _check(turn, slots, number)
    return [_ask_number(turn, slots, kind)]


def _ask_kind(turn: Turn, slots: dict[str, Any], kinds: list[IdentityKind]) -> Reply:
    turn.set_slots(slots, KIND)
    t = turn.t
    buttons = tuple(Button(f"idkind:{kind.value}", kind_label(t, kind)) for kind in kinds[:3])
    return Reply(t._("Which number would you like to verify?"), buttons=buttons)


def _ask_number(turn: Turn, slots: dict[str, Any], kind: IdentityKind) -> Reply:
    turn.set_slots(slots, NUMBER)
    t = turn.t
    return Reply(
        t._(_ASK_NUMBER[kind])
        + "\n"
        + t._("I never keep the number itself, only a protected fingerprint of it.")
    )


# ---- answers --------------------------------------------------------------------------------


async def on_payload(turn: Turn, action: str, value: str) -> list[Reply]:
    """The identity buttons: a kind of number picked, or "Verify now"."""
    if action == "idverify":
        return await start_verify(turn, "")
    slots = turn.slots
    kind = next((k for k in _ORDER if k.value == value), None)
    if turn.conversation.state != KIND or kind is None or kind not in kyc.accepted_kinds(_country(turn)):
        return [Reply(turn.t._("That choice is no longer available."))]
    slots |= {"kind": kind.value, "tries": 0}
    return [_ask_number(turn, slots, kind)]


async def on_text(turn: Turn, text: str, parsed: Parsed) -> list[Reply] | None:
    """A message while this flow waits; None when it starts something else instead."""
    state = turn.conversation.state
    if state not in STATES:
        return None
    number = number_in(text)
    elsewhere = parsed.intent not in (Intent.UNKNOWN, Intent.VERIFY_IDENTITY)
    if elsewhere or (number is None and parsed.intent is Intent.VERIFY_IDENTITY):
        return None  # another request ("balance", "send 2000 to …", "verify"): start that instead
    if state == KIND:
        return await _on_kind_text(turn, text, number)
    return forgetting(await _on_number(turn, number))


async def _on_kind_text(turn: Turn, text: str, number: str | None) -> list[Reply]:
    slots = turn.slots
    country = _country(turn)
    kind = _kind_named(text, country)
    if kind is not None:
        slots |= {"kind": kind.value, "tries": 0}
        return [_ask_number(turn, slots, kind)]
    missing = _missing(country, await kyc.profile(turn.session, turn.user.id))
    asked = _ask_kind(turn, slots, missing or [k for k in _ORDER if k in kyc.accepted_kinds(country)])
    if number is not None:  # the number cannot wait in the slots: ask for it again once the kind is known
        return forgetting(
            [Reply(turn.t._("Tell me which kind of number it is first, then send it again.")), asked]
        )
    return [asked]


async def _on_number(turn: Turn, number: str | None) -> list[Reply]:
    slots = turn.slots
    if slots.get("purpose") == RESET and "kind" not in slots:
        return await _prove(turn, slots, number)
    if number is None:
        return _retry(
            turn, slots, turn.t._("That doesn't look like an identity number. Please send the digits.")
        )
    return await _check(turn, slots, number)


def _retry(turn: Turn, slots: dict[str, Any], text: str) -> list[Reply]:
    """Let the user try again, up to ``MAX_TRIES`` in a row."""
    tries = int(slots.get("tries", 0)) + 1
    if tries >= MAX_TRIES:
        turn.reset()
        return [
            Reply(text),
            Reply(turn.t._("Let's stop here for now. Say agent if you need help from our team.")),
        ]
    turn.set_slots(slots | {"tries": tries}, NUMBER)
    return [Reply(text)]


# ---- verifying ------------------------------------------------------------------------------


async def _check(turn: Turn, slots: dict[str, Any], number: str) -> list[Reply]:
    """Check ``number`` (``kyc.prepare_upgrade``), then ask the registry once the turn has committed."""
    assert turn.identity is not None
    kind = IdentityKind(slots["kind"])
    prepared = await kyc.prepare_upgrade(
        turn.session,
        user_id=turn.user.id,
        country=_country(turn),
        kind=kind,
        number=number,
        pepper=turn.kyc_pepper,
    )
    if isinstance(prepared, UpgradeResult):
        return await _on_result(turn, slots, result=prepared)
    turn.set_slots(slots, NUMBER)  # what the answer is applied to, in the turn that applies it
    return turn.call_outside(
        OutsideCall(
            "identity_check",
            partial(prepared.ask, turn.identity),
            partial(_on_registry, prepared),
            secret=True,
        )
    )


async def _on_registry(prepared: UpgradeCheck, turn: Turn, answer: IdentityCheck) -> list[Reply]:
    """The registry's answer, filed (``kyc.apply_upgrade``) and told; it answered a secret."""
    result = await kyc.apply_upgrade(turn.session, prepared, answer)
    return forgetting(await _on_result(turn, turn.slots, result=result))


async def _on_result(turn: Turn, slots: dict[str, Any], *, result: UpgradeResult) -> list[Reply]:
    """What came of an upgrade: the new level (and the send it resumes), a retry, or why not."""
    t = turn.t
    kind = IdentityKind(slots["kind"])
    if result.ok:
        turn.reset()
        if slots.get("purpose") == RESET:
            return [await _reset_pin(turn, kind)]
        return [await _verified(turn, kind, result), *(await _resume_send(turn, slots))]
    if result.outcome is UpgradeOutcome.INVALID_NUMBER:
        return _retry(turn, slots, _number_problem(t, kind, result.problem))
    if result.outcome is UpgradeOutcome.NOT_FOUND:
        return _retry(turn, slots, t._(_REFUSALS[result.outcome]))
    turn.reset()
    return [Reply(t._(_REFUSALS[result.outcome]))]


async def _resume_send(turn: Turn, slots: dict[str, Any]) -> list[Reply]:
    """The send that was refused until this verification, picked back up (if it is still fresh)."""
    send = after_verify.take(slots)
    return await transfers.resume(turn, send) if send is not None else []


def _number_problem(t: Localizer, kind: IdentityKind, problem: NumberProblem | None) -> str:
    if kind is IdentityKind.NATIONAL_ID:
        return t._("That doesn't look like an ID card number. Please send it as printed on the card.")
    if problem is NumberProblem.NOT_DIGITS:
        return t._("A %(kind)s has digits only. Please send it again.", kind=kind_label(t, kind))
    return t._("A %(kind)s has 11 digits. Please check it and send it again.", kind=kind_label(t, kind))


async def _verified(turn: Turn, kind: IdentityKind, result: UpgradeResult) -> Reply:
    t = turn.t
    if result.outcome is UpgradeOutcome.ALREADY_VERIFIED:
        head = t._("That number is already verified on your account.")
    elif result.outcome is UpgradeOutcome.UPGRADED:
        head = t._("✅ Verified! You're now at level %(tier)s.", tier=result.tier)
    else:
        head = t._("✅ Your %(kind)s is verified.", kind=kind_label(t, kind))
    lines = [head, limits_text(t, kyc.limits_for(_country(turn), result.tier))]
    missing = _missing(_country(turn), await kyc.profile(turn.session, turn.user.id))
    if missing:
        lines.append(
            t._("To raise your limits further, verify your %(kind)s too.", kind=kind_label(t, missing[0]))
        )
    return Reply("\n".join(lines))


def _already_verified(turn: Turn, tier: int) -> Reply:
    t = turn.t
    head = t._("Your identity is already verified: you're at level %(tier)s.", tier=tier)
    return Reply(head + "\n" + limits_text(t, kyc.limits_for(_country(turn), tier)))


def limits_text(t: Localizer, limits: kyc.TierLimits) -> str:
    """What a level allows, in one sentence."""
    if limits.max_balance is None:
        return t._(
            "You can send up to %(daily)s a day, with no limit on your balance.",
            daily=t.money(limits.daily_out),
        )
    return t._(
        "You can send up to %(daily)s a day and keep up to %(balance)s in your wallet.",
        daily=t.money(limits.daily_out),
        balance=t.money(limits.max_balance),
    )


# ---- PIN reset ------------------------------------------------------------------------------


async def _prove(turn: Turn, slots: dict[str, Any], number: str | None) -> list[Reply]:
    """Compare a number with the ones on file; reset the PIN when it is one of them."""
    t = turn.t
    kind = None
    if number is not None:
        kind = await kyc.number_on_file(turn.session, turn.user.id, _country(turn), number, turn.kyc_pepper)
    if kind is None:
        return _retry(
            turn, slots, t._("That doesn't match the identity number on your account. Please check it.")
        )
    turn.reset()
    return [await _reset_pin(turn, kind)]


async def _reset_pin(turn: Turn, kind: IdentityKind) -> Reply:
    await pins.reset(turn.session, turn.user.id, verified_by=kind.value)
    t = turn.t
    country = turn.country
    assert country is not None
    rules = turn.transfers.rules if turn.transfers is not None else risk.default_rules()
    hours = int(rules.cooling_off.total_seconds() // 3600)
    above = Money(rules.cooling_off_amount.get(country.currency, 0), country.currency)
    return Reply(
        t._("✅ Your PIN is reset. You'll choose a new one the next time you send money.")
        + "\n"
        + t.n_(
            "For your safety, transfers above %(amount)s are checked by our team"
            " for the next %(hours)s hour.",
            "For your safety, transfers above %(amount)s are checked by our team"
            " for the next %(hours)s hours.",
            hours,
            amount=t.money(above),
            hours=hours,
        )
    )


# ---- the flow in the engine -------------------------------------------------------------------


async def _verify(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return await start_verify(turn, text)


async def _reset(turn: Turn, parsed: Parsed, text: str) -> list[Reply]:
    return await start_reset(turn, text)


FLOW = Flow(
    "identity",
    states=STATES,
    on_state=on_text,
    actions=ACTIONS,
    on_payload=on_payload,
    starts={Intent.VERIFY_IDENTITY: _verify, Intent.RESET_PIN: _reset},
)
