"""volunteers: Kawan LAPOR! invite codes and the contacts who joined with them."""
from __future__ import annotations

import secrets

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow

_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


class VolunteerStore:
    def __init__(self, db):
        self.invites = db["volunteer_invites"]
        self.col = db["volunteers"]

    async def ensure_indexes(self) -> None:
        await self.invites.create_index("code", unique=True)
        await self.col.create_index("contact_id", unique=True)

    async def create_invite(self, created_by: str, *, note: str | None = None, max_uses: int = 1) -> dict:
        for _ in range(5):
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
            doc = {"code": code, "created_by": created_by, "note": note, "max_uses": max_uses, "uses": 0,
                   "created_at": utcnow()}
            try:
                await self.invites.insert_one(doc)
                return doc
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not create an invite code")

    async def redeem(self, code: str, contact_id) -> str:
        """Returns 'joined', 'already' or 'invalid'. A code is used at most ``max_uses`` times."""
        if await self.col.find_one({"contact_id": contact_id}):
            return "already"
        code = (code or "").strip().upper()
        inv = await self.invites.find_one_and_update(
            {"code": code, "$expr": {"$lt": ["$uses", "$max_uses"]}}, {"$inc": {"uses": 1}})
        if inv is None:
            return "invalid"
        try:
            await self.col.insert_one({"contact_id": contact_id, "invite_code": code, "joined_at": utcnow()})
        except DuplicateKeyError:
            return "already"
        return "joined"

    async def is_volunteer(self, contact_id) -> bool:
        return await self.col.find_one({"contact_id": contact_id}) is not None
