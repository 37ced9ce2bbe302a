"""report_notes and canned_replies: staff-only notes on a report, and each agency's ready-made answers."""
from __future__ import annotations

from bson import ObjectId
from bson.errors import InvalidId

from bot.messages import utcnow


class ReportNoteStore:
    def __init__(self, db):
        self.col = db["report_notes"]
        self.canned = db["canned_replies"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("tracking_id", 1), ("at", 1)])
        await self.canned.create_index([("agency", 1), ("title", 1)])

    async def add(self, tracking_id: str, author_id, author_email: str, text: str) -> dict:
        doc = {"_id": ObjectId(), "tracking_id": tracking_id, "author_id": author_id, "author": author_email,
               "text": text, "at": utcnow()}
        await self.col.insert_one(doc)
        return doc

    async def for_report(self, tracking_id: str) -> list[dict]:
        return await self.col.find({"tracking_id": tracking_id}).sort("at", 1).to_list(500)

    # ---------------------------------------------------------------- canned replies (agency None = every agency)
    async def add_canned(self, agency: str | None, title: str, text: str, author_id) -> dict:
        doc = {"_id": ObjectId(), "agency": agency, "title": title, "text": text, "author_id": author_id,
               "at": utcnow()}
        await self.canned.insert_one(doc)
        return doc

    async def canned_for(self, agency: str | None) -> list[dict]:
        q = {"agency": {"$in": [agency, None]}} if agency else {"agency": None}
        return await self.canned.find(q).sort("title", 1).to_list(200)

    async def get_canned(self, canned_id) -> dict | None:
        try:
            return await self.canned.find_one({"_id": ObjectId(str(canned_id))})
        except (InvalidId, TypeError):
            return None

    async def delete_canned(self, canned_id, agency: str | None) -> bool:
        """Officers delete only their agency's; admins (agency None here means 'any') call with the doc's."""
        try:
            oid = ObjectId(str(canned_id))
        except (InvalidId, TypeError):
            return False
        return (await self.canned.delete_one({"_id": oid, "agency": agency})).deleted_count == 1
