"""Staff authentication.

Admin: ``Authorization: Bearer $LAPOR_STAFF_TOKEN``. Agency: a token issued by
``laporbot staff token --agency CODE``, stored only as its SHA-256 (``bot/storage/staff_tokens.py``).
Person: a ``lapst_`` token a back-office admin or officer created for themself (``staff_api_tokens``); it acts
with that person's role and agency and is audited under their id. The audit trail is ``bot/storage/audit.py``.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from bot.storage.audit import AuditLog
from bot.storage.staff_tokens import TOKEN_PREFIX, TokenStore, hash_token

__all__ = ["Principal", "authenticate", "AuditLog", "TokenStore", "TOKEN_PREFIX", "PERSON_TOKEN_PREFIX",
           "hash_token"]

PERSON_TOKEN_PREFIX = "lapst_"


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


async def authenticate(header: str | None, admin_token: str | None, tokens: TokenStore) -> Principal | None:
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    if not token or len(token) > 512:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin")
    if token.startswith(PERSON_TOKEN_PREFIX):
        return await _person(tokens.database, token)
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
