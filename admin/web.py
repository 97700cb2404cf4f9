"""The support inbox over HTTP: server-rendered pages under ``/inbox``, live updates by SSE.

Every page needs a staff session (cookie: random token, HttpOnly, SameSite=Lax, Secure behind
TLS); every form carries the session's CSRF token (the login form a double-submit one); every
action is written to the audit log in the transaction that does it.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select

from admin import inbox, orders, permissions, transfers
from admin import staff as accounts
from admin.channels import AgentChannel, Window
from admin.inbox import Filters, Refused, duration, mask_phone
from admin.live import LiveBus
from admin.permissions import Act
from conversations.handoff import back_to_bot_text
from domain import audit, handoff
from domain.database import Database
from domain.models import CannedResponse, Conversation, Identity, Staff, StaffSession, User
from domain.ports import FulfilmentQueue
from domain.transfers import TransferService
from services.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SESSION_COOKIE = "nt_staff"
LOGIN_CSRF_COOKIE = "nt_login_csrf"
STATIC = Path(__file__).parent / "static"
MODE_LABELS = {
    "bot": "Bot",
    "waiting": "Waiting for agent",
    "with_agent": "With agent",
    "resolved": "Resolved",
}
MAX_TEXT = 4000


@dataclass
class Inbox:
    """What the inbox needs at run time (built by the composition root)."""

    db: Database
    live: LiveBus
    queue: FulfilmentQueue
    channels: Mapping[str, AgentChannel] = field(default_factory=dict)
    sla_minutes: int = 15
    # Release and reject need neither the PIN pepper nor a payout gateway: a bare service will do
    # when the composition root passes none (its own also sends, so it has both).
    transfers: TransferService = field(default_factory=lambda: TransferService(pepper=b""))


INBOX_KEY = web.AppKey("inbox", Inbox)

_templates = Environment(
    loader=PackageLoader("admin", "templates"), autoescape=select_autoescape(["html"]), enable_async=False
)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%d %b %H:%M") if moment else "—"


def _money(amount: int | None, currency: str | None) -> str:
    if amount is None or currency is None:
        return "—"
    from domain.money import Money

    symbols = {"NGN": "en_NG", "GHS": "en_GH", "XOF": "fr_SN", "XAF": "fr_CM", "KES": "en_KE"}
    locale = symbols.get(currency, "en")
    return format_currency(Money(amount, currency).major, currency, locale=locale, currency_digits=True)


_templates.globals.update(
    mode_labels=MODE_LABELS, when=_when, money=_money, mask=mask_phone, redact=transfers.hide_numbers
)


def render(template_name: str, /, **context: Any) -> web.Response:
    """A rendered template as an HTML response."""
    body = _templates.get_template(template_name).render(**context)
    return web.Response(text=body, content_type="text/html", headers=_SECURITY_HEADERS)


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass
class Ctx:
    """The signed-in staff member behind a request."""

    staff: Staff
    session: StaffSession
    form: Mapping[str, str]
    held_count: int = 0
    """Transfers waiting for review (the navigation's badge; counted for pages only)."""

    @property
    def base(self) -> dict[str, Any]:
        return {"staff": self.staff, "csrf": self.session.csrf_token, "held_count": self.held_count}


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"


async def _auth(request: web.Request, *, admin: bool = False, page: bool = True) -> Ctx:
    """The staff context, or an HTTP error.

    Anonymous: to the login page (GET) or 401; wrong role or bad CSRF token: 403.
    """
    deps = request.app[INBOX_KEY]
    token = request.cookies.get(SESSION_COOKIE, "")
    async with deps.db.transaction() as session:
        found = await accounts.session_staff(session, token)
        held_count = await transfers.held_count(session) if found and request.method == "GET" else 0
    if found is None:
        if page and request.method == "GET" and not request.headers.get("X-Partial"):
            raise web.HTTPFound("/inbox/login")
        raise web.HTTPUnauthorized(text="Log in first")
    staff, staff_session = found
    form: Mapping[str, str] = {}
    if request.method == "POST":
        posted = await request.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        if not hmac.compare_digest(form.get("csrf", "").encode(), staff_session.csrf_token.encode()):
            raise web.HTTPForbidden(text="Bad or missing CSRF token; reload the page and try again")
    if admin and staff.role != accounts.Role.ADMIN:
        raise web.HTTPForbidden(text="Admins only")
    return Ctx(staff, staff_session, form, held_count)


def _back(path: str, **params: str) -> web.HTTPSeeOther:
    query = urlencode({k: v for k, v in params.items() if v})
    return web.HTTPSeeOther(path + (f"?{query}" if query else ""))


# ---- login ----------------------------------------------------------------------------------


async def login_page(request: web.Request) -> web.Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render("login.html", login_csrf=token, error=request.query.get("error", ""))
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Lax", secure=_secure(request), path="/inbox"
    )
    return response


