"""contacts: one document per person per channel identity (language, consent, tags, subscription)."""
from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from bot.messages import Identity, utcnow


class ContactStore:
    def __init__(self, db):
        self.col = db["contacts"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("channel", ASCENDING), ("user_id", ASCENDING)], unique=True)
        await self.col.create_index([("subscription.status", ASCENDING), ("channel", ASCENDING)])
        await self.col.create_index([("subscription.code", ASCENDING)])

    async def get_or_create(self, identity: Identity, default_language: str = "id") -> dict:
        """One read on the hot path; an insert only the first time this identity writes."""
        doc = await self.col.find_one({"channel": identity.channel, "user_id": identity.user_id})
        if doc:
            return doc
        doc = {
            "_id": ObjectId(),
            "channel": identity.channel,
            "user_id": identity.user_id,
            "name": identity.display_name,
            "language": default_language,
            "consent": None,  # None = not asked yet; {"given": bool, "at": datetime}
            "tags": [],
            "created_at": utcnow(),
            "reachable": True,
        }
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:  # another process created it between our read and write
            doc = await self.col.find_one({"channel": identity.channel, "user_id": identity.user_id})
        return doc

    async def get(self, contact_id) -> dict | None:
        return await self.col.find_one({"_id": contact_id})

    async def find_by_identity(self, channel: str, user_id: str) -> dict | None:
        return await self.col.find_one({"channel": channel, "user_id": user_id})

    async def update(self, contact_id, fields: dict[str, Any]) -> None:
        if fields:
            await self.col.update_one({"_id": contact_id}, {"$set": fields})

    async def mark_unreachable(self, contact_id, reason: str) -> None:
        """Provider says the person blocked us: stop all bulk sends until they write again."""
        await self.col.update_one({"_id": contact_id}, {"$set": {
            "reachable": False, "unreachable_reason": reason, "unreachable_at": utcnow(),
            "subscription.status": "opted_out"}})
