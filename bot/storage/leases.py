"""leases: a named lock with an expiry, so one process (of several) runs a given dispatcher.

Leases are short and kept alive by heartbeats (``SHORT_TTL_S``, renewed every ``HEARTBEAT_S``): a killed
process's work is picked up within seconds. A graceful stop releases every lease of the process at once
(``release_all``), so a restarted bot resumes immediately."""
from __future__ import annotations

import os
import socket
import uuid
from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow

SHORT_TTL_S = 6.0  # a killed holder's lease lapses this long after its last heartbeat
HEARTBEAT_S = 2.0  # holders renew this often (three heartbeats per lease)
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

    async def release_all(self, owner: str = PROCESS_ID) -> int:
        """Graceful stop: give up every lease this process holds, so another process (or the restarted bot)
        takes over at once instead of waiting for them to expire."""
        res = await self.col.delete_many({"owner": owner})
        return res.deleted_count

    async def held_elsewhere(self, name: str, owner: str = PROCESS_ID) -> bool:
        """Another owner holds a live lease on ``name``."""
        return await self.col.find_one({"_id": name, "owner": {"$ne": owner}, "until": {"$gte": utcnow()}},
                                       {"_id": 1}) is not None
