"""Which agencies have an upstream system (``agency_upstreams``, one document per agency code).

``laporbot staff upstream --agency CODE --open311 URL --api-key KEY [--service OURS=THEIRS ...]`` sets one
(``--remove`` removes it, ``--list`` lists them without their keys). The key is stored as given: the bot
needs it to call the upstream.
"""
from __future__ import annotations

import asyncio
import sys

from bot.messages import utcnow

KINDS = ("open311",)


class UpstreamStore:
    def __init__(self, db):
        self.col = db["agency_upstreams"]

    async def set(self, agency: str, kind: str, endpoint: str, api_key: str, *, services: dict | None = None,
                  jurisdiction_id: str | None = None) -> dict:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        if not endpoint.startswith(("http://", "https://")):
            raise ValueError("the endpoint must be an http(s) URL")
        doc = {"kind": kind, "endpoint": endpoint.rstrip("/"), "api_key": api_key, "services": services or {},
               "jurisdiction_id": jurisdiction_id, "updated_at": utcnow()}
        await self.col.update_one({"_id": agency}, {"$set": doc}, upsert=True)
        return {"_id": agency, **doc}

    async def get(self, agency: str | None) -> dict | None:
        return await self.col.find_one({"_id": agency}) if agency else None

    async def any(self) -> bool:
        """Whether any agency has an upstream."""
        return bool(await self.col.find_one({}, {"_id": 1}))

    async def agencies(self) -> list[str]:
        return [d["_id"] for d in await self.col.find({}, {"_id": 1}).to_list(10000)]

    async def remove(self, agency: str) -> bool:
        return (await self.col.delete_one({"_id": agency})).deleted_count == 1

    async def list(self) -> list[dict]:
        return await self.col.find({}, {"api_key": 0}).sort("_id", 1).to_list(10000)


def add_cli(staff_subparsers) -> None:
    p = staff_subparsers.add_parser("upstream", help="forward an agency's reports to its own system (Open311)")
    p.add_argument("--agency", help="agency code, e.g. DPU-53.71")
    p.add_argument("--open311", metavar="URL", help="the upstream's GeoReport v2 base, e.g. https://x/open311/v2")
    p.add_argument("--api-key", help="our api_key at the upstream")
    p.add_argument("--service", action="append", default=[], metavar="OURS=THEIRS",
                   help="map a category to the upstream's service_code (repeatable)")
    p.add_argument("--jurisdiction", help="jurisdiction_id, when the upstream needs one")
    p.add_argument("--remove", action="store_true", help="stop forwarding this agency's reports")
    p.add_argument("--list", action="store_true", help="list the configured upstreams")
    p.set_defaults(func=lambda a: asyncio.run(_cli(a)))


async def _cli(args) -> int:
    from bot import agencies
    from bot.staff.auth import AuditLog
    from bot.storage.open import open_stores as _open_stores

    async with _open_stores() as stores:
        store = UpstreamStore(stores.db)
        if args.list:
            for d in await store.list():
                print(f"{d['_id']}\t{d['kind']}\t{d['endpoint']}")
            return 0
        a = agencies.get(args.agency)
        if a is None:
            print(f"laporbot: unknown agency code {args.agency!r}", file=sys.stderr)
            return 2
        if args.remove:
            ok = await store.remove(a["code"])
            await AuditLog(stores.db).record("cli", "upstream_remove", a["code"], {})
            print(f"{a['code']}: {'removed' if ok else 'had no upstream'}")
            return 0
        if not args.open311 or not args.api_key:
            print("laporbot: --open311 URL and --api-key KEY are required", file=sys.stderr)
            return 2
        try:
            services = dict(s.split("=", 1) for s in args.service)
            await store.set(a["code"], "open311", args.open311, args.api_key, services=services,
                            jurisdiction_id=args.jurisdiction)
        except ValueError as err:
            print(f"laporbot: {err}", file=sys.stderr)
            return 2
        await AuditLog(stores.db).record("cli", "upstream_set", a["code"], {"endpoint": args.open311})
    print(f"{a['code']} ({a['name']}): forwarded to {args.open311}")
    return 0
