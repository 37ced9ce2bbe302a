"""API keys of Open311 client apps (``open311_keys``): one or more per app, shown once, stored as SHA-256.

``laporbot staff open311-key --name APP`` issues one (``--revoke`` revokes every key of the app,
``--list`` lists apps and key hints). A request's ``api_key`` is looked up by its hash.
"""
from __future__ import annotations

import asyncio
import re
import secrets
import sys

from bson import ObjectId

from bot.messages import utcnow
from bot.staff.auth import hash_token

KEY_PREFIX = "lapo311_"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")


class ApiKeyStore:
    def __init__(self, db):
        self.col = db["open311_keys"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("key_hash", unique=True)
        await self.col.create_index("name")

    async def issue(self, name: str, created_by: str = "cli") -> tuple[str, dict]:
        if not NAME_RE.fullmatch(name or ""):
            raise ValueError("the app name is 1-64 characters: letters, digits, space . _ -")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        doc = {"_id": ObjectId(), "name": name, "key_hash": hash_token(key), "hint": key[-4:],
               "created_by": created_by, "created_at": utcnow(), "revoked": False}
        await self.col.insert_one(doc)
        return key, doc

    async def lookup(self, key: str | None) -> dict | None:
        if not key or len(key) > 200 or not key.startswith(KEY_PREFIX):
            return None
        return await self.col.find_one({"key_hash": hash_token(key), "revoked": False})

    async def revoke(self, name: str) -> int:
        res = await self.col.update_many({"name": name, "revoked": False},
                                         {"$set": {"revoked": True, "revoked_at": utcnow()}})
        return res.modified_count

    async def list(self) -> list[dict]:
        return await self.col.find({}, {"key_hash": 0}).sort("created_at", 1).to_list(1000)


def add_cli(staff_subparsers) -> None:
    """``laporbot staff open311-key``: registered by ``bot.staff.cli.add_subcommands``."""
    p = staff_subparsers.add_parser("open311-key", help="issue an Open311 API key for a client app "
                                                        "(printed once, stored hashed)")
    p.add_argument("--name", help="the client app, e.g. 'SiPelita Kupang'")
    p.add_argument("--revoke", action="store_true", help="revoke every key of this app instead")
    p.add_argument("--list", action="store_true", help="list apps and their keys (last 4 characters)")
    p.set_defaults(func=lambda a: asyncio.run(_cli(a)))


async def _cli(args) -> int:
    from bot.staff.auth import AuditLog
    from bot.storage.open import open_stores as _open_stores

    if not args.list and not args.name:
        print("laporbot: --name APP is required (or --list)", file=sys.stderr)
        return 2
    async with _open_stores() as stores:
        keys = ApiKeyStore(stores.db)
        await keys.ensure_indexes()
        if args.list:
            for d in await keys.list():
                print(f"{d['name']}\t...{d['hint']}\t{d['created_at']:%Y-%m-%d}\t"
                      f"{'revoked' if d.get('revoked') else 'active'}")
            return 0
        if args.revoke:
            n = await keys.revoke(args.name)
            await AuditLog(stores.db).record("cli", "open311_key_revoke", args.name, {"revoked": n})
            print(f"revoked {n} key(s) of {args.name}")
            return 0
        try:
            key, doc = await keys.issue(args.name)
        except ValueError as err:
            print(f"laporbot: {err}", file=sys.stderr)
            return 2
        await AuditLog(stores.db).record("cli", "open311_key", args.name, {"key_id": str(doc["_id"])})
    print(f"# Open311 api_key for {args.name}. Shown once; only its SHA-256 is stored.", file=sys.stderr)
    print(key)
    return 0
