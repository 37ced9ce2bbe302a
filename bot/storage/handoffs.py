"""handoffs: a citizen asked to talk to a person. Staff list them and reply through the outbox."""
from __future__ import annotations

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

from bot.messages import utcnow


class HandoffStore:
    def __init__(self, db):
        self.col = db["handoffs"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
        await self.col.create_index("contact_id")

    async def open(self, contact_id, note: str | None, tracking_id: str | None = None) -> dict:
        """One open request per contact: asking twice adds the note to the same request."""
        existing = await self.col.find_one({"contact_id": contact_id, "status": "open"})
        if existing:
            if note:
                await self.col.update_one({"_id": existing["_id"]},
                                          {"$push": {"notes": {"text": note, "at": utcnow()}}})
            return existing
        doc = {"_id": ObjectId(), "contact_id": contact_id, "status": "open", "tracking_id": tracking_id,
               "notes": [{"text": note, "at": utcnow()}] if note else [], "created_at": utcnow(), "replies": []}
        await self.col.insert_one(doc)
        return doc

    async def list(self, status: str = "open", limit: int = 50) -> list[dict]:
        return await self.col.find({"status": status}).sort("created_at", ASCENDING).limit(limit).to_list(limit)

    async def get(self, handoff_id) -> dict | None:
        return await self.col.find_one({"_id": handoff_id})

    async def add_reply(self, handoff_id, actor: str, text: str, close: bool = False) -> None:
        upd: dict = {"$push": {"replies": {"actor": actor, "text": text, "at": utcnow()}}}
        if close:
            upd["$set"] = {"status": "closed", "closed_at": utcnow()}
        await self.col.update_one({"_id": handoff_id}, upd)
