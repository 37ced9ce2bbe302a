"""messages: every inbound and outbound message. Outbound documents are the outbox.

Inbound: unique (channel, channel_message_id) makes redelivered webhooks harmless.
Outbound status: queued -> sending -> sent -> delivered -> read, or failed (with reason), or held until the
person writes again (WhatsApp outside the 24-hour window, ``bot/held.py``; then back to queued).
A message is claimed (queued -> sending) before the provider call and never claimed twice, so a
crash can lose at most the in-flight message but never send it twice.
"""
from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import DuplicateKeyError

from bot.storage.durability import durable
from bot.messages import InboundMessage, OutboundMessage, utcnow

PRIVATE_MARK = "[disembunyikan]"  # stored in place of bodies we must not keep readable in logs


class MessageStore:
    def __init__(self, db, retention_days: int = 365):
        self.col = db["messages"]
        self.durable = durable(self.col)  # acknowledged to someone outside: journaled first
        self.retention_days = retention_days

    async def ensure_indexes(self) -> None:
        await self.col.create_index(
            [("channel", ASCENDING), ("channel_message_id", ASCENDING)], unique=True,
            partialFilterExpression={"direction": "in"}, name="inbound_once")
        await self.col.create_index([("status", ASCENDING), ("channel", ASCENDING), ("priority", ASCENDING),
                                     ("next_attempt_at", ASCENDING)], name="outbox")
        await self.col.create_index([("contact_id", ASCENDING), ("created_at", DESCENDING)])
        await self.col.create_index([("provider_id", ASCENDING)], sparse=True)
        await self.col.create_index("created_at", expireAfterSeconds=self.retention_days * 86400,
                                    name="retention")

    async def store_inbound(self, msg: InboundMessage, contact_id) -> ObjectId | None:
        """Insert before processing. Returns None when this channel message id was seen already."""
        doc = {
            "_id": ObjectId(), "direction": "in", "channel": msg.identity.channel,
            "channel_message_id": msg.channel_message_id, "contact_id": contact_id,
            "kind": msg.kind, "text": msg.text, "payload": msg.payload,
            "media": [m.__dict__ for m in msg.media] or None,
            "location": msg.location.__dict__ if msg.location else None,
            "original_size": msg.original_size, "status": "received",
            "created_at": msg.received_at,
        }
        try:
            await self.durable.insert_one(doc)
        except DuplicateKeyError:
            return None
        return doc["_id"]

    async def mark_inbound(self, message_id, status: str, **fields) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {"status": status, **fields}})

    def outbound_doc(self, msg: OutboundMessage, status: str = "queued") -> dict:
        now = utcnow()
        return {
            "_id": msg.message_id or ObjectId(), "direction": "out", "channel": msg.identity.channel,
            "user_id": msg.identity.user_id, "contact_id": msg.contact_id, "kind": msg.kind,
            "text": msg.text, "choices": [c.__dict__ for c in msg.choices] or None,
            "request_location": msg.request_location or None,
            "template": msg.template, "template_params": msg.template_params or None,
            "priority": msg.priority, "campaign": msg.campaign, "status": status, "attempts": 0,
            "next_attempt_at": now, "created_at": now, "sent_at": now if status == "sent" else None,
        }

    async def queue(self, msgs: list[OutboundMessage], status: str = "queued") -> list[dict]:
        docs = [self.outbound_doc(m, status) for m in msgs]
        for m, d in zip(msgs, docs):
            m.message_id = d["_id"]
        if docs:
            await self.col.insert_many(docs, ordered=True)
        return docs

    async def claim(self, message_id, lease_s: float = 60) -> dict | None:
        """queued -> sending, only if still queued. The one place that decides who sends."""
        now = utcnow()
        # a conditional update_one is as atomic as findAndModify (only one claimer matches 'queued') and much
        # cheaper on the embedded database, whose findAndModify scans the collection
        res = await self.col.update_one(
            {"_id": message_id, "status": "queued"},
            {"$set": {"status": "sending", "claimed_at": now, "lease_until": now + timedelta(seconds=lease_s)},
             "$inc": {"attempts": 1}})
        if res.modified_count != 1:
            return None
        return await self.col.find_one({"_id": message_id})

    async def claim_many(self, message_ids: list, lease_s: float = 60) -> list[dict]:
        """Batch ``claim``: queued -> sending for those of ``message_ids`` still queued, in two round-trips.

        One ``update_many`` stamps a fresh claim token on the documents it moves (only one claimer can move a
        document out of 'queued', so still at most once), then one ``find`` by that token returns exactly the
        documents this call claimed, in the order of ``message_ids``."""
        if not message_ids:
            return []
        now = utcnow()
        token = ObjectId()
        res = await self.col.update_many(
            {"_id": {"$in": list(message_ids)}, "status": "queued"},
            {"$set": {"status": "sending", "claimed_at": now, "claim_id": token,
                      "lease_until": now + timedelta(seconds=lease_s)},
             "$inc": {"attempts": 1}})
        if not res.modified_count:
            return []
        docs = {d["_id"]: d for d in await self.col.find(
            {"_id": {"$in": list(message_ids)}, "claim_id": token}).to_list(None)}
        return [docs[i] for i in message_ids if i in docs]

    async def mark_sent_many(self, results: list[tuple]) -> None:
        """Batch ``mark_sent``: ``[(message_id, provider_id, sent_at), ...]`` in one bulk write."""
        if results:
            await self.col.bulk_write([UpdateOne({"_id": mid}, {"$set": {
                "status": "sent", "provider_id": pid, "sent_at": at}}) for mid, pid, at in results], ordered=False)

    async def due(self, channel: str, limit: int = 200, max_priority: int | None = None,
                  settled_s: float = 0.0) -> list[dict]:
        """Queued messages due for ``settled_s`` seconds at least (the sweep leaves fresh ones to the process
        that queued them, which sends one chat's messages in order)."""
        q: dict = {"status": "queued", "channel": channel,
                   "next_attempt_at": {"$lte": utcnow() - timedelta(seconds=settled_s)}}
        if max_priority is not None:
            q["priority"] = {"$lte": max_priority}
        cur = self.col.find(q).sort([("priority", ASCENDING), ("next_attempt_at", ASCENDING)]).limit(limit)
        return await cur.to_list(limit)

    async def mark_sent(self, message_id, provider_id: str | None) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {
            "status": "sent", "provider_id": provider_id, "sent_at": utcnow()}})

    async def requeue(self, message_id, delay_s: float, error: str) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {
            "status": "queued", "last_error": error,
            "next_attempt_at": utcnow() + timedelta(seconds=delay_s)}})

    async def mark_failed(self, message_id, reason: str, error: str | None = None) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {
            "status": "failed", "failure_reason": reason, "last_error": error, "failed_at": utcnow()}})

    async def expire_leases(self) -> int:
        """A message left in 'sending' by a crashed process may or may not have gone out: never resend it."""
        res = await self.col.update_many(
            {"status": "sending", "lease_until": {"$lt": utcnow()}},
            {"$set": {"status": "failed", "failure_reason": "interrupted", "failed_at": utcnow()}})
        return res.modified_count

    _RANK = {"queued": 0, "sending": 1, "sent": 2, "delivered": 3, "read": 4, "failed": 5}

    async def update_provider_status(self, provider_id: str, status: str, error: str | None = None) -> dict | None:
        """Delivery receipts may arrive out of order: never move backwards (read stays read)."""
        lower = [s for s, r in self._RANK.items() if r < self._RANK.get(status, 0)]
        fields = {"status": status, f"{status}_at": utcnow()}
        if error:
            fields["last_error"] = error
            fields["failure_reason"] = error
        return await self.col.find_one_and_update(
            {"provider_id": provider_id, "status": {"$in": lower}}, {"$set": fields},
            return_document=ReturnDocument.AFTER)

    async def get(self, message_id) -> dict | None:
        return await self.col.find_one({"_id": message_id})

    async def history(self, contact_id, limit: int = 50) -> list[dict]:
        cur = self.col.find({"contact_id": contact_id}).sort("created_at", DESCENDING).limit(limit)
        return list(reversed(await cur.to_list(limit)))
