"""conversations: the current dialogue state per contact, with a version for optimistic concurrency.

The document is bounded: state only (flow, step, slots, a short back-stack), never a transcript;
the transcript lives in ``messages``.
"""
from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from bot.messages import utcnow


class VersionConflict(Exception):
    """Someone else saved this conversation since we loaded it: reload and rerun the turn."""


def new_state(contact_id) -> dict:
    return {"_id": contact_id, "version": 0, "flow": None, "step": None, "slots": {}, "pending": None,
            "back": [], "window": {}, "created_at": utcnow(), "updated_at": utcnow()}


class ConversationStore:
    def __init__(self, db):
        self.col = db["conversations"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index("updated_at")

    async def load(self, contact_id) -> dict:
        return await self.col.find_one({"_id": contact_id}) or new_state(contact_id)

    async def last_inbound(self, contact_ids) -> dict:
        """{contact_id: when the person last wrote} (the engine keeps it on the conversation), one query."""
        ids = list(contact_ids)
        if not ids:
            return {}
        docs = await self.col.find({"_id": {"$in": ids}}, {"last_inbound_at": 1}).to_list(None)
        return {d["_id"]: d.get("last_inbound_at") for d in docs}

    async def remember_choices(self, contact_id, payloads: list[str]) -> None:
        """Choices a channel showed as a numbered text menu outside a turn (a notification on SMS, a long
        WhatsApp menu) become the ones a bare number answers (``last_choices``, as after a turn)."""
        res = await self.col.update_one({"_id": contact_id}, {"$set": {"last_choices": payloads}})
        if res.matched_count:
            return
        state = {**new_state(contact_id), "last_choices": payloads}
        try:
            await self.save(state)
        except VersionConflict:  # the first turn saved in between: update that one
            await self.remember_choices(contact_id, payloads)

    async def save(self, state: dict) -> None:
        """Write the state if nobody saved since it was loaded; bumps ``version`` in place."""
        expected = state["version"]
        body = {k: v for k, v in state.items() if k not in ("_id", "version")}
        body["updated_at"] = utcnow()
        if expected == 0:
            try:
                await self.col.insert_one({"_id": state["_id"], "version": 1, **body})
            except DuplicateKeyError:
                raise VersionConflict(state["_id"]) from None
        else:
            res = await self.col.update_one({"_id": state["_id"], "version": expected},
                                            {"$set": {**body, "version": expected + 1}})
            if res.matched_count != 1:
                raise VersionConflict(state["_id"])
        state["version"] = expected + 1
        state["updated_at"] = body["updated_at"]

    async def stored(self, contact_id) -> dict | None:
        """The stored conversation state of a contact, or None (no fresh state made up)."""
        return await self.col.find_one({"_id": contact_id})

    async def delete(self, contact_id) -> None:
        """Delete a contact's conversation state."""
        await self.col.delete_one({"_id": contact_id})

    async def delete_untouched_before(self, cutoff) -> int:
        """Delete conversation states last updated before ``cutoff``; returns how many."""
        return (await self.col.delete_many({"updated_at": {"$lt": cutoff}})).deleted_count

    async def note_inbound(self, contact_id, at) -> None:
        """Record when the contact last wrote, outside a turn (no version bump)."""
        await self.col.update_one({"_id": contact_id}, {"$set": {"last_inbound_at": at}})

    async def drop_pending(self, contact_id, kind: str) -> None:
        """Clear a pending question of this kind, bumping ``version`` so a running turn reloads."""
        await self.col.update_one(
            {"_id": contact_id, "pending.kind": kind}, {"$set": {"pending": None}, "$inc": {"version": 1}})
