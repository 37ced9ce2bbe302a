"""rate_shares: a provider's per-account send cap split between the bot processes that share the account.

Each process sending on a channel account keeps a heartbeat document in ``processes`` (renewed on every outbox
sweep, expiring ``TTL_S`` after the last one) and sizes its own one-second window limiter to
``cap / live processes``. The sum of the processes' windows never exceeds the provider's cap, without a database
round-trip per send. A process that stops removes its heartbeat, so the others take its share on their next
sweep; a killed process's share comes back once its heartbeat expires. A process that has not yet seen the
others (the first seconds after start) may use more than its share until its next sweep.
"""
from __future__ import annotations

from datetime import timedelta

from bot.messages import utcnow
from bot.storage.leases import PROCESS_ID

TTL_S = 10.0


class RateShares:
    def __init__(self, db, owner: str = PROCESS_ID):
        self.col = db["processes"]
        self.owner = owner
        self.peers = 1  # live processes seen at the last beat, this one included

    async def beat(self, workers: dict) -> int:
        """Renew this process's heartbeat, count the live processes, resize each channel's limiter."""
        now = utcnow()
        await self.col.update_one({"_id": self.owner}, {"$set": {
            "until": now + timedelta(seconds=TTL_S), "channels": sorted(workers), "peers": self.peers}},
            upsert=True)
        live = await self.col.count_documents({"until": {"$gt": now}})
        self.peers = max(1, live)
        for w in workers.values():
            w.limiter.resize(w.sender.rate_per_s / self.peers)
        return self.peers

    async def leave(self) -> None:
        await self.col.delete_one({"_id": self.owner})
