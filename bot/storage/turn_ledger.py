"""turn_ledger: which inbound messages a contact's dialogue state already consumed, saved with that state.

The inbound message is stored before its turn runs (so a webhook can be acknowledged), and the turn's state
is saved afterwards. A process killed in between leaves a stored inbound message whose turn never committed;
the provider's redelivery (or inbox recovery, or a retry through another process behind the load balancer)
then finds the message "already stored". The ledger tells the two apart: the ids of the last
``KEEP`` inbound messages are written into the conversation document in the same update as the state, so
"consumed" and "state advanced" are one atomic fact. A stored message missing from the ledger, and recent
(``REDO_WINDOW``), had its turn interrupted: it is run now. A turn racing another process for the same
message finds it in the reloaded state after a version conflict and stops, so it is consumed exactly once.
"""
from __future__ import annotations

from datetime import timedelta

from bot.messages import InboundMessage, utcnow

KEY = "consumed"
KEEP = 20
REDO_WINDOW = timedelta(minutes=15)  # older stored messages are true duplicates (never re-run)


def consumed(state: dict, inbound: InboundMessage) -> bool:
    return inbound.channel_message_id in (state.get(KEY) or [])


def record(state: dict, inbound: InboundMessage) -> None:
    """Note ``inbound`` as consumed in ``state`` (saved with it); the list stays bounded."""
    ids = [i for i in (state.get(KEY) or []) if i != inbound.channel_message_id]
    state[KEY] = (ids + [inbound.channel_message_id])[-KEEP:]


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
    state = await stores.conversations.col.find_one({"_id": contact_id}, {KEY: 1})
    return None if consumed(state or {}, inbound) else doc["_id"]
