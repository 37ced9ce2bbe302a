"""staff_tokens: agency API tokens, stored only as their SHA-256 (the token itself is shown once)."""
from __future__ import annotations

import hashlib
import secrets

from bson import ObjectId

from bot.messages import utcnow

TOKEN_PREFIX = "lapag_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


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

    @property
    def database(self):
        """The database this store lives in (staff personal tokens are looked up there)."""
        return self.col.database
