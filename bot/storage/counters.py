"""counters: fixed-window hit counters shared by every bot process (rate limits that must hold across them).

One document per key and window (``_id`` = ``key@window-start``), incremented atomically; a TTL index drops
it once its window is over. Keys carry no personal data in clear (callers hash addresses).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ReturnDocument

from bot.messages import utcnow


class CounterStore:
    def __init__(self, db):
        self.col = db["counters"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("expires_at", expireAfterSeconds=0)

    async def hit(self, key: str, window: timedelta, now: datetime | None = None) -> int:
        """Count one hit of ``key`` in the current window; returns the hits so far, this one included."""
        now = now or utcnow()
        size = int(window.total_seconds())
        start = int(now.timestamp()) // size * size
        doc = await self.col.find_one_and_update(
            {"_id": f"{key}@{start}"},
            {"$inc": {"n": 1}, "$setOnInsert": {"expires_at": now + window}},
            upsert=True, return_document=ReturnDocument.AFTER)
        return int(doc["n"])
