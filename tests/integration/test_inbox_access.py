"""Inbox access and money: anonymous users and wrong roles are refused, CSRF is checked, logins lock
after repeated failures, the audit log detects tampering, and an agent's refund moves money once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, update

from admin import staff as accounts
from domain import audit, ledger
from domain.fulfilment import fulfil
from domain.models import AuditEntry, Conversation, Notification, Order, Staff, utcnow
from domain.orders import OrderState
from domain.ports import TopupRequest, TopupResult, TopupStatus
from tests.integration.inbox_harness import PASSWORD, conversation_of, csrf_of, login, new_staff, signed_in
from tests.integration.placed_orders import AMOUNT, place
from tests.integration.whatsapp_harness import whatsapp_app


class Undecided:
    """A provider that never gives a definite answer."""

    async def send_topup(self, request: TopupRequest) -> TopupResult:
        return TopupResult(TopupStatus.PENDING, detail="processing")

    async def query_topup(self, reference: str) -> TopupResult:
        return TopupResult(TopupStatus.PENDING, detail="processing")


async def test_anonymous_users_are_refused_everywhere(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        c = h.client
        for path in ("/inbox/", "/inbox/c/1", "/inbox/staff", "/inbox/canned"):
            response = await c.get(path, allow_redirects=False)
            assert response.status == 302 and response.headers["Location"] == "/inbox/login", path
        for path in ("/inbox/list", "/inbox/c/1/live"):
            assert (await c.get(path, headers={"X-Partial": "1"})).status == 401
        assert (await c.get("/inbox/events")).status == 401
        for path in (
            "/inbox/c/1/take",
            "/inbox/c/1/reply",
            "/inbox/orders/1/refund",
            "/inbox/staff/1/disable",
        ):
            response = await c.post(path, data={"csrf": "x", "text": "hi"}, allow_redirects=False)
            assert response.status == 401, path


async def test_agents_cannot_use_admin_pages_and_admins_can_disable_staff(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        agent_email = await new_staff(h.app.db, "agent")
        assert await login(h.client, agent_email) == 303
        page = await h.client.get("/inbox/")
        token = csrf_of(await page.text())
        assert (await h.client.get("/inbox/staff")).status == 403
        assert (await h.client.post("/inbox/staff/1/disable", data={"csrf": token})).status == 403
        assert (await h.client.post("/inbox/canned", data={"csrf": token, "short_code": "x"})).status == 403

        h.client.session.cookie_jar.clear()
        admin = await signed_in(h.client, h.app.db, "admin")
        assert agent_email in await admin.page("/inbox/staff")
        async with h.app.db.transaction() as session:
            agent_id = await session.scalar(select(Staff.id).where(Staff.email == agent_email))
        await admin.post(f"/inbox/staff/{agent_id}/disable", page="/inbox/staff")
        h.client.session.cookie_jar.clear()
        assert await login(h.client, agent_email) == 303  # the form answers alike …
        assert (await h.client.get("/inbox/", allow_redirects=False)).status == 302  # … but no session


async def test_csrf_tokens_are_checked_and_cookies_are_safe(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        email = await new_staff(h.app.db)
        # The login form itself needs its token.
        response = await h.client.post(
            "/inbox/login", data={"email": email, "password": PASSWORD}, allow_redirects=False
        )
        assert response.status == 403
        page = await h.client.get("/inbox/login")
        token = csrf_of(await page.text())
        response = await h.client.post(
            "/inbox/login", data={"csrf": token, "email": email, "password": PASSWORD}, allow_redirects=False
        )
        assert response.status == 303
        cookie = response.headers["Set-Cookie"]
        assert "nt_staff=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert "Secure" not in cookie  # plain HTTP here; behind TLS it is set (X-Forwarded-Proto: https)

        for data in ({}, {"csrf": "forged"}):
            refused = await h.client.post(
                "/inbox/c/1/note", data={**data, "text": "x"}, allow_redirects=False
            )
            assert refused.status == 403
            refused = await h.client.post("/inbox/logout", data=data, allow_redirects=False)
            assert refused.status == 403

        list_page = await h.client.get("/inbox/")
        real = csrf_of(await list_page.text())
        out = await h.client.post("/inbox/logout", data={"csrf": real}, allow_redirects=False)
        assert out.status == 303
        assert (await h.client.get("/inbox/", allow_redirects=False)).status == 302


async def test_secure_cookie_behind_tls(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        email = await new_staff(h.app.db)
        page = await h.client.get("/inbox/login")
        token = csrf_of(await page.text())
        response = await h.client.post(
            "/inbox/login",
            data={"csrf": token, "email": email, "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
        )
        assert response.status == 303 and "Secure" in response.headers["Set-Cookie"]


async def test_five_failed_logins_lock_the_account(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        email = await new_staff(h.app.db)
        for _ in range(accounts.MAX_FAILURES):
            assert await login(h.client, email, "wrong password!") == 303
            assert (
                h.client.session.cookie_jar.filter_cookies(h.client.make_url("/inbox/")).get("nt_staff")
                is None
            )
        response_page = await h.client.get("/inbox/login?error=x")
        assert response_page.status == 200
        assert await login(h.client, email) == 303  # the right password, but locked
        assert (await h.client.get("/inbox/", allow_redirects=False)).status == 302
        async with h.app.db.transaction() as session:
            staff = await session.scalar(select(Staff).where(Staff.email == email))
            assert staff is not None and staff.locked_until is not None
            actions = (
                await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.subject == f"staff:{staff.id}")
                )
            ).all()
        assert actions.count("login.failed") == accounts.MAX_FAILURES and "login.refused" in actions


async def test_refund_by_an_agent_is_audited_and_moves_money_exactly_once(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        placed = await place(db, "+2348031119876")
        for _ in range(3):
            await fulfil(db, Undecided(), placed.order_id, (0.0, 0.0))
        async with db.transaction() as session:
            order = await session.get(Order, placed.order_id)
            assert order is not None and order.state == OrderState.NEEDS_REVIEW
            conversation = await session.get(Conversation, order.conversation_id)
            assert conversation is not None
            assert conversation.mode == "waiting" and conversation.handoff_reason == "needs_review"
            held = await ledger.balance(session, placed.wallet_id)
        assert held.available == placed.funded - AMOUNT.minor

        agent = await signed_in(h.client, db)
        page = f"/inbox/c/{conversation.id}"
        view = await agent.page(page)
        assert placed.reference in view and "needs_review" in view
        token = csrf_of(view)
        missing_reason = await h.client.post(
            f"/inbox/orders/{placed.order_id}/refund", data={"csrf": token}, allow_redirects=False
        )
        assert "error" in missing_reason.headers["Location"]

        async def refund() -> str:
            response = await h.client.post(
                f"/inbox/orders/{placed.order_id}/refund",
                data={
                    "csrf": token,
                    "reason": "provider confirmed failure by phone",
                    "back": str(conversation.id),
                },
                allow_redirects=False,
            )
            return response.headers["Location"]

        outcomes = await asyncio.gather(*(refund() for _ in range(4)))
        assert sum("notice=Refunded" in o for o in outcomes) == 1, outcomes
        assert sum("already" in o for o in outcomes) == 3, outcomes

        async with db.transaction() as session:
            balance = await ledger.balance(session, placed.wallet_id)
            order = await session.get(Order, placed.order_id)
            entries = await audit.entries(session, subject=f"order:{placed.reference}")
            assert (await audit.verify(session)).ok
        assert balance.available == placed.funded and balance.debits_pending == 0
        assert order is not None and order.state == OrderState.REFUNDED
        assert [e.action for e in entries] == ["order.refund"]
        assert "provider confirmed failure by phone" in entries[0].details
        assert entries[0].actor.startswith("staff:")


async def test_audit_verify_detects_tampering(pg_url: str, tmp_path: Path) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        async with db.transaction() as session:
            for n in range(3):
                await audit.record(session, "test", "test.action", f"thing:{n}", {"n": n, "note": "é"})
            assert (await audit.verify(session)).ok
        env = {**os.environ, "DATABASE_URL": pg_url}
        cli = [sys.executable, "-m", "nexustop.cli", "audit", "verify"]
        ok = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert ok.returncode == 0 and "intact" in ok.stdout, ok.stderr
        async with db.transaction() as session:
            victim = await session.scalar(
                select(AuditEntry.id).where(AuditEntry.subject == "thing:1").order_by(AuditEntry.id.desc())
            )
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == victim).values(details='{"n":1,"note":"changed"}')
            )
        bad = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=60, check=False)
        assert bad.returncode == 2 and f"entry {victim}" in bad.stderr
        async with db.transaction() as session:  # put it back for the other tests sharing this database
            await session.execute(
                update(AuditEntry).where(AuditEntry.id == victim).values(details='{"n":1,"note":"é"}')
            )
            assert (await audit.verify(session)).ok


def test_staff_add_reads_the_password_from_stdin(tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'staff.db'}"}
    cli = [sys.executable, "-m", "nexustop.cli", "staff", "add"]
    added = subprocess.run(
        [*cli, "Ada@Example.com", "--name", "Ada", "--role", "admin"],
        input="a long enough password\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert added.returncode == 0, added.stderr
    assert "added admin ada@example.com" in added.stdout
    again = subprocess.run(
        [*cli, "ada@example.com", "--name", "Ada"],
        input="another password!\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 1 and "already" in again.stderr
    short = subprocess.run(
        [*cli, "bob@example.com", "--name", "Bob"],
        input="short\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert short.returncode == 1


async def test_requery_and_resend_receipt_from_the_inbox(pg_url: str) -> None:
    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        placed = await place(db, "+2348031113344")
        for _ in range(3):
            await fulfil(db, Undecided(), placed.order_id, (0.0, 0.0))
        async with db.transaction() as session:
            order = await session.get(Order, placed.order_id)
            assert order is not None and order.state == OrderState.NEEDS_REVIEW
            conversation_id = order.conversation_id
        agent = await signed_in(h.client, db)
        page = f"/inbox/c/{conversation_id}"
        done = await agent.post(
            f"/inbox/orders/{placed.order_id}/requery", {"back": str(conversation_id)}, page=page
        )
        assert "Requery+started" in done
        await h.app.drain(10)
        async with db.transaction() as session:
            order = await session.get(Order, placed.order_id)
            assert order is not None and order.state in (OrderState.DELIVERED, OrderState.REFUNDED)
            notification = await session.scalar(
                select(Notification).where(Notification.order_id == order.id).order_by(Notification.id.desc())
            )
            assert notification is not None
            await session.execute(
                update(Notification).where(Notification.id == notification.id).values(delivered_at=utcnow())
            )
        done = await agent.post(
            f"/inbox/orders/{placed.order_id}/receipt", {"back": str(conversation_id)}, page=page
        )
        assert "Receipt+queued" in done
        async with db.transaction() as session:
            again = await session.get(Notification, notification.id)
            assert again is not None and again.delivered_at is None
            actions = [e.action for e in await audit.entries(session, subject=f"order:{placed.reference}")]
        assert actions == ["order.resend_receipt", "order.requery"]


async def test_canned_responses_per_language_and_list_filters(pg_url: str) -> None:
    from tests.integration.whatsapp_harness import nigerian_number, text_update

    async with whatsapp_app(pg_url) as h:
        db = h.app.db
        admin = await signed_in(h.client, db, "admin")
        await admin.post(
            "/inbox/canned",
            {"short_code": "delay", "language": "en", "content": "Sorry for the delay!"},
            page="/inbox/canned",
        )
        await admin.post(
            "/inbox/canned",
            {"short_code": "delay", "language": "fr", "content": "Désolé du retard !"},
            page="/inbox/canned",
        )
        wa_id = nigerian_number()
        assert await h.post(text_update(wa_id, "agent", name="Zainab Sule")) == 200
        await h.settle()
        conversation = await conversation_of(db, "whatsapp", wa_id)
        page = f"/inbox/c/{conversation.id}"
        await admin.post(f"{page}/take", page=page)
        view = await admin.page(page)
        assert "Sorry for the delay!" in view and "Désolé du retard" not in view

        row = f'href="/inbox/c/{conversation.id}"'
        assert row in await admin.page("/inbox/?view=all&q=zainab")
        assert row in await admin.page(f"/inbox/?view=all&q={wa_id[-6:]}")
        assert row not in await admin.page("/inbox/?view=all&q=nobody-like-this")
        assert row in await admin.page("/inbox/?view=all&channel=whatsapp&country=NG")
        assert row not in await admin.page("/inbox/?view=all&channel=telegram")
        assert row not in await admin.page("/inbox/?view=all&country=SN")
        assert row in await admin.page("/inbox/?view=mine")
        assert row not in await admin.page("/inbox/?view=waiting")
