"""handoffs: a citizen asked to talk to a person.

Lifecycle: ``requested`` -> ``taken`` (by one staff user id) -> ``closed`` (``closed_reason``: ``handed_back``
by the officer, ``timeout`` after the idle time, ``citizen`` when the citizen asked for the bot back, or
``replied`` when the API answered with ``close``). Documents written before the lifecycle existed carry
``status: "open"``, which reads as ``requested``.

``transcript`` is the conversation shown to staff: ``{"who": "citizen"|"officer"|"system", "text", "kind",
"actor", "at"}``, capped at the last ``TRANSCRIPT_MAX`` entries. ``notes`` and ``replies`` are kept for the API.
Every state change is one conditional update, so two officers taking or two sweepers closing the same handoff
cannot both win.

Every change of an active handoff also sets or clears the contact's ``handoff`` marker (``ContactStore``:
``{"id", "status"}`` while requested or taken, removed when closed or deleted), so the engine's
live-conversation intercept reads this collection only for a contact whose marker says ``taken``.
"""
from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument

from bot.messages import utcnow
from bot.storage.contacts import ContactStore

REQUESTED, TAKEN, CLOSED = "requested", "taken", "closed"
LEGACY_OPEN = "open"
ACTIVE = (REQUESTED, TAKEN, LEGACY_OPEN)
TRANSCRIPT_MAX = 500


def status_of(doc: dict) -> str:
    return REQUESTED if doc.get("status") == LEGACY_OPEN else doc.get("status")


def _entry(who: str, text: str, *, kind: str = "text", actor: str | None = None, at: datetime | None = None) -> dict:
    return {"who": who, "text": text, "kind": kind, "actor": actor, "at": at or utcnow()}


def _push(entry: dict) -> dict:
    return {"transcript": {"$each": [entry], "$slice": -TRANSCRIPT_MAX}}


