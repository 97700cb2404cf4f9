"""The ``nexustop`` command: chat, parse, serve, worker, beat, db, sandbox, telegram, staff, audit, ledger."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from aiohttp import web

from bots.terminal import TerminalChat, TerminalOptions
from conversations.parser import Parsed, parse
from domain.countries import get_country
from domain.phones import normalize_phone
from nexustop import event_loop
from nexustop.bootstrap import demo_settings, running_app, sandbox_app
from nexustop.db import SchemaNotReady, require_schema, upgrade, upgrade_async
from nexustop.settings import Settings, get_settings


def _settings(demo: bool) -> Settings:
    base = get_settings()
    return demo_settings(base) if demo else base


def _country_arg(value: str) -> str:
    if get_country(value) is None:
        raise argparse.ArgumentTypeError(f"not one of our 16 countries: {value}")
    return value.upper()


def parsed_json(parsed: Parsed) -> dict[str, Any]:
    """The ``nexustop parse`` contract: intent and entities, amounts as decimal strings."""
    amount: Decimal | None = parsed.amount
    return {
        "intent": parsed.intent.value,
        "amount": None if amount is None else format(amount.normalize(), "f"),
        "currency": parsed.currency,
        "phone": parsed.phone,
        "network": parsed.network or parsed.network_guess,
        "data_mb": parsed.data_mb,
    }


def _cmd_parse(args: argparse.Namespace) -> int:
    if args.jsonl:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                result = parsed_json(parse(str(item.get("text", "")), str(item.get("country", "NG"))))
            except (json.JSONDecodeError, AttributeError):
                result = {"error": "each line must be a JSON object with country and text"}
            print(json.dumps(result, ensure_ascii=False), flush=False)
        sys.stdout.flush()
        return 0
    if args.text is None:
        print("parse: give a text, or --jsonl to read lines from stdin", file=sys.stderr)
        return 2
    print(json.dumps(parsed_json(parse(args.text, args.country)), ensure_ascii=False))
    return 0


async def _chat(args: argparse.Namespace) -> int:
    settings = _settings(args.demo)
    options = TerminalOptions(
        country=args.country,
        language=args.lang,
        phone=normalize_phone(args.phone, args.country or "NG") if args.phone else None,
        json_output=args.json,
    )
    if args.phone and options.phone is None:
        print(f"chat: {args.phone!r} is not a valid phone number", file=sys.stderr)
        return 2
    async with running_app(settings) as app:
        chat = TerminalChat(app.engine, options)
        if sys.stdin.isatty() and not args.json:
            print("NexusTop terminal chat. Type a message (Ctrl-D to quit). Try: help", flush=True)
        await chat.run(sys.stdin)
    return 0


def _schema_ready(settings: Settings, command: str) -> bool:
    """True when the database is at the newest schema; else one line on stderr saying what to do."""
    try:
        event_loop.run(require_schema(settings.database_url))
    except SchemaNotReady as problem:
        print(f"{command}: {problem}", file=sys.stderr)
        return False
    return True


def _cmd_serve(args: argparse.Namespace) -> int:
    from nexustop.web import create_app

    settings = _settings(args.demo)
    if not settings.demo and not _schema_ready(settings, "serve"):
        return 2  # the demo migrates by itself
    if args.demo and "public_url" not in get_settings().model_fields_set:
        settings = settings.model_copy(update={"public_url": f"http://{args.host}:{args.port}"})
    web.run_app(create_app(settings), host=args.host, port=args.port, loop=event_loop.new_event_loop())
    return 0


def _cmd_db(args: argparse.Namespace) -> int:
    upgrade(get_settings().database_url)
    print("database is up to date")
    return 0


def _read_password(prompt: str = "Password: ") -> str:
    """The new password: prompted twice on a terminal, else the first line of stdin."""
    if sys.stdin.isatty():
        import getpass

        first = getpass.getpass(prompt)
        if getpass.getpass("Again: ") != first:
            raise SystemExit("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _staff_add(args: argparse.Namespace, password: str) -> int:
    from admin.staff import StaffError, add_staff
    from domain.database import Database

    settings = get_settings()
    if settings.is_sqlite():
        await upgrade_async(settings.database_url)
    else:
        try:
            await require_schema(settings.database_url)
        except SchemaNotReady as problem:
            print(f"staff add: {problem}", file=sys.stderr)
            return 2
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            staff = await add_staff(session, args.email, args.name, args.role, password)
            print(f"added {staff.role} {staff.email} (id {staff.id})")
    except StaffError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await db.dispose()
    return 0


def _cmd_staff(args: argparse.Namespace) -> int:
    return asyncio.run(_staff_add(args, _read_password()))


async def _audit_verify() -> int:
    from domain import audit
    from domain.database import Database

    try:
        await require_schema(get_settings().database_url)
    except SchemaNotReady as problem:
        print(f"audit verify: {problem}", file=sys.stderr)
        return 2
    db = Database(get_settings().database_url)
    try:
        async with db.transaction() as session:
            verdict = await audit.verify(session)
    finally:
        await db.dispose()
    if verdict.ok:
        print(f"audit log intact: {verdict.checked} entries")
        return 0
    print(f"audit log TAMPERED at entry {verdict.first_bad_id}: {verdict.problem}", file=sys.stderr)
    return 2


def _cmd_audit(args: argparse.Namespace) -> int:
    return asyncio.run(_audit_verify())


async def _ledger_verify() -> int:
    from domain.database import Database
    from domain.ledger_invariants import invariant_problems

    db = Database(get_settings().database_url)
    try:
        async with db.transaction() as session:
            problems = await invariant_problems(session)
    finally:
        await db.dispose()
    if not problems:
        print("ledger sound: every currency sums to zero, no wallet below zero, totals match transfers")
        return 0
    print(f"ledger UNSOUND: {len(problems)} problem(s)", file=sys.stderr)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 2


def _cmd_ledger(args: argparse.Namespace) -> int:
    return asyncio.run(_ledger_verify())


def _cmd_sandbox(args: argparse.Namespace) -> int:
    base = f"http://{args.host}:{args.port}"
    print(f"sandboxes on {base}/vtpass (set VTPASS_BASE_URL to it)", flush=True)
    print(f"  and {base}/graph (set WHATSAPP_API_BASE to it; token sandbox-token)", flush=True)
    print(
        f"  and {base}/telegram/bot (set TELEGRAM_API_BASE to it; token 123456:sandbox-telegram-token)",
        flush=True,
    )
    print(
        f"  and {base}/paystack, {base}/flutterwave, {base}/momo, {base}/orange (set PAYSTACK_BASE_URL,"
        " FLUTTERWAVE_BASE_URL, MTN_BASE_URL, ORANGE_BASE_URL; keys: see nexustop/funding.py"
        " SANDBOX_GATEWAYS; webhooks: POST …/sandbox/control"
        ' {"webhook_url": …})',
        flush=True,
    )
    web.run_app(sandbox_app(), host=args.host, port=args.port)
    return 0


async def set_telegram_webhook(settings: Settings, url: str, drop_pending: bool = False) -> int:
    """Register ``url`` (with the webhook secret) and the command menu with the Bot API."""
    from telegram.error import TelegramError

    from bots.telegram.api import build_bot, set_webhook
    from nexustop.bootstrap import telegram_config

    config = telegram_config(settings)
    if config is None:
        print("telegram: set TELEGRAM_TOKEN and TELEGRAM_WEBHOOK_SECRET first", file=sys.stderr)
        return 2
    bot = build_bot(config)
    try:
        await set_webhook(bot, url, config.webhook_secret, drop_pending=drop_pending)
    except TelegramError as error:
        print(f"telegram: the Bot API refused: {type(error).__name__}: {error.message}", file=sys.stderr)
        return 1
    finally:
        await bot.request.shutdown()
    print(f"telegram webhook set to {url} (commands registered)")
    return 0


def _cmd_telegram(args: argparse.Namespace) -> int:
    return asyncio.run(set_telegram_webhook(get_settings(), args.url, args.drop_pending))


def _cmd_worker(args: argparse.Namespace) -> int:
    from nexustop.worker import run_worker

    run_worker(args.celery_args)
    return 0


def _cmd_beat(args: argparse.Namespace) -> int:
    from nexustop.worker import run_beat

    run_beat()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="nexustop", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    chat = sub.add_parser("chat", help="chat with the bot in the terminal")
    chat.add_argument("--demo", action="store_true", help="embedded SQLite, in-process tasks and sandbox")
    chat.add_argument("--country", type=_country_arg)
    chat.add_argument("--lang", choices=["en", "fr", "pt", "pcm"])
    chat.add_argument("--phone")
    chat.add_argument("--json", action="store_true", help="one JSON object per bot reply")

    parse_cmd = sub.add_parser("parse", help="print the intent and entities of a message")
    parse_cmd.add_argument("text", nargs="?")
    parse_cmd.add_argument("--country", type=_country_arg, default="NG")
    parse_cmd.add_argument("--jsonl", action="store_true", help='read {"country","text"} lines from stdin')

    serve = sub.add_parser("serve", help="run the web app")
    serve.add_argument("--demo", action="store_true")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])

    sandbox = sub.add_parser("sandbox", help="run the provider sandboxes on one port")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)

    telegram = sub.add_parser("telegram", help="Telegram bot set-up")
    telegram_sub = telegram.add_subparsers(dest="action", required=True)
    hook = telegram_sub.add_parser("set-webhook", help="register the webhook URL and the command menu")
    hook.add_argument("url", help="public HTTPS URL of /webhook/telegram")
    hook.add_argument("--drop-pending", action="store_true", help="discard updates Telegram is holding")

    worker = sub.add_parser("worker", help="run a Celery worker")
    worker.add_argument("celery_args", nargs=argparse.REMAINDER)
    sub.add_parser("beat", help="run Celery beat (schedules the reconciler)")

    staff = sub.add_parser("staff", help="support inbox staff accounts")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    staff_add = staff_sub.add_parser("add", help="add an account (password from stdin or a prompt)")
    staff_add.add_argument("email")
    staff_add.add_argument("--name", required=True)
    staff_add.add_argument("--role", choices=["agent", "admin"], default="agent")

    audit_cmd = sub.add_parser("audit", help="the append-only audit log")
    audit_sub = audit_cmd.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser("verify", help="check the hash chain; exit 2 if it was tampered with")

    ledger_cmd = sub.add_parser("ledger", help="the double-entry ledger")
    ledger_sub = ledger_cmd.add_subparsers(dest="ledger_command", required=True)
    ledger_sub.add_parser("verify", help="check the ledger's invariants; exit 2 listing what is broken")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nexustop`` command."""
    args = build_parser().parse_args(argv)
    quiet = args.command == "chat"  # the chat owns the terminal: only errors may interrupt it
    logging.basicConfig(
        level=logging.ERROR if quiet else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if args.command == "chat":
        return event_loop.run(_chat(args))
    handlers = {
        "parse": _cmd_parse,
        "serve": _cmd_serve,
        "db": _cmd_db,
        "sandbox": _cmd_sandbox,
        "telegram": _cmd_telegram,
        "worker": _cmd_worker,
        "beat": _cmd_beat,
        "staff": _cmd_staff,
        "audit": _cmd_audit,
        "ledger": _cmd_ledger,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
