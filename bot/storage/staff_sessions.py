"""staff_sessions and staff_login_attempts: back-office sign-ins and the failed-login counters.

A session is stored by the SHA-256 of its id, so reading the database gives no usable cookie. It ends at
``expires_at`` (absolute) or after ``IDLE`` without a request, whichever comes first, and on logout.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta, timezone

from pymongo import ReturnDocument

from bot.messages import utcnow

LIFETIME = timedelta(hours=12)
IDLE = timedelta(hours=2)
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILS_PER_EMAIL = 5
MAX_FAILS_PER_ADDRESS = 20


def _h(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _aware(dt):
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class StaffSessionStore:
    def __init__(self, db):
        self.col = db["staff_sessions"]
        self.attempts = db["staff_login_attempts"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("user_id")
        await self.col.create_index("expires_at", expireAfterSeconds=0)
        await self.attempts.create_index([("key", 1), ("at", 1)])
        await self.attempts.create_index("at", expireAfterSeconds=int(THROTTLE_WINDOW.total_seconds()) * 2)

    async def create(self, user_id, *, address: str | None = None) -> tuple[str, dict]:
        sid = secrets.token_urlsafe(32)
        now = utcnow()
        doc = {"_id": _h(sid), "user_id": user_id, "csrf": secrets.token_urlsafe(32), "created_at": now,
               "last_seen": now, "expires_at": now + LIFETIME, "address": address}
        await self.col.insert_one(doc)
        return sid, doc

    async def touch(self, sid: str) -> dict | None:
        """The live session for ``sid`` (and mark it seen), or None when unknown, expired or idle too long."""
        now = utcnow()
        doc = await self.col.find_one_and_update(
            {"_id": _h(sid), "expires_at": {"$gt": now}, "last_seen": {"$gt": now - IDLE}},
            {"$set": {"last_seen": now}}, return_document=ReturnDocument.AFTER)
        if doc is None or _aware(doc["expires_at"]) <= now:
            return None
        return doc

    async def end(self, sid: str) -> None:
        await self.col.delete_one({"_id": _h(sid)})

    async def end_all(self, user_id) -> int:
        return (await self.col.delete_many({"user_id": user_id})).deleted_count

    # ---------------------------------------------------------------- throttling
    async def too_many_failures(self, email: str, address: str | None) -> bool:
        since = utcnow() - THROTTLE_WINDOW
        if await self.attempts.count_documents({"key": "email:" + _h(email), "at": {"$gt": since}}) \
                >= MAX_FAILS_PER_EMAIL:
            return True
        return bool(address) and await self.attempts.count_documents(
            {"key": "addr:" + address, "at": {"$gt": since}}) >= MAX_FAILS_PER_ADDRESS

    async def record_failure(self, email: str, address: str | None) -> None:
        now = utcnow()
        docs = [{"key": "email:" + _h(email), "at": now}]
        if address:
            docs.append({"key": "addr:" + address, "at": now})
        await self.attempts.insert_many(docs)

    async def clear_failures(self, email: str) -> None:
        await self.attempts.delete_many({"key": "email:" + _h(email)})
