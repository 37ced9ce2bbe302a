"""audit: append-only trail of staff actions (who did what, when). Nothing here is ever updated or deleted."""
from __future__ import annotations

from bson import ObjectId

from bot.messages import utcnow


class AuditLog:
    def __init__(self, db):
        self.col = db["audit"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("target", 1), ("at", 1)])

    async def record(self, actor: str, action: str, target: str | None, details: dict | None = None) -> None:
        await self.col.insert_one({"_id": ObjectId(), "actor": actor, "action": action, "target": target,
                                   "details": details or {}, "at": utcnow()})

    async def for_target(self, target: str) -> list[dict]:
        return await self.col.find({"target": target}).sort("at", 1).to_list(1000)
