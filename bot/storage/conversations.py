"""conversations: the current dialogue state per contact, kept inside the contact document (field ``conv``).

The state travels with the contact: the engine reads both with the one ``find`` of ``contacts.get_or_create``
and writes the new state and the turn's contact changes with one ``update`` (``save(state, contact_updates)``).
``conv`` carries its own ``version`` for optimistic concurrency: ``save`` matches on it and raises
``VersionConflict`` when someone else saved first. A contact without ``conv`` (state removed by retention or
erasure, or never saved) reads as a fresh state of version 0.

The state is bounded: flow, step, slots, a short back-stack, last choices, rate window; never a transcript
(the transcript lives in ``messages``). Until this version the state had its own collection
``conversations``; ``bot/storage/migrations.py`` moves it into the contacts once, at start-up.
"""
from __future__ import annotations

from bot.messages import utcnow
import bson

from bot.storage.contact_cache import BSON_OPTS, REV, ContactCache, bump

CONV = "conv"  # the contact document's field holding the state


class VersionConflict(Exception):
    """Someone else saved this conversation since we loaded it: reload and rerun the turn."""


def new_state(contact_id) -> dict:
    return {"_id": contact_id, "version": 0, "flow": None, "step": None, "slots": {}, "pending": None,
            "back": [], "window": {}, "created_at": utcnow(), "updated_at": utcnow()}


def fresh_conv() -> dict:
    """What a new contact document carries as ``conv``: a fresh state, version 0, without ``updated_at``
    (set by the first save), so the retention sweep leaves never-used states alone as it did when they were
    not stored at all."""
    return {k: v for k, v in new_state(None).items() if k not in ("_id", "updated_at")}


def state_of(contact: dict) -> dict:
    """The dialogue state held in a contact document (``_id`` = the contact's id); fresh when it has none."""
    conv = contact.get(CONV) or {}
    return {**new_state(contact["_id"]), **conv, "_id": contact["_id"], "version": conv.get("version") or 0}


def without_state(contact: dict) -> dict:
    """A copy of the contact document without its dialogue state (what a turn sees as the contact)."""
    return {k: v for k, v in contact.items() if k != CONV}


def version_of(contact: dict) -> int:
    return (contact.get(CONV) or {}).get("version") or 0


class ConversationStore:
    """The ``conv`` part of the ``contacts`` collection (``ContactStore`` owns every other field)."""

    def __init__(self, db, cache: ContactCache | None = None):
        self.col = db["contacts"]
        # the one ``ContactStore`` uses (an empty cache is falsy: compare with None): every write here drops a copy
        self.cache = cache if cache is not None else ContactCache()

    async def ensure_indexes(self) -> None:
        await self.col.create_index(f"{CONV}.updated_at", sparse=True, name="conv_updated_at")

    async def load(self, contact_id) -> dict:
        doc = await self.col.find_one({"_id": contact_id}, {CONV: 1})
        return state_of(doc) if doc else new_state(contact_id)

    async def last_inbound(self, contact_ids) -> dict:
        """{contact_id: when the person last wrote} (the engine keeps it on the conversation), one query."""
        ids = list(contact_ids)
        if not ids:
            return {}
        docs = await self.col.find({"_id": {"$in": ids}}, {f"{CONV}.last_inbound_at": 1}).to_list(None)
        return {d["_id"]: (d.get(CONV) or {}).get("last_inbound_at") for d in docs}

    async def remember_choices(self, contact_id, payloads: list[str]) -> None:
        """Choices a channel showed as a numbered text menu outside a turn (a notification on SMS, a long
        WhatsApp menu) become the ones a bare number answers (``last_choices``, as after a turn)."""
        saved = f"{CONV}.updated_at"
        self.cache.forget(contact_id)
        for _ in range(2):
            res = await self.col.update_one({"_id": contact_id, saved: {"$exists": True}},
                                            bump({"$set": {f"{CONV}.last_choices": payloads}}))
            if res.matched_count:
                return
            # no state saved yet: these choices make it one (the rest reads as fresh)
            res = await self.col.update_one({"_id": contact_id, saved: {"$exists": False}},
                                            bump({"$set": {f"{CONV}.last_choices": payloads, saved: utcnow()}}))
            if res.matched_count:  # otherwise: a turn saved in between (update that one), or no such contact
                return

    async def save(self, state: dict, contact_updates: dict | None = None, rev: int | None = None,
                   before: bytes | None = None) -> None:
        """Write the state, and ``contact_updates`` (contact fields) with it in the same update, if nobody
        saved since it was loaded; bumps ``version`` in place. VersionConflict otherwise (also when the contact
        is gone). Like the separate document before, only the state's keys are set: a key popped from
        ``state`` stays stored (assign None instead). ``rev`` (a turn started from a cached copy): match on
        the contact's write counter instead, so that any write since the copy was made is a conflict.
        ``before`` (BSON of the whole contact the turn started from): once written, the process's cache keeps
        the contact as this save left it."""
        expected = state["version"]
        now = utcnow()
        fields = {f"{CONV}.{k}": v for k, v in state.items() if k not in ("_id", "version", "updated_at")}
        fields.update({f"{CONV}.updated_at": now, f"{CONV}.version": expected + 1})
        for key, value in (contact_updates or {}).items():
            if key == CONV or key.startswith(f"{CONV}."):
                raise ValueError("contact updates may not write the conversation state")
            fields[key] = value
        if rev is not None:
            query = {"_id": state["_id"], REV: rev if rev else {"$in": [0, None]}}
        else:
            query = {"_id": state["_id"], f"{CONV}.version": expected if expected else {"$in": [0, None]}}
        self.cache.forget(state["_id"])
        res = await self.col.update_one(query, bump({"$set": fields}))
        if res.matched_count != 1:
            raise VersionConflict(state["_id"])
        state["version"] = expected + 1
        state["updated_at"] = now
        if before is not None:
            doc = bson.decode(before, codec_options=BSON_OPTS)
            doc.update(contact_updates or {})
            doc[CONV] = {**(doc.get(CONV) or {}), **{k: v for k, v in state.items() if k != "_id"}}
            doc[REV] = (doc.get(REV) or 0) + 1
            self.cache.put(doc)

    async def stored(self, contact_id) -> dict | None:
        """The saved conversation state of a contact, or None (never saved, or removed)."""
        doc = await self.col.find_one({"_id": contact_id}, {CONV: 1})
        return state_of(doc) if doc and (doc.get(CONV) or {}).get("updated_at") else None

    async def delete(self, contact_id) -> None:
        """Delete a contact's conversation state (the contact stays)."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id}, bump({"$unset": {CONV: ""}}))

    async def delete_untouched_before(self, cutoff) -> int:
        """Delete conversation states last updated before ``cutoff``; returns how many."""
        self.cache.clear()
        return (await self.col.update_many({f"{CONV}.updated_at": {"$lt": cutoff}},
                                           bump({"$unset": {CONV: ""}}))).modified_count

    async def note_inbound(self, contact_id, at) -> None:
        """Record when the contact last wrote, outside a turn (no version bump)."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id}, bump({"$max": {f"{CONV}.last_inbound_at": at}}))

    async def drop_pending(self, contact_id, kind: str) -> None:
        """Clear a pending question of this kind, bumping ``version`` so a running turn reloads."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id, f"{CONV}.pending.kind": kind},
                                  bump({"$set": {f"{CONV}.pending": None}, "$inc": {f"{CONV}.version": 1}}))