async def login(request: web.Request) -> web.Response:
    deps = request.app[INBOX_KEY]
    form = await request.post()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    given = str(form.get("csrf", ""))
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPForbidden(text="Bad or missing CSRF token; reload the login page")
    async with deps.db.transaction() as session:
        result = await accounts.login(session, str(form.get("email", "")), str(form.get("password", "")))
    if result.staff is None:
        why = "Too many failed attempts: the account is locked for a while." if result.locked else ""
        raise _back("/inbox/login", error=why or "Wrong email or password.")
    response = web.HTTPSeeOther("/inbox/")
    response.set_cookie(
        SESSION_COOKIE,
        result.token,
        httponly=True,
        samesite="Lax",
        secure=_secure(request),
        path="/inbox",
        max_age=int(accounts.SESSION_TTL.total_seconds()),
    )
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/inbox")
    raise response


async def logout(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    deps = request.app[INBOX_KEY]
    async with deps.db.transaction() as session:
        await accounts.logout(session, request.cookies.get(SESSION_COOKIE, ""))
        await audit.record(session, inbox.actor(ctx.staff), "logout", f"staff:{ctx.staff.id}")
    response = web.HTTPSeeOther("/inbox/login")
    response.del_cookie(SESSION_COOKIE, path="/inbox")
    raise response


# ---- conversation list -----------------------------------------------------------------------


def _filters(request: web.Request) -> Filters:
    q = request.query
    view = q.get("view", "waiting")
    return Filters(
        view=view if view in inbox.VIEWS else "waiting",
        channel=q.get("channel", "")[:16],
        country=q.get("country", "")[:2],
        q=q.get("q", "")[:64],
    )


async def _rows(request: web.Request, ctx: Ctx) -> tuple[Filters, list[inbox.Row]]:
    deps = request.app[INBOX_KEY]
    filters = _filters(request)
    async with deps.db.transaction() as session:
        rows = await inbox.conversations(session, filters, ctx.staff.id, deps.sla_minutes)
    return filters, rows


async def list_page(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    filters, rows = await _rows(request, ctx)
    query = urlencode(
        {"view": filters.view, "channel": filters.channel, "country": filters.country, "q": filters.q}
    )
    return render(
        "list.html",
        **ctx.base,
        rows=rows,
        filters=filters,
        views=inbox.VIEWS,
        channels=sorted(request.app[INBOX_KEY].channels) or ["whatsapp", "telegram"],
        query=query,
        error=request.query.get("error", ""),
    )


async def list_partial(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    _, rows = await _rows(request, ctx)
    return render("_rows.html", **ctx.base, rows=rows)


# ---- one conversation ------------------------------------------------------------------------


def _id(request: web.Request, name: str = "id") -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _context(request: web.Request, ctx: Ctx, conversation_id: int) -> dict[str, Any]:
    deps = request.app[INBOX_KEY]
    async with deps.db.transaction() as session:
        d = await inbox.detail(session, conversation_id)
        if d is None:
            raise web.HTTPNotFound(text="No such conversation")
        language = d.user.language if d.user.language in ("en", "fr", "pt") else "en"
        canned = (
            await session.scalars(
                select(CannedResponse)
                .where(CannedResponse.language == language)
                .order_by(CannedResponse.short_code)
            )
        ).all()
    c = d.conversation
    allowed = permissions.visible(ctx.staff, permissions.Holding(c.mode, c.assignee_id, d.assignee))
    channel = deps.channels.get(c.channel)
    window = channel.window(c) if channel is not None else Window(False)
    first, since = c.first_human_reply_at, c.waiting_since
    name = next((i.display_name for i in d.identities if i.display_name), None) or "Customer"
    return {
        **ctx.base,
        "d": d,
        "c": c,
        "u": d.user,
        "lines": d.lines,
        "assignee": d.assignee,
        "name": name,
        "phone": mask_phone(d.user.phone),
        "balance": _money(d.balance, d.currency),
        "allowed": allowed,
        "can_reply": "reply" in allowed and channel is not None,
        "window": window,
        "canned": canned,
        "language": language,
        "sla": duration(first - since) if first and since else "",
    }


async def conversation_page(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    context = await _context(request, ctx, _id(request))
    return render(
        "conversation.html",
        **context,
        error=request.query.get("error", ""),
        notice=request.query.get("notice", ""),
    )


async def conversation_live(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    return render("_live.html", **(await _context(request, ctx, _id(request))))


Action = Callable[[web.Request, Ctx, int], Awaitable[str]]


def _action(act: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A POST on one conversation: run it, publish the change, go back to the page (with any refusal)."""

    async def handler(request: web.Request) -> web.Response:
        ctx = await _auth(request)
        conversation_id = _id(request)
        try:
            notice = await act(request, ctx, conversation_id)
        except Refused as refused:
            raise _back(f"/inbox/c/{conversation_id}", error=str(refused)) from None
        await request.app[INBOX_KEY].live.publish(conversation_id, act.__name__.strip("_"))
        raise _back(f"/inbox/c/{conversation_id}", notice=notice)

    return handler


async def _take(request: web.Request, ctx: Ctx, conversation_id: int) -> str:
    async with request.app[INBOX_KEY].db.transaction() as session:
        await permissions.authorize(session, ctx.staff, Act.TAKE, conversation_id)
        await inbox.take_over(
            session, conversation_id, ctx.staff, reassign=ctx.staff.role == accounts.Role.ADMIN
        )
    return "You have this conversation: the bot stays silent until you hand it back."


def _text(ctx: Ctx) -> str:
    text = ctx.form.get("text", "").replace("\r\n", "\n").strip()
    if not text:
        raise Refused("Write something first")
    return text[:MAX_TEXT]


async def _send(
    request: web.Request, conversation: Conversation, text: str, *, as_template: bool, session: Any
) -> list[str]:
    channel = request.app[INBOX_KEY].channels.get(conversation.channel)
    if channel is None:
        raise Refused(f"The inbox cannot send on {conversation.channel}")
    window = channel.window(conversation)
    if not window.open and not (as_template and window.template):
        raise Refused("The 24-hour window is closed: send the reply as the approved template")
    rows = await channel.rows(session, conversation, text, as_template=not window.open)
    session.add_all(rows)
    return sorted({row.chat_id for row in rows})


async def _flush(request: web.Request, channel_name: str, chats: list[str]) -> None:
    channel = request.app[INBOX_KEY].channels.get(channel_name)
    if channel is None:
        return
    for chat in chats:
        try:
            await channel.flush(chat)
        except Exception:  # the channel's background loop sends it later
            log.exception("sending an agent message failed; it stays queued")


async def _reply(request: web.Request, ctx: Ctx, conversation_id: int) -> str:
    text = _text(ctx)
    async with request.app[INBOX_KEY].db.transaction() as session:
        await permissions.authorize(session, ctx.staff, Act.REPLY, conversation_id)
        conversation = await inbox.locked_conversation(session, conversation_id)
        chats = await _send(
            request, conversation, text, as_template=ctx.form.get("as_template") == "1", session=session
        )
        await inbox.add_agent_line(session, conversation, ctx.staff, text, private=False)
        channel_name = conversation.channel
    await _flush(request, channel_name, chats)
    return "Reply sent."


async def _note(request: web.Request, ctx: Ctx, conversation_id: int) -> str:
    text = _text(ctx)
    async with request.app[INBOX_KEY].db.transaction() as session:
        await permissions.authorize(session, ctx.staff, Act.NOTE, conversation_id)
        conversation = await inbox.locked_conversation(session, conversation_id)
        await inbox.add_agent_line(session, conversation, ctx.staff, text, private=True)
    return "Note added (only staff see it)."


async def _handback(request: web.Request, ctx: Ctx, conversation_id: int) -> str:
    chats: list[str] = []
    async with request.app[INBOX_KEY].db.transaction() as session:
        await permissions.authorize(session, ctx.staff, Act.HANDBACK, conversation_id)
        conversation = await inbox.locked_conversation(session, conversation_id)
        if not await handoff.hand_back(session, conversation_id, ctx.staff.id, ctx.staff.name):
            raise Refused("The bot already has this conversation")
        await audit.record(
            session, inbox.actor(ctx.staff), "conversation.hand_back", f"conversation:{conversation_id}"
        )
        channel = request.app[INBOX_KEY].channels.get(conversation.channel)
        user = await session.get(User, conversation.user_id)
        if channel is not None and channel.window(conversation).open and user is not None:
            text = back_to_bot_text(user.language, user.country)
            rows = await channel.rows(session, conversation, text, as_template=False)
            session.add_all(rows)
            chats = sorted({row.chat_id for row in rows})
            await handoff.activity(session, conversation_id, f"Told the user: {text}")
        channel_name = conversation.channel
    await _flush(request, channel_name, chats)
    return "Handed back: the bot answers the next message."


async def _resolve(request: web.Request, ctx: Ctx, conversation_id: int) -> str:
    async with request.app[INBOX_KEY].db.transaction() as session:
        await permissions.authorize(session, ctx.staff, Act.RESOLVE, conversation_id)
        if not await handoff.resolve(session, conversation_id, ctx.staff.id, ctx.staff.name):
            raise Refused("Already resolved")
        await audit.record(
            session, inbox.actor(ctx.staff), "conversation.resolve", f"conversation:{conversation_id}"
        )
    return "Resolved."


# ---- orders ----------------------------------------------------------------------------------


def _order_action(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        ctx = await _auth(request)
        deps = request.app[INBOX_KEY]
        order_id = _id(request)
        back = ctx.form.get("back", "")
        target = f"/inbox/c/{int(back)}" if back.isdigit() else "/inbox/"
        uow = UnitOfWork(deps.db)
        try:
            async with uow.transaction() as session:
                await permissions.authorize(
                    session, ctx.staff, Act(name), await orders.conversation_of(session, order_id)
                )
                if name == "requery":
                    order = await orders.requery(session, order_id, ctx.staff)
                elif name == "refund":
                    order = await orders.refund(uow, order_id, ctx.staff, ctx.form.get("reason", ""))
                else:
                    order = await orders.resend_receipt(session, order_id, ctx.staff)
                reference, conversation_id = order.reference, order.conversation_id
        except Refused as refused:
            raise _back(target, error=str(refused)) from None
        if name == "requery":
            await deps.queue.enqueue(order_id)
        if conversation_id is not None:
            await deps.live.publish(conversation_id, f"order.{name}")
        done = {"requery": "Requery started", "refund": "Refunded", "receipt": "Receipt queued again"}[name]
        raise _back(target, notice=f"{done}: {reference}")

    return handler


# ---- money transfers held for review ---------------------------------------------------------


async def _transfer_lists(request: web.Request) -> dict[str, Any]:
    deps = request.app[INBOX_KEY]
    async with deps.db.transaction() as session:
        return {
            "held": await transfers.held(session, deps.transfers),
            "stale": await transfers.stale_payouts(session),
            "stale_after": f"{int(transfers.STALE_PAYOUT.total_seconds()) // 60} minutes",
        }


async def transfers_page(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    return render(
        "transfers.html",
        **ctx.base,
        **(await _transfer_lists(request)),
        error=request.query.get("error", ""),
        notice=request.query.get("notice", ""),
    )


async def transfers_partial(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    return render("_transfers.html", **ctx.base, **(await _transfer_lists(request)))


async def transfer_page(request: web.Request) -> web.Response:
    ctx = await _auth(request)
    async with request.app[INBOX_KEY].db.transaction() as session:
        found = await transfers.detail(session, _id(request))
        holder = None
        if found is not None and found.row.conversation_id is not None:
            holder = await permissions.holding(session, found.row.conversation_id, lock=False)
    if found is None:
        raise web.HTTPNotFound(text="No such transfer")
    return render(
        "transfer.html",
        **ctx.base,
        t=found.row,
        d=found,
        may_review=found.held and permissions.permitted(ctx.staff, Act.RELEASE, holder),
        error=request.query.get("error", ""),
        notice=request.query.get("notice", ""),
    )


def _review(name: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A release or reject by the signed-in staff member; a second one is told who decided first."""

    async def handler(request: web.Request) -> web.Response:
        ctx = await _auth(request)
        deps = request.app[INBOX_KEY]
        transfer_id = _id(request)
        target = f"/inbox/transfers/{transfer_id}"
        try:
            async with deps.db.transaction() as session:
                await permissions.authorize(
                    session, ctx.staff, Act(name), await transfers.conversation_of(session, transfer_id)
                )
                if name == "release":
                    decision = await transfers.release(session, deps.transfers, transfer_id, ctx.staff)
                else:
                    decision = await transfers.reject(
                        session, deps.transfers, transfer_id, ctx.staff, ctx.form.get("reason", "")
                    )
        except Refused as refused:
            raise _back(target, error=str(refused)) from None
        if decision.event:
            await deps.live.publish(decision.conversation_id or 0, decision.event)
        raise _back(target, notice=decision.message)

    return handler


# ---- admin -----------------------------------------------------------------------------------


async def staff_page(request: web.Request) -> web.Response:
    ctx = await _auth(request, admin=True)
    async with request.app[INBOX_KEY].db.transaction() as session:
        people = await accounts.list_staff(session)
    return render("staff.html", **ctx.base, people=people, error=request.query.get("error", ""))


def _set_active(active: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        ctx = await _auth(request, admin=True)
        staff_id = _id(request)
        if staff_id == ctx.staff.id:
            raise _back("/inbox/staff", error="You cannot disable yourself")
        async with request.app[INBOX_KEY].db.transaction() as session:
            changed = await accounts.set_active(session, staff_id, active)
            if changed is None:
                raise web.HTTPNotFound()
            action = "staff.enable" if active else "staff.disable"
            await audit.record(session, inbox.actor(ctx.staff), action, f"staff:{staff_id}")
        raise _back("/inbox/staff")

    return handler


async def canned_page(request: web.Request) -> web.Response:
    ctx = await _auth(request, admin=True)
    async with request.app[INBOX_KEY].db.transaction() as session:
        responses = (
            await session.scalars(
                select(CannedResponse).order_by(CannedResponse.short_code, CannedResponse.language)
            )
        ).all()
    return render("canned.html", **ctx.base, responses=responses, error=request.query.get("error", ""))


async def canned_save(request: web.Request) -> web.Response:
    ctx = await _auth(request, admin=True)
    code = ctx.form.get("short_code", "").strip().lower()[:32]
    language = ctx.form.get("language", "en")
    content = ctx.form.get("content", "").strip()[:MAX_TEXT]
    if not code or not content or language not in ("en", "fr", "pt"):
        raise _back("/inbox/canned", error="A short code, a language and a text are needed")
    async with request.app[INBOX_KEY].db.transaction() as session:
        existing = await session.scalar(
            select(CannedResponse).where(
                CannedResponse.short_code == code, CannedResponse.language == language
            )
        )
        if existing is None:
            session.add(CannedResponse(short_code=code, language=language, content=content))
        else:
            existing.content = content
        await audit.record(session, inbox.actor(ctx.staff), "canned.save", f"canned:{code}:{language}")
    raise _back("/inbox/canned")


# ---- live updates ----------------------------------------------------------------------------


async def events(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: one ``data:`` line per inbox event from any web process."""
    await _auth(request, page=False)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b"retry: 2000\n: connected\n\n")
    try:
        async for event in request.app[INBOX_KEY].live.events():
            if event is None:
                await response.write(b": ping\n\n")
            else:
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
    except (ConnectionResetError, RuntimeError):
        pass
    return response


async def _redirect_home(request: web.Request) -> web.Response:
    raise web.HTTPFound("/inbox/")


def add_routes(app: web.Application) -> None:
    """Mount the inbox under ``/inbox`` (``app[INBOX_KEY]`` must be set before the first request)."""
    r = app.router
    r.add_get("/inbox", _redirect_home)
    r.add_get("/inbox/login", login_page)
    r.add_post("/inbox/login", login)
    r.add_post("/inbox/logout", logout)
    r.add_get("/inbox/", list_page)
    r.add_get("/inbox/list", list_partial)
    r.add_get("/inbox/events", events)
    r.add_get("/inbox/c/{id}", conversation_page)
    r.add_get("/inbox/c/{id}/live", conversation_live)
    for act in (_take, _reply, _note, _handback, _resolve):
        r.add_post(f"/inbox/c/{{id}}/{act.__name__.strip('_')}", _action(act))
    for name in ("requery", "refund", "receipt"):
        r.add_post(f"/inbox/orders/{{id}}/{name}", _order_action(name))
    r.add_get("/inbox/transfers", transfers_page)
    r.add_get("/inbox/transfers/list", transfers_partial)
    r.add_get("/inbox/transfers/{id}", transfer_page)
    for name in ("release", "reject"):
        r.add_post(f"/inbox/transfers/{{id}}/{name}", _review(name))
    r.add_get("/inbox/staff", staff_page)
    r.add_post("/inbox/staff/{id}/disable", _set_active(False))
    r.add_post("/inbox/staff/{id}/enable", _set_active(True))
    r.add_get("/inbox/canned", canned_page)
    r.add_post("/inbox/canned", canned_save)
    r.add_static("/inbox/static", STATIC)


__all__ = ["INBOX_KEY", "Identity", "Inbox", "add_routes"]
