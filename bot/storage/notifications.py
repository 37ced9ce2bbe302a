"""notifications: one record per notification attempt after a transition (role, channel, outbox message id)."""
from __future__ import annotations


class NotificationStore:
    def __init__(self, db):
        self.col = db["notifications"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("tracking_id")

    async def add(self, record: dict) -> None:
        await self.col.insert_one(record)

    async def for_report(self, tracking_id: str, limit: int = 500) -> list[dict]:
        return await self.col.find({"tracking_id": tracking_id}).sort("at", 1).to_list(limit)

    async def unlink_contact(self, contact_id) -> None:
        """Remove a contact's id from its notification records."""
        await self.col.update_many({"contact_id": contact_id}, {"$set": {"contact_id": None}})

    async def delete_older_than(self, cutoff) -> int:
        """Delete notification records made before ``cutoff``; returns how many."""
        return (await self.col.delete_many({"at": {"$lt": cutoff}})).deleted_count
