"""staff_users and staff_api_tokens: back-office accounts, their one-time setup links and personal API tokens.

Secrets are never stored in clear: passwords as argon2id hashes, setup links and API tokens as SHA-256.
A setup link works once and expires; disabling an account also revokes its API tokens.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow

SETUP_TTL = timedelta(hours=72)
API_TOKEN_PREFIX = "lapst_"
MIN_PASSWORD = 10
MAX_PASSWORD = 256

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-password-" + secrets.token_hex(8))


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _oid(value) -> ObjectId | None:
    if isinstance(value, ObjectId):
        return value
    try:
        return ObjectId(str(value))
    except (InvalidId, TypeError):
        return None


class AccountExists(Exception):
    pass


class StaffUserStore:
    def __init__(self, db):
        self.col = db["staff_users"]
        self.tokens = db["staff_api_tokens"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("email", unique=True)
        await self.col.create_index("setup_hash", sparse=True)
        await self.tokens.create_index("token_hash", unique=True)
        await self.tokens.create_index("user_id")

    # ---------------------------------------------------------------- accounts
    async def create(self, email: str, role: str, agency: str | None = None, *, lang: str = "id",
                     created_by: str = "cli") -> tuple[dict, str]:
        """A new account without a password and its one-time setup token (returned once)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        doc = {"_id": ObjectId(), "email": normalize_email(email), "role": role, "agency": agency, "lang": lang,
               "password_hash": None, "totp_secret": None, "totp_last_step": 0, "active": True, "created_at": now,
               "created_by": created_by, "setup_hash": sha256(token), "setup_expires_at": now + SETUP_TTL}
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:
            raise AccountExists(doc["email"]) from None
        return doc, token

    async def new_setup_link(self, email: str) -> str | None:
        """A fresh setup token for an existing account (password reset); the old one stops working."""
        token = secrets.token_urlsafe(32)
        res = await self.col.update_one({"email": normalize_email(email)},
                                        {"$set": {"setup_hash": sha256(token),
                                                  "setup_expires_at": utcnow() + SETUP_TTL}})
        return token if res.matched_count else None

    async def by_setup_token(self, token: str) -> dict | None:
        if not token or len(token) > 100:
            return None
        doc = await self.col.find_one({"setup_hash": sha256(token), "active": True})
        if doc is None or _aware(doc["setup_expires_at"]) < utcnow():
            return None
        return doc

    async def complete_setup(self, token: str, password: str) -> dict | None:
        """Set the password and burn the token in one update: a replayed or expired link gets None."""
        if not token or len(token) > 100:
            return None
        return await self.col.find_one_and_update(
            {"setup_hash": sha256(token), "active": True, "setup_expires_at": {"$gt": utcnow()}},
            {"$set": {"password_hash": _hasher.hash(password), "password_set_at": utcnow()},
             "$unset": {"setup_hash": "", "setup_expires_at": ""}},
            return_document=ReturnDocument.AFTER)

    async def get(self, user_id) -> dict | None:
        oid = _oid(user_id)
        return await self.col.find_one({"_id": oid}) if oid else None

    async def by_email(self, email: str) -> dict | None:
        return await self.col.find_one({"email": normalize_email(email)})

    async def list(self) -> list[dict]:
        return await self.col.find({}).sort("email", 1).to_list(1000)

    async def check_password(self, email: str, password: str) -> dict | None:
        """The active account if the password matches. Unknown emails cost the same hashing time."""
        doc = await self.by_email(email) if email and len(email) <= 254 else None
        stored = doc.get("password_hash") if doc and doc.get("active") else None
        try:
            _hasher.verify(stored or _DUMMY_HASH, (password or "")[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return None
        if stored is None:
            return None
        if _hasher.check_needs_rehash(stored):
            await self.col.update_one({"_id": doc["_id"]}, {"$set": {"password_hash": _hasher.hash(password)}})
        return doc

    async def set_active(self, email: str, active: bool) -> dict | None:
        doc = await self.col.find_one_and_update({"email": normalize_email(email)}, {"$set": {"active": active}},
                                                 return_document=ReturnDocument.AFTER)
        if doc is not None and not active:
            await self.tokens.update_many({"user_id": doc["_id"], "revoked": False},
                                          {"$set": {"revoked": True, "revoked_at": utcnow()}})
        return doc

    async def set_lang(self, user_id, lang: str) -> None:
        await self.col.update_one({"_id": _oid(user_id)}, {"$set": {"lang": lang}})

    # ---------------------------------------------------------------- TOTP
    async def set_totp_pending(self, user_id, secret: str | None) -> None:
        await self.col.update_one({"_id": _oid(user_id)}, {"$set": {"totp_pending": secret}})

    async def set_totp(self, user_id, secret: str | None) -> None:
        await self.col.update_one({"_id": _oid(user_id)}, {"$set": {"totp_secret": secret, "totp_pending": None}})

    async def use_totp_step(self, user_id, step: int) -> bool:
        """Each time step's code is accepted once (a code seen on a shoulder can't be replayed)."""
        res = await self.col.update_one({"_id": _oid(user_id), "totp_last_step": {"$lt": step}},
                                        {"$set": {"totp_last_step": step}})
        return res.modified_count == 1

    # ---------------------------------------------------------------- personal API tokens
    async def issue_token(self, user: dict, label: str) -> tuple[str, dict]:
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        doc = {"_id": ObjectId(), "user_id": user["_id"], "token_hash": sha256(token), "label": label,
               "hint": token[-4:], "created_at": utcnow(), "revoked": False}
        await self.tokens.insert_one(doc)
        return token, doc

    async def tokens_of(self, user_id) -> list[dict]:
        return await self.tokens.find({"user_id": _oid(user_id), "revoked": False}).sort(
            "created_at", 1).to_list(100)

    async def revoke_token(self, user_id, token_id) -> bool:
        res = await self.tokens.update_one({"_id": _oid(token_id), "user_id": _oid(user_id), "revoked": False},
                                           {"$set": {"revoked": True, "revoked_at": utcnow()}})
        return res.modified_count == 1

    async def user_for_token(self, token: str) -> tuple[dict, dict] | None:
        """(account, token doc) for a live token of an active account."""
        doc = await self.tokens.find_one({"token_hash": sha256(token), "revoked": False})
        if doc is None:
            return None
        user = await self.col.find_one({"_id": doc["user_id"], "active": True})
        return (user, doc) if user else None


def _aware(dt):
    from datetime import timezone

    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