class HandoffStore:
    def __init__(self, db, contacts: ContactStore | None = None):
        self.col = db["handoffs"]
        self.contacts = contacts or ContactStore(db)  # the markers only (the runtime's, sharing its cache)

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("status", ASCENDING), ("created_at", DESCENDING)])
        await self.col.create_index("contact_id")
        await self.col.create_index([("status", ASCENDING), ("last_activity_at", ASCENDING)])

    async def open(self, contact_id, note: str | None, tracking_id: str | None = None) -> dict:
        """One active handoff per contact: asking again adds the note to the same one."""
        now = utcnow()
        existing = await self.active_for(contact_id)
        if existing:
            if note:
                await self.col.update_one({"_id": existing["_id"]},
                                          {"$push": {"notes": {"text": note, "at": now},
                                                     **_push(_entry("citizen", note, at=now))},
                                           "$set": {"last_activity_at": now}})
            return existing
        doc = {"_id": ObjectId(), "contact_id": contact_id, "status": REQUESTED, "tracking_id": tracking_id,
               "notes": [{"text": note, "at": now}] if note else [], "replies": [],
               "transcript": [_entry("citizen", note, at=now)] if note else [],
               "taken_by": None, "taken_at": None, "created_at": now, "last_activity_at": now}
        await self.col.insert_one(doc)
        await self.contacts.mark_handoff(contact_id, doc["_id"], REQUESTED)
        return doc

    async def active_for(self, contact_id) -> dict | None:
        return await self.col.find_one({"contact_id": contact_id, "status": {"$in": list(ACTIVE)}})

    async def list(self, status: str = "open", limit: int = 50) -> list[dict]:
        """``open`` = requested or taken (oldest first); any other value is matched as is (newest first)."""
        if status == "open":
            cur = self.col.find({"status": {"$in": list(ACTIVE)}}).sort("created_at", ASCENDING)
        else:
            cur = self.col.find({"status": status}).sort("created_at", DESCENDING)
        return await cur.limit(limit).to_list(limit)

    async def get(self, handoff_id) -> dict | None:
        return await self.col.find_one({"_id": handoff_id})

    async def take(self, handoff_id, staff_id: str) -> dict | None:
        """requested -> taken by ``staff_id``; None when someone else was faster or it is closed."""
        now = utcnow()
        doc = await self.col.find_one_and_update(
            {"_id": handoff_id, "status": {"$in": [REQUESTED, LEGACY_OPEN]}},
            {"$set": {"status": TAKEN, "taken_by": staff_id, "taken_at": now, "last_activity_at": now},
             "$push": _push(_entry("system", "taken", kind="event", actor=staff_id, at=now))},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            await self.contacts.mark_handoff(doc["contact_id"], doc["_id"], TAKEN)
        return doc

    async def add_citizen_message(self, handoff_id, text: str, kind: str = "text") -> None:
        now = utcnow()
        await self.col.update_one({"_id": handoff_id},
                                  {"$push": _push(_entry("citizen", text, kind=kind, at=now)),
                                   "$set": {"last_activity_at": now}})

    async def add_officer_message(self, handoff_id, staff_id: str, text: str) -> dict | None:
        """Only the officer holding the handoff may write; None otherwise."""
        now = utcnow()
        return await self.col.find_one_and_update(
            {"_id": handoff_id, "status": TAKEN, "taken_by": staff_id},
            {"$push": {"replies": {"actor": staff_id, "text": text, "at": now},
                       **_push(_entry("officer", text, actor=staff_id, at=now))},
             "$set": {"last_activity_at": now}},
            return_document=ReturnDocument.AFTER)

    async def add_reply(self, handoff_id, actor: str, text: str, close: bool = False) -> None:
        """A reply through the staff API (any state); ``close`` ends the handoff."""
        now = utcnow()
        upd: dict = {"$push": {"replies": {"actor": actor, "text": text, "at": now},
                               **_push(_entry("officer", text, actor=actor, at=now))},
                     "$set": {"last_activity_at": now}}
        if close:
            upd["$set"].update(status=CLOSED, closed_at=now, closed_reason="replied")
        await self.col.update_one({"_id": handoff_id}, upd)
        if close:
            doc = await self.col.find_one({"_id": handoff_id}, {"contact_id": 1})
            if doc is not None:
                await self.contacts.clear_handoff(doc["contact_id"], handoff_id)

    async def close(self, handoff_id, reason: str, *, staff_id: str | None = None,
                    idle_before: datetime | None = None) -> dict | None:
        """Any active state -> closed. ``staff_id``: only if that person holds it (or it is still requested);
        ``idle_before``: only if taken and quiet since then (the sweeper). None when the condition failed."""
        now = utcnow()
        query: dict = {"_id": handoff_id, "status": {"$in": list(ACTIVE)}}
        if staff_id is not None:
            query["$or"] = [{"status": {"$in": [REQUESTED, LEGACY_OPEN]}}, {"taken_by": staff_id}]
        if idle_before is not None:
            query.update(status=TAKEN, last_activity_at={"$lt": idle_before})
        doc = await self.col.find_one_and_update(
            query, {"$set": {"status": CLOSED, "closed_at": now, "closed_reason": reason},
                    "$push": _push(_entry("system", reason, kind="event", actor=staff_id, at=now))},
            return_document=ReturnDocument.AFTER)
        if doc is not None:
            await self.contacts.clear_handoff(doc["contact_id"], doc["_id"])
        return doc

    async def idle(self, before: datetime, limit: int = 100) -> list[dict]:
        """Taken handoffs with no message either way since ``before``."""
        return await self.col.find({"status": TAKEN, "last_activity_at": {"$lt": before}}).limit(limit).to_list(limit)

    async def count_of_contact(self, contact_id) -> int:
        """How many handoff requests a contact has."""
        return await self.col.count_documents({"contact_id": contact_id})

    async def delete_of_contact(self, contact_id) -> int:
        """Delete a contact's handoff requests (with their transcripts); returns how many."""
        return (await self.col.delete_many({"contact_id": contact_id})).deleted_count

    async def delete_older_than(self, cutoff) -> int:
        """Delete handoffs closed before ``cutoff``, or still open but created before it; returns how many."""
        still_open = {"status": {"$ne": "closed"}, "created_at": {"$lt": cutoff}}
        ending = await self.col.find(still_open, {"contact_id": 1}).to_list(None)
        n = (await self.col.delete_many({"$or": [
            {"status": "closed", "closed_at": {"$lt": cutoff}}, still_open]})).deleted_count
        await self.contacts.clear_handoffs([(d["contact_id"], d["_id"]) for d in ending])
        return n

    async def active(self) -> list[dict]:
        """Every active handoff (contact id and status only)."""
        return await self.col.find({"status": {"$in": list(ACTIVE)}}, {"contact_id": 1, "status": 1}).to_list(None)
