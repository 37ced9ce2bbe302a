"""Staff authentication.

Admin: ``Authorization: Bearer $LAPOR_STAFF_TOKEN``. Agency: a token issued by
``laporbot staff token --agency CODE``, stored only as its SHA-256 (``bot/storage/staff_tokens.py``).
The audit trail is ``bot/storage/audit.py``.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from bot.storage.audit import AuditLog
from bot.storage.staff_tokens import TOKEN_PREFIX, TokenStore, hash_token

__all__ = ["Principal", "authenticate", "AuditLog", "TokenStore", "TOKEN_PREFIX", "hash_token"]


@dataclass(frozen=True)
class Principal:
    role: str  # admin | agency
    agency: str | None = None
    token_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        return "admin" if self.is_admin else f"instansi:{self.agency}"


async def authenticate(header: str | None, admin_token: str | None, tokens: TokenStore) -> Principal | None:
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    if not token or len(token) > 512:
        return None
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal("admin")
    if not token.startswith(TOKEN_PREFIX):
        return None
    doc = await tokens.lookup(token)
    if doc is None:
        return None
    return Principal("agency", agency=doc["agency"], token_id=str(doc["_id"]))
