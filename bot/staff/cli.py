"""``laporbot staff token --agency CODE`` and ``laporbot stats`` (same figures as GET /api/v1/stats)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from datetime import date, datetime, time, timedelta, timezone


def add_subcommands(subparsers) -> None:
    staff = subparsers.add_parser("staff", help="staff side: agency API tokens")
    sub = staff.add_subparsers(dest="staff_command", required=True)
    p = sub.add_parser("token", help="issue an API token for an agency (printed once, stored hashed)")
    p.add_argument("--agency", required=True, help="agency code, e.g. DUKCAPIL-53.71 or PLN")
    p.add_argument("--revoke", action="store_true", help="revoke every token of this agency instead")
    p.set_defaults(func=lambda a: asyncio.run(_token(a)))
    s = subparsers.add_parser("stats", help="monitoring figures per province, agency or category")
    s.add_argument("--by", choices=("province", "agency", "category"), default="province")
    s.add_argument("--from", dest="start", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    s.add_argument("--to", dest="end", type=date.fromisoformat, help="YYYY-MM-DD (inclusive)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.set_defaults(func=lambda a: asyncio.run(_stats(a)))


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
