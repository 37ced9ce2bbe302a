"""telegram_callbacks: Telegram button payloads longer than callback_data's 64 bytes, stored under ``h:<hash>``.
Entries expire after 30 days (TTL index)."""
from __future__ import annotations

import hashlib

from bot.messages import utcnow

CALLBACK_LIMIT = 64  # bytes
TTL_S = 30 * 86400


class CallbackPayloads:
    def __init__(self, db):
        self.col = db["telegram_callbacks"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("at", expireAfterSeconds=TTL_S, name="callbacks_ttl")

    async def encode(self, payload: str) -> str:
        """The payload itself when it fits, else a stored ``h:<hash>`` key."""
        if 0 < len(payload.encode()) <= CALLBACK_LIMIT and not payload.startswith("h:"):
            return payload
        key = "h:" + hashlib.sha256(payload.encode()).hexdigest()[:40]
        await self.col.update_one({"_id": key}, {"$set": {"payload": payload, "at": utcnow()}}, upsert=True)
        return key

    async def decode(self, data: str) -> str:
        if data.startswith("h:"):
            doc = await self.col.find_one({"_id": data})
            return doc["payload"] if doc else data
        return data
