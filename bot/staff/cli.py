"""``laporbot staff token --agency CODE``, ``laporbot staff user ...`` (back-office accounts) and
``laporbot stats`` (same figures as GET /api/v1/stats)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import date, datetime, time, timedelta, timezone

from bot.storage.open import open_stores as _open_stores  # the database alone (account commands)


def add_subcommands(subparsers) -> None:
    staff = subparsers.add_parser("staff", help="staff side: agency API tokens, back-office accounts")
    sub = staff.add_subparsers(dest="staff_command", required=True)
    p = sub.add_parser("token", help="issue an API token for an agency (printed once, stored hashed)")
    p.add_argument("--agency", required=True, help="agency code, e.g. DUKCAPIL-53.71 or PLN")
    p.add_argument("--revoke", action="store_true", help="revoke every token of this agency instead")
    p.set_defaults(func=lambda a: asyncio.run(_token(a)))
    _add_user_commands(sub)
    from bot.forwarding.upstreams import add_cli as add_upstream
    from bot.open311.keys import add_cli as add_open311_key

    add_open311_key(sub)
    add_upstream(sub)
    s = subparsers.add_parser("stats", help="monitoring figures per province, agency or category")
    s.add_argument("--by", choices=("province", "agency", "category"), default="province")
    s.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    s.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=lambda a: asyncio.run(_stats(a)))


def _add_user_commands(sub) -> None:
    """``laporbot staff user add|reset|disable|list``: back-office accounts (setup links printed once)."""
    u = sub.add_parser("user", help="back-office accounts: add, reset, disable, list")
    us = u.add_subparsers(dest="user_command", required=True)
    add = us.add_parser("add", help="create an account and print its one-time setup link")
    add.add_argument("email")
    add.add_argument("--role", required=True, choices=("admin", "officer", "campaign", "coordinator"))
    add.add_argument("--agency", help="agency code (officers only)")
    add.add_argument("--lang", choices=("id", "en"), default="id")
    for name, text in (("reset", "print a new setup link (the password is set again on that page)"),
                       ("disable", "disable the account, end its sessions and revoke its API tokens"),
                       ("enable", "enable a disabled account again")):
        p = us.add_parser(name, help=text)
        p.add_argument("email")
    us.add_parser("list", help="list accounts")
    u.set_defaults(func=lambda a: asyncio.run(_user(a)))


async def _user(args) -> int:
    from bot.backoffice.accounts import AccountError, add_user, setup_url
    from bot.config import load_settings
    from bot.staff.auth import AuditLog
    from bot.storage.staff_sessions import StaffSessionStore
    from bot.storage.staff_users import StaffUserStore

    settings = load_settings()
    async with _open_stores() as stores:
        users = StaffUserStore(stores.db)
        if args.user_command == "add":
            try:
                doc, token = await add_user(stores.db, args.email, args.role, args.agency, lang=args.lang)
            except AccountError as err:
                print(f"laporbot: {err}", file=sys.stderr)
                return 2
            print(f"# {doc['email']} ({doc['role']}{' ' + doc['agency'] if doc.get('agency') else ''}). "
                  "One-time link, valid 72 hours:", file=sys.stderr)
            print(setup_url(settings, token))
            return 0
        if args.user_command == "list":
            for d in await users.list():
                state = "active" if d.get("active") else "disabled"
                state += "" if d.get("password_hash") else ", setup pending"
                print(f"{d['email']}\t{d['role']}\t{d.get('agency') or '-'}\t{state}")
            return 0
        doc = await users.by_email(args.email)
        if doc is None:
            print(f"laporbot: no account {args.email!r}", file=sys.stderr)
            return 2
        if args.user_command == "reset":
            token = await users.new_setup_link(args.email)
            await AuditLog(stores.db).record("cli", "staff_user_reset", str(doc["_id"]), {})
            print("# one-time link, valid 72 hours:", file=sys.stderr)
            print(setup_url(settings, token))
        else:
            active = args.user_command == "enable"
            await users.set_active(args.email, active)
            if not active:
                await StaffSessionStore(stores.db).end_all(doc["_id"])
            await AuditLog(stores.db).record("cli", f"staff_user_{args.user_command}", str(doc["_id"]), {})
            print(f"{doc['email']}: {'enabled' if active else 'disabled'}")
    return 0




@contextlib.asynccontextmanager
async def _opened():
    """The runtime's parts on the bot's database (MONGODB_URI, or the embedded one in LAPOR_DATA_DIR),
    assembled by ``Runtime.open``; nothing runs in the background."""
    from bot.app import Runtime
    from bot.config import load_settings

    rt = Runtime(load_settings())
    try:
        await rt.open(db_attempts=1)
        yield rt
    finally:
        await rt.stop()


async def issue_token(staff, agency_code: str) -> str:
    """A new API token for an agency (``staff``: the runtime's StaffServices), audited."""
    from bot import agencies

    a = agencies.get(agency_code)
    if a is None:
        raise ValueError(f"unknown agency code {agency_code!r}")
    await staff.tokens.ensure_indexes()
    token, doc = await staff.tokens.issue(a["code"], created_by="cli")
    await staff.audit.record("cli", "agency_token", a["code"], {"token_id": str(doc["_id"])})
    return token


async def _token(args) -> int:
    from bot import agencies

    a = agencies.get(args.agency)
    if a is None:
        print(f"laporbot: unknown agency code {args.agency!r} (search: bot.agencies.search)", file=sys.stderr)
        return 2
    async with _opened() as rt:
        if args.revoke:
            n = await rt.staff.tokens.revoke_agency(a["code"])
            await rt.staff.audit.record("cli", "agency_token_revoke", a["code"], {"revoked": n})
            print(f"revoked {n} token(s) of {a['code']} ({a['name']})")
            return 0
        token = await issue_token(rt.staff, a["code"])
    print(f"# {a['code']} - {a['name']}. Shown once; only its SHA-256 is stored.", file=sys.stderr)
    print(token)
    return 0


async def _stats(args) -> int:
    from bot.messages import utcnow
    from bot.staff import stats

    start = datetime.combine(args.start, time(0), tzinfo=timezone.utc) if args.start else None
    end = datetime.combine(args.end + timedelta(days=1), time(0), tzinfo=timezone.utc) if args.end else None
    async with _opened() as rt:
        result = await stats.compute(rt.stores, by=args.by, start=start, end=end, now=utcnow())
    print(json.dumps(result, indent=2) if args.json else stats.table(result))
    return 0
