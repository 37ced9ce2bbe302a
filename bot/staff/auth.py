"""Staff authentication and the audit trail.

Admin: ``Authorization: Bearer $LAPOR_STAFF_TOKEN``. Agency: a token issued by
``laporbot staff token --agency CODE``, stored only as its SHA-256 in ``staff_tokens``.
Person: a ``lapst_`` token a back-office admin or officer created for themself (``staff_api_tokens``); it acts
with that person's role and agency and is audited under their id.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from bson import ObjectId

from bot.messages import utcnow

TOKEN_PREFIX = "lapag_"
PERSON_TOKEN_PREFIX = "lapst_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Principal:
    role: str  # admin | agency
    agency: str | None = None
    token_id: str | None = None
    staff_id: str | None = None  # a back-office person (console session or personal token)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        if self.staff_id:
            return f"staff:{self.staff_id}"
        return "admin" if self.is_admin else f"instansi:{self.agency}"


class TokenStore:
    def __init__(self, db):
        self.col = db["staff_tokens"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("token_hash", unique=True)

    async def issue(self, agency: str, created_by: str = "cli") -> tuple[str, dict]:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        doc = {"_id": ObjectId(), "token_hash": hash_token(token), "agency": agency, "created_by": created_by,
               "created_at": utcnow(), "revoked": False, "hint": token[-4:]}
        await self.col.insert_one(doc)
        return token, doc

    async def revoke_agency(self, agency: str) -> int:
        res = await self.col.update_many({"agency": agency, "revoked": False},
                                         {"$set": {"revoked": True, "revoked_at": utcnow()}})
        return res.modified_count

    async def lookup(self, token: str) -> dict | None:
        return await self.col.find_one({"token_hash": hash_token(token), "revoked": False})


async def authenticate(header: str | None, admin_token: str | None, tokens: TokenStore) -> Principal | None:
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    if not token or len(token) > 512:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin")
    if token.startswith(PERSON_TOKEN_PREFIX):
        return await _person(tokens.col.database, token)
    if not token.startswith(TOKEN_PREFIX):
        return None
    doc = await tokens.lookup(token)
    if doc is None:
        return None
    return Principal("agency", agency=doc["agency"], token_id=str(doc["_id"]))


async def _person(db, token: str) -> Principal | None:
    from bot.storage.staff_users import StaffUserStore

    found = await StaffUserStore(db).user_for_token(token)
    if found is None:
        return None
    user, doc = found
    if user.get("role") == "admin":
        return Principal("admin", token_id=str(doc["_id"]), staff_id=str(user["_id"]))
    if user.get("role") == "officer" and user.get("agency"):
        return Principal("agency", agency=user["agency"], token_id=str(doc["_id"]), staff_id=str(user["_id"]))
    return None  # campaign and coordinator accounts have no report scope in the API


class AuditLog:
    """Append-only: who did what, when. Nothing here is ever updated or deleted."""

    def __init__(self, db):
        self.col = db["audit"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("target", 1), ("at", 1)])

    async def record(self, actor: str, action: str, target: str | None, details: dict | None = None) -> None:
        await self.col.insert_one({"_id": ObjectId(), "actor": actor, "action": action, "target": target,
                                   "details": details or {}, "at": utcnow()})

    async def for_target(self, target: str) -> list[dict]:
        return await self.col.find({"target": target}).sort("at", 1).to_list(1000)
