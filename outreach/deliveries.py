"""campaign_deliveries: one document per (campaign run, contact), the owner of that collection.

status: pending -> queued (an outbox message exists, ``message_id`` pre-allocated) or skipped (with a reason).
The unique (run, contact_id) index makes creating a run's deliveries safe to repeat.
"""
from __future__ import annotations

from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from bot.messages import utcnow


class DeliveryStore:
    def __init__(self, db):
        self.col = db["campaign_deliveries"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("run", ASCENDING), ("contact_id", ASCENDING)], unique=True, name="once")
        await self.col.create_index([("run", ASCENDING), ("channel", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index([("campaign", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index("message_id")
        await self.col.create_index([("contact_id", ASCENDING), ("status", ASCENDING)])

    async def contacts_of_run(self, run_id: str) -> set:
        return {d["contact_id"] for d in await self.col.find({"run": run_id}, {"contact_id": 1}).to_list(None)}

    async def insert(self, docs: list[dict]) -> int:
        """Insert new deliveries; those already there (same run and contact) are kept. Returns how many."""
        if not docs:
            return 0
        try:
            res = await self.col.insert_many(docs, ordered=False)
            return len(res.inserted_ids)
        except BulkWriteError as exc:
            if [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]:
                raise
            return exc.details.get("nInserted", 0)

    async def count(self, run_id: str, status: str | None = None) -> int:
        return await self.col.count_documents({"run": run_id, **({"status": status} if status else {})})

    async def pending(self, run_id: str, channel: str) -> list[dict]:
        return await self.col.find({"run": run_id, "channel": channel, "status": "pending"}).to_list(None)

    async def mark_queued(self, ids: list) -> None:
        if ids:
            await self.col.update_many({"_id": {"$in": ids}, "status": "pending"},
                                       {"$set": {"status": "queued", "queued_at": utcnow()}})

    async def mark_skipped(self, ids: list, reason: str) -> None:
        if ids:
            await self.col.update_many({"_id": {"$in": ids}, "status": "pending"},
                                       {"$set": {"status": "skipped", "reason": reason, "skipped_at": utcnow()}})

    async def skip_pending_of_contact(self, contact_id, reason: str = "opted_out") -> None:
        """A contact who opted out gets nothing still pending."""
        await self.col.update_many({"contact_id": contact_id, "status": "pending"},
                                   {"$set": {"status": "skipped", "reason": reason, "skipped_at": utcnow()}})

    async def skip_pending_of_run(self, run_id: str, reason: str, at) -> int:
        """Mark a run's pending deliveries skipped (with this reason); returns how many."""
        res = await self.col.update_many({"run": run_id, "status": "pending"},
                                         {"$set": {"status": "skipped", "reason": reason, "skipped_at": at}})
        return res.modified_count

    async def count_by_status(self, run_id: str) -> dict:
        """{status: n} of one run."""
        out: dict = {}
        async for row in await self.col.aggregate([{"$match": {"run": run_id}},
                                                   {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            out[row["_id"]] = row["n"]
        return out

    async def count_by_status_reason(self, campaign: str) -> dict:
        """{(status, reason): n} over every run of a campaign."""
        out: dict = {}
        async for row in await self.col.aggregate([
                {"$match": {"campaign": campaign}},
                {"$group": {"_id": {"s": "$status", "r": "$reason"}, "n": {"$sum": 1}}}]):
            out[(row["_id"]["s"], row["_id"].get("r"))] = row["n"]
        return out

    async def first_created(self, campaign: str) -> dict:
        """{contact_id: when its first delivery of this campaign was created}."""
        created: dict = {}
        async for dv in self.col.find({"campaign": campaign}, {"contact_id": 1, "created_at": 1}):
            created[dv["contact_id"]] = min(dv["created_at"], created.get(dv["contact_id"], dv["created_at"]))
        return created
