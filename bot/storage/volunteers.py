"""volunteers: Kawan LAPOR! invite codes and the contacts who joined with them.

A coordinator may revoke an invite (no further joins with it) or a volunteer (``revoked_at`` set: no longer a
volunteer; joining again takes a new invite). Nothing is deleted: assisted reports keep their volunteer.
"""
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
        """Returns 'joined', 'already' or 'invalid'. A code is used at most ``max_uses`` times, never after
        it was revoked. A revoked volunteer may join again with a new code."""
        existing = await self.col.find_one({"contact_id": contact_id})
        if existing and not existing.get("revoked_at"):
            return "already"
        code = (code or "").strip().upper()
        inv = await self.invites.find_one_and_update(
            {"code": code, "revoked_at": None, "$expr": {"$lt": ["$uses", "$max_uses"]}}, {"$inc": {"uses": 1}})
        if inv is None:
            return "invalid"
        if existing:
            res = await self.col.update_one({"_id": existing["_id"], "revoked_at": {"$ne": None}},
                                            {"$set": {"invite_code": code, "joined_at": utcnow(), "revoked_at": None,
                                                      "revoked_by": None}})
            return "joined" if res.modified_count else "already"
        try:
            await self.col.insert_one({"contact_id": contact_id, "invite_code": code, "joined_at": utcnow()})
        except DuplicateKeyError:
            return "already"
        return "joined"

    async def is_volunteer(self, contact_id) -> bool:
        return await self.col.find_one({"contact_id": contact_id, "revoked_at": None}) is not None

    async def list_invites(self, limit: int = 200) -> list[dict]:
        return await self.invites.find({}).sort("created_at", -1).limit(limit).to_list(limit)

    async def get_invite(self, code: str) -> dict | None:
        return await self.invites.find_one({"code": (code or "").strip().upper()})

    async def revoke_invite(self, code: str, by: str) -> bool:
        res = await self.invites.update_one({"code": (code or "").strip().upper(), "revoked_at": None},
                                            {"$set": {"revoked_at": utcnow(), "revoked_by": by}})
        return res.modified_count == 1

    async def list(self, limit: int = 500) -> list[dict]:
        """Volunteers, the active ones first, newest first."""
        docs = await self.col.find({}).sort("joined_at", -1).limit(limit).to_list(limit)
        return sorted(docs, key=lambda d: d.get("revoked_at") is not None)

    async def get(self, contact_id) -> dict | None:
        return await self.col.find_one({"contact_id": contact_id})

    async def revoke(self, contact_id, by: str) -> bool:
        res = await self.col.update_one({"contact_id": contact_id, "revoked_at": None},
                                        {"$set": {"revoked_at": utcnow(), "revoked_by": by}})
        return res.modified_count == 1

    async def has_membership(self, contact_id) -> bool:
        """Whether any volunteer membership (revoked ones included) is stored for a contact."""
        return await self.col.count_documents({"contact_id": contact_id}) > 0

    async def delete_of_contact(self, contact_id) -> None:
        """Delete a contact's volunteer memberships."""
        await self.col.delete_many({"contact_id": contact_id})
