"""Who may act on a conversation, over HTTP on PostgreSQL: every action × role × holder.

The rule (``admin/permissions.py``): the assignee or an admin acts on a conversation someone
holds; anyone acts on one nobody holds (and takes it); replying needs it held. A refused action
changes nothing and writes no audit line; the page offers exactly the permitted actions.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import unquote_plus

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from domain import handoff
from domain.fulfilment import fulfil
from domain.handoff import Reason
from domain.models import AuditEntry, Conversation, Order, Staff
from tests.integration.inbox_harness import Agent, csrf_of, login, new_staff
from tests.integration.placed_orders import place
from tests.integration.test_inbox_access import Undecided
from tests.integration.test_inbox_transfers import customer, send
from tests.integration.whatsapp_harness import Harness, nigerian_number, whatsapp_app

ACTS = ("take", "handback", "resolve", "reply", "note", "refund", "release", "reject")
ROLES = ("agent", "admin")
HOLDERS = ("nobody", "viewer", "another agent")


def expected(act: str, role: str, holder: str) -> bool:
    """The table the inbox must follow."""
    if holder == "nobody":
        return act != "reply"
    if holder == "viewer":
        return act != "take"
    return role == "admin"


@dataclass
class Team:
    """The app and the staff: an agent and an admin who view, and the agent who holds others' chats."""

    h: Harness
    emails: dict[str, str]
    ids: dict[str, int]


@pytest_asyncio.fixture(scope="module")
async def team(pg_url: str) -> AsyncIterator[Team]:
    async with whatsapp_app(pg_url) as h:
        emails = {role: await new_staff(h.app.db, role) for role in ROLES}
        emails["holder"] = await new_staff(h.app.db, "agent", name="Holly Holder")
        async with h.app.db.transaction() as session:
            ids = {
                role: int(await session.scalar(select(Staff.id).where(Staff.email == email)) or 0)
                for role, email in emails.items()
            }
        yield Team(h, emails, ids)


async def _hold(team: Team, conversation_id: int, holder: str, viewer: str) -> None:
    """Put the conversation in the holder state: waiting for anyone, or taken by someone."""
    async with team.h.app.db.transaction() as session:
        await handoff.request(session, conversation_id, Reason.ASKED)
        if holder != "nobody":
            who = viewer if holder == "viewer" else "holder"
            assert await handoff.take_over(session, conversation_id, team.ids[who], who)


async def _target(team: Team, act: str) -> tuple[int, str, str, dict[str, str]]:
    """A fresh subject for ``act``: (conversation id, form path, page path, form data)."""
    db = team.h.app.db
    if act == "refund":
        placed = await place(db, f"+234803{nigerian_number()[-7:]}")
        for _ in range(3):
            await fulfil(db, Undecided(), placed.order_id, (0.0, 0.0))
        async with db.transaction() as session:
            conversation_id = await session.scalar(
                select(Order.conversation_id).where(Order.id == placed.order_id)
            )
        assert conversation_id is not None
        data = {"reason": "provider confirmed failure", "back": str(conversation_id)}
        return conversation_id, f"/inbox/orders/{placed.order_id}/refund", f"/inbox/c/{conversation_id}", data
    who = await customer(team.h, "Ngozi Eze", verified_by=team.ids["admin"])
    if act in ("release", "reject"):
        transfer = await send(db, who, 500)
        page = f"/inbox/transfers/{transfer.id}"
        return who.conversation_id, f"{page}/{act}", page, {"reason": "looks like fraud"}
    page = f"/inbox/c/{who.conversation_id}"
    return who.conversation_id, f"{page}/{act}", page, {"text": "Hello from support"}


async def _audit_lines(team: Team, staff_id: int) -> int:
    async with team.h.app.db.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.actor == f"staff:{staff_id}")
        )
    return int(count or 0)


async def _conversation(team: Team, conversation_id: int) -> tuple[str, int | None]:
    async with team.h.app.db.transaction() as session:
        found = await session.get(Conversation, conversation_id)
        assert found is not None
        return found.mode, found.assignee_id


_BUTTONS = {
    "take": 'name="take"',
    "handback": 'name="handback"',
    "resolve": 'name="resolve"',
    "reply": 'name="send"',
    "note": "/note",
    "refund": "/refund",
    "release": 'name="release"',
    "reject": 'name="reject"',
}


@pytest.mark.parametrize("holder", HOLDERS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("act", ACTS)
async def test_conversation_actions_follow_the_holder_rule(
    team: Team, act: str, role: str, holder: str
) -> None:
    conversation_id, path, page, data = await _target(team, act)
    await _hold(team, conversation_id, holder, role)
    client = team.h.client
    client.session.cookie_jar.clear()
    assert await login(client, team.emails[role]) == 303
    viewer = Agent(client)
    html = await viewer.page(page)
    allowed = expected(act, role, holder)
    assert (_BUTTONS[act] in html) is allowed, (act, role, holder)
    before = await _conversation(team, conversation_id), await _audit_lines(team, team.ids[role])

    response = await client.post(path, data={"csrf": csrf_of(html), **data}, allow_redirects=False)

    assert response.status == 303, await response.text()
    where = unquote_plus(response.headers["Location"])
    after = await _conversation(team, conversation_id), await _audit_lines(team, team.ids[role])
    if allowed:
        assert "notice=" in where and "error=" not in where, where
        assert after[1] > before[1]
    else:
        assert "error=" in where, where
        assert after == before, "a refused action changed something"


async def test_two_agents_cannot_take_the_same_chat_by_handing_it_back_first(team: Team) -> None:
    """The reported attack: B hands back A's chat, then takes it. Both steps are refused now."""
    who = await customer(team.h, "Ifeoma Obi")
    page = f"/inbox/c/{who.conversation_id}"
    await _hold(team, who.conversation_id, "another agent", "agent")
    client = team.h.client
    client.session.cookie_jar.clear()
    assert await login(client, team.emails["agent"]) == 303
    html = await Agent(client).page(page)
    assert "Hand back to bot" not in html and "Resolve" not in html
    token = csrf_of(html)
    for act in ("handback", "take", "resolve"):
        response = await client.post(f"{page}/{act}", data={"csrf": token}, allow_redirects=False)
        assert "has this conversation" in unquote_plus(response.headers["Location"])
    assert await _conversation(team, who.conversation_id) == ("with_agent", team.ids["holder"])
