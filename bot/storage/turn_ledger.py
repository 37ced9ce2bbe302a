"""turn_ledger: which inbound messages a contact's dialogue state already consumed, saved with that state.

The inbound message is stored before its turn runs (so a webhook can be acknowledged), and the turn's state
is saved afterwards. A process killed in between leaves a stored inbound message whose turn never committed;
the provider's redelivery (or inbox recovery, or a retry through another process behind the load balancer)
then finds the message "already stored". The ledger tells the two apart: the ids of the last
``KEEP`` inbound messages are written into the conversation document in the same update as the state, so
"consumed" and "state advanced" are one atomic fact. A stored message missing from the ledger, and recent
(``REDO_WINDOW``), had its turn interrupted: it is run now. A turn racing another process for the same
message finds it in the reloaded state after a version conflict and stops, so it is consumed exactly once.

The turn's replies are written with the state too (``UNSENT``: that one turn's outbound documents, with their
ids, bounded by the turn), because the outbox insert comes after the state save: a process killed between the
two leaves a consumed message without replies. When such a message comes back and its replies are still
missing from ``messages`` after ``REPLAY_AFTER``, they are inserted then, as queued, with the same ids (so at
most once), and the outbox sweep sends them.
"""
from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo.errors import BulkWriteError

from bot.messages import InboundMessage, OutboundMessage, utcnow

KEY = "consumed"
UNSENT = "unsent"
KEEP = 20
REPLAY_AFTER = timedelta(seconds=30)  # the process that ran the turn has had time to queue its replies
REDO_WINDOW = timedelta(minutes=15)  # older stored messages are true duplicates (never re-run)


def consumed(state: dict, inbound: InboundMessage) -> bool:
    return inbound.channel_message_id in (state.get(KEY) or [])


def record(state: dict, inbound: InboundMessage) -> None:
    """Note ``inbound`` as consumed in ``state`` (saved with it); the list stays bounded."""
    ids = [i for i in (state.get(KEY) or []) if i != inbound.channel_message_id]
    state[KEY] = (ids + [inbound.channel_message_id])[-KEEP:]


def stash(state: dict, inbound: InboundMessage, replies: list[OutboundMessage], messages) -> list[OutboundMessage]:
    """Give ``replies`` their ids and keep their documents in ``state`` (saved with it); returns ``replies``."""
    for r in replies:
        r.message_id = r.message_id or ObjectId()
    state[UNSENT] = {"in": inbound.channel_message_id, "docs": [messages.outbound_doc(r) for r in replies]}
    return replies


async def replay_unsent(stores, state: dict, inbound: InboundMessage) -> int:
    """Queue the stashed replies of ``inbound`` that never reached ``messages``; returns how many."""
    unsent = state.get(UNSENT) or {}
    docs = unsent.get("docs") or []
    if unsent.get("in") != inbound.channel_message_id or not docs:
        return 0
    created = min(d["created_at"] for d in docs)
    if created.tzinfo is None:
        created = created.replace(tzinfo=utcnow().tzinfo)
    if utcnow() - created < REPLAY_AFTER:
        return 0
    present = {d["_id"] for d in await stores.messages.col.find(
        {"_id": {"$in": [d["_id"] for d in docs]}}, {"_id": 1}).to_list(None)}
    missing = [{**d, "status": "queued", "next_attempt_at": utcnow()} for d in docs if d["_id"] not in present]
    if missing:
        try:
            await stores.messages.col.insert_many(missing, ordered=False)
        except BulkWriteError:  # queued meanwhile by someone else: those stay as they are
            pass
    return len(missing)


async def interrupted(stores, inbound: InboundMessage, contact_id):
    """The stored copy's id when ``inbound`` was stored but its turn never committed; else None."""
    doc = await stores.messages.col.find_one(
        {"direction": "in", "channel": inbound.identity.channel, "channel_message_id": inbound.channel_message_id},
        {"_id": 1, "created_at": 1, "contact_id": 1})
    if doc is None or doc.get("contact_id") != contact_id:
        return None
    created = doc.get("created_at")
    if created is not None and created.tzinfo is None:
        created = created.replace(tzinfo=utcnow().tzinfo)
    if created is not None and utcnow() - created > REDO_WINDOW:
        return None
    state = await stores.conversations.col.find_one({"_id": contact_id}, {KEY: 1, UNSENT: 1}) or {}
    if consumed(state, inbound):
        await replay_unsent(stores, state, inbound)
        return None
    return doc["_id"]
