"""leases: a named lock with an expiry, so one process (of several) runs a given dispatcher."""
from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeaseStore:
    def __init__(self, db):
        self.col = db["leases"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("until")

    async def acquire(self, name: str, ttl_s: float = 15, owner: str = PROCESS_ID) -> bool:
        """Take or renew ``name``. True when this owner holds it now."""
        now = utcnow()
        until = now + timedelta(seconds=ttl_s)
        try:
            res = await self.col.update_one(
                {"_id": name, "$or": [{"owner": owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": owner, "until": until}}, upsert=True)
            return res.matched_count == 1 or res.upserted_id is not None
        except DuplicateKeyError:  # someone else holds a live lease (the upsert collided with it)
            return False

    async def release(self, name: str, owner: str = PROCESS_ID) -> None:
        await self.col.delete_one({"_id": name, "owner": owner})
