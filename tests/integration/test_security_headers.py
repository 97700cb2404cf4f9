"""Inbox pages are sent with a strict Content-Security-Policy and show phone numbers masked."""

from __future__ import annotations

import re

from tests.integration.inbox_harness import asking_for_a_person, signed_in
from tests.integration.whatsapp_harness import whatsapp_app


async def test_pages_carry_a_strict_csp_and_no_inline_script(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        page = await h.client.get("/inbox/login")
        policy = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Cache-Control"] == "no-store"
        assert not re.search(r"<script(?![^>]*\bsrc=)", await page.text())


async def test_conversation_pages_show_phones_masked(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        wa_id, conversation = await asking_for_a_person(h)
        agent = await signed_in(h.client, h.app.db)
        for path in (f"/inbox/c/{conversation.id}", "/inbox/?view=all"):
            html = await agent.page(path)
            assert wa_id not in html and wa_id[:-4] not in html and wa_id[-4:] in html, path
