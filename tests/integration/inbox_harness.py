"""Drive the support inbox like a browser does: log in, read CSRF tokens from pages, post forms."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from aiohttp.test_utils import TestClient
from sqlalchemy import select

from admin.staff import add_staff
from domain.database import Database
from domain.models import Conversation, Identity
from tests.integration.whatsapp_harness import Harness, nigerian_number, text_update

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def new_staff(db: Database, role: str = "agent", name: str | None = None) -> str:
    """A fresh staff account; returns its email (the password is ``PASSWORD``)."""
    email = f"{role}-{uuid.uuid4().hex[:8]}@nexustop.test"
    async with db.transaction() as session:
        await add_staff(session, email, name or f"{role.title()} {email[:12]}", role, PASSWORD)
    return email


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


async def login(client: TestClient, email: str, password: str = PASSWORD) -> int:
    """Log in through the form; return the final status (303 on success, the login page's 200 otherwise)."""
    page = await client.get("/inbox/login")
    token = csrf_of(await page.text())
    response = await client.post(
        "/inbox/login", data={"csrf": token, "email": email, "password": password}, allow_redirects=False
    )
    return response.status


@dataclass
class Agent:
    """A logged-in staff member's browser."""

    client: TestClient

    async def page(self, path: str) -> str:
        response = await self.client.get(path)
        assert response.status == 200, (path, response.status)
        return await response.text()

    async def post(self, path: str, data: dict[str, str] | None = None, page: str = "/inbox/") -> str:
        """Post a form with the CSRF token of ``page``; return where it redirected (with its message)."""
        token = csrf_of(await self.page(page))
        response = await self.client.post(path, data={"csrf": token, **(data or {})}, allow_redirects=False)
        assert response.status == 303, (path, response.status, await response.text())
        return response.headers["Location"]


async def signed_in(client: TestClient, db: Database, role: str = "agent") -> Agent:
    """Log a fresh staff member of ``role`` in on ``client``."""
    email = await new_staff(db, role)
    assert await login(client, email) == 303
    return Agent(client)


async def conversation_of(db: Database, channel: str, channel_user_id: str) -> Conversation:
    """The conversation of a channel user."""
    async with db.transaction() as session:
        user_id = await session.scalar(
            select(Identity.user_id).where(
                Identity.channel == channel, Identity.channel_user_id == channel_user_id
            )
        )
        found = await session.scalar(
            select(Conversation).where(Conversation.user_id == user_id, Conversation.channel == channel)
        )
        assert found is not None
        return found


async def asking_for_a_person(h: Harness) -> tuple[str, Conversation]:
    """A new Nigerian WhatsApp user who has asked for a person: their wa_id and conversation."""
    wa_id = nigerian_number()
    assert await h.post(text_update(wa_id, "I need a human")) == 200
    await h.settle()
    return wa_id, await conversation_of(h.app.db, "whatsapp", wa_id)
