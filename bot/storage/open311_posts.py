"""open311_posts: Open311 POSTs without a ``source_ref`` seen recently, by (client, digest of the form), so a
repeated identical POST within a window maps to the same report (``bot.open311.intake``); expire by TTL."""
from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow


class Open311PostStore:
    def __init__(self, db):
        self.col = db["open311_posts"]

    async def ensure_indexes(self, window: timedelta) -> None:
        await self.col.create_index("at", expireAfterSeconds=int(window.total_seconds()) * 6)

    async def claim(self, claim_id: str, window: timedelta) -> tuple[str, bool]:
        """(draft id, fresh): a new draft id unless the same POST was claimed less than ``window`` ago."""
        now = utcnow()
        draft_id = f"open311:{ObjectId()}"
        try:
            await self.col.insert_one({"_id": claim_id, "draft_id": draft_id, "at": now})
            return draft_id, True
        except DuplicateKeyError:
            pass
        renewed = await self.col.find_one_and_update(
            {"_id": claim_id, "at": {"$lt": now - window}}, {"$set": {"draft_id": draft_id, "at": now}},
            return_document=ReturnDocument.AFTER)
        if renewed is not None:
            return draft_id, True
        doc = await self.col.find_one({"_id": claim_id})
        return (doc or {}).get("draft_id") or draft_id, doc is None
