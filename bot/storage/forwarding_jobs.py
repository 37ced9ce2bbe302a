"""forwarding_jobs: one job per (report, agency) forwarded to an agency's upstream system
(``bot.forwarding.worker``): queued -> sending (leased) -> sent, or back to queued with a backoff, or dropped."""
from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow


class ForwardingJobStore:
    def __init__(self, db):
        self.col = db["forwarding_jobs"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("tracking_id", 1), ("agency", 1)], unique=True)
        await self.col.create_index([("state", 1), ("next_at", 1)])

    async def enqueue(self, tracking_id: str, agency: str) -> None:
        """Queue a job for this report and agency unless one exists."""
        now = utcnow()
        try:
            await self.col.update_one(
                {"tracking_id": tracking_id, "agency": agency},
                {"$setOnInsert": {"_id": ObjectId(), "state": "queued", "attempts": 0, "next_at": now,
                                  "lease_until": None, "last_error": None, "upstream_id": None, "created_at": now}},
                upsert=True)
        except DuplicateKeyError:
            pass  # queued by someone else at the same moment

    async def exists(self, tracking_id: str, agency: str) -> bool:
        """Whether a job (in any state) exists for this report and agency."""
        return await self.col.find_one({"tracking_id": tracking_id, "agency": agency}, {"_id": 1}) is not None

    async def claim(self, lease_s: float) -> dict | None:
        """Lease the due job waiting longest (queued, or sending with an expired lease), or None."""
        now = utcnow()
        return await self.col.find_one_and_update(
            {"state": {"$in": ["queued", "sending"]}, "next_at": {"$lte": now},
             "$or": [{"lease_until": None}, {"lease_until": {"$lt": now}}]},
            {"$set": {"state": "sending", "lease_until": now + timedelta(seconds=lease_s)}},
            sort=[("next_at", 1)], return_document=ReturnDocument.AFTER)

    async def finish(self, job_id, state: str, **fields) -> None:
        """Release a job's lease in a new state, with these fields set."""
        await self.col.update_one({"_id": job_id}, {"$set": {"state": state, "lease_until": None, **fields}})

    async def pending(self, limit: int = 200) -> list[dict]:
        """Jobs not sent yet, the longest waiting first."""
        return await self.col.find({"state": {"$in": ["queued", "sending"]}}).sort("created_at", 1).to_list(limit)

    async def recently_sent(self, limit: int = 20) -> list[dict]:
        """The last sent jobs, newest first."""
        return await self.col.find({"state": "sent"}).sort("sent_at", -1).limit(limit).to_list(limit)

    async def retry_now(self, job_id) -> dict | None:
        """Make a queued job due now; returns it (as before), or None when no queued job has this id."""
        return await self.col.find_one_and_update({"_id": job_id, "state": "queued"}, {"$set": {"next_at": utcnow()}})
