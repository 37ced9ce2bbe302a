"""Data moves for deployments that ran an older version, done at every start after the indexes (idempotent).

- ``conversations`` → ``contacts.conv``: each state document of the old ``conversations`` collection is
  copied into its contact (only where the contact holds no saved state yet, so a state the new code already
  saved wins), then deleted; states of contacts that no longer exist are deleted. Run again, it finds nothing.
- markers: a contact with an active handoff gets its ``handoff`` marker, a contact with ``held`` messages its
  ``has_held`` marker (``bot/storage/contacts.py``), where missing. Both sets are small (active handoffs, held
  messages).

A start with nothing to move costs three reads.
"""
from __future__ import annotations

import logging

from pymongo import UpdateOne

from bot.storage.contact_cache import bump
from bot.storage.conversations import CONV
from bot.storage.handoffs import ACTIVE, status_of

log = logging.getLogger(__name__)

LEGACY_CONVERSATIONS = "conversations"
BATCH = 500


async def run(db) -> dict:
    out = {"conversations": await embed_conversations(db), "handoff_markers": await handoff_markers(db),
           "held_markers": await held_markers(db)}
    if any(out.values()):
        log.info("migrated: %s", out)
    return out


async def embed_conversations(db) -> int:
    """Move the old ``conversations`` documents into their contacts; returns how many were moved."""
    legacy, contacts = db[LEGACY_CONVERSATIONS], db["contacts"]
    moved = 0
    while True:
        docs = await legacy.find({}).limit(BATCH).to_list(BATCH)
        if not docs:
            return moved
        ops = [UpdateOne({"_id": d["_id"], f"{CONV}.version": {"$in": [0, None]}},
                         bump({"$set": {f"{CONV}.{k}": v for k, v in d.items() if k != "_id"}}))
               for d in docs]
        await contacts.bulk_write(ops, ordered=False)
        await legacy.delete_many({"_id": {"$in": [d["_id"] for d in docs]}})
        moved += len(docs)


async def handoff_markers(db) -> int:
    """Set the ``handoff`` marker of contacts with an active handoff that lack one; returns how many."""
    active = await db["handoffs"].find({"status": {"$in": list(ACTIVE)}}, {"contact_id": 1, "status": 1}).to_list(None)
    if not active:
        return 0
    ops = [UpdateOne({"_id": h["contact_id"], "handoff": {"$exists": False}},
                     bump({"$set": {"handoff": {"id": h["_id"], "status": status_of(h)}}})) for h in active]
    return (await db["contacts"].bulk_write(ops, ordered=False)).modified_count


async def held_markers(db) -> int:
    """Set ``has_held`` on contacts with held messages that lack it; returns how many."""
    held = await db["messages"].find({"status": "held", "direction": "out"}, {"contact_id": 1}).to_list(None)
    ids = list({m["contact_id"] for m in held if m.get("contact_id") is not None})
    if not ids:
        return 0
    res = await db["contacts"].update_many({"_id": {"$in": ids}, "has_held": {"$exists": False}},
                                           bump({"$set": {"has_held": True}}))
    return res.modified_count
