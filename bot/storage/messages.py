"""messages: every inbound and outbound message. Outbound documents are the outbox.

Inbound: unique (channel, channel_message_id) makes redelivered webhooks harmless. Inbound status:
received (stored, its turn running under a lease of ``INBOUND_LEASE_S``) -> processed (turn saved, replies
queued), or failed (the turn crashed on a bug). A message still ``received`` after its lease ran out (the
process died mid-turn) is handed out again by ``store_inbound`` when the same message arrives once more
(webhook redelivery, inbox recovery), so a stored message is never dropped; the conversation remembers the
inbound ids whose turn it saved, so the rerun never answers twice.
Outbound status: queued -> sending -> sent -> delivered -> read, or failed (with reason), or held until the
person writes again (WhatsApp outside the 24-hour window, ``bot/held.py``; then back to queued).
A message is claimed (queued -> sending) before the provider call and never claimed twice, so a
crash can lose at most the in-flight message but never send it twice.

Group commit (``bot/storage/coalesce.py``): the per-message bookkeeping of concurrent turns is written together,
one command per batch, each caller still waiting for its own write: inbound and reply inserts (one
``insert_many``, journaled when it holds an inbound message, as before), ``processed``/``failed`` marks, reply
claims and ``sent`` marks (together in one unordered ``bulk_write``), delivery receipts (one ``update_many`` per
status). A lone write goes out at once.
"""
from __future__ import annotations

from datetime import timedelta

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from bot.storage.coalesce import Coalescer, per_item_errors
from bot.storage.durability import durable
from bot.storage.leases import PROCESS_ID
from bot.storage.rate_shares import is_dead
from bot.messages import Identity, InboundMessage, Location, Media, OutboundMessage, SharedContact, utcnow

PRIVATE_MARK = "[disembunyikan]"  # stored in place of bodies we must not keep readable in logs
INBOUND_LEASE_S = 60.0  # a turn that has not finished after this is taken to have died with its process
IN_FLIGHT_WINDOW = timedelta(seconds=2 * INBOUND_LEASE_S)  # how far back ``earlier_in_flight`` looks


class MessageStore:
    def __init__(self, db, retention_days: int = 365):
        self.col = db["messages"]
        self.durable = durable(self.col)  # acknowledged to someone outside: journaled first
        self.retention_days = retention_days
        # group commit of concurrent turns' bookkeeping (module docstring)
        # inbound messages ("in", doc) and turns' replies ("out", docs) share one insert_many
        self._inserts = Coalescer(self._insert_batch, name="message inserts")
        # marks and reply claims share one unordered bulk_write: a turn's processed mark and its reply's claim
        # usually go out together; a mark whose caller was cancelled is still written, a claim is not
        self._updates = Coalescer(self._update_batch, name="message updates",
                                  keep_cancelled=lambda item: item[0] == "mark")
        self._receipts = Coalescer(self._receipt_batch, name="delivery receipts")

    async def close(self) -> None:
        """Write the group-committed writes still waiting (before the client closes)."""
        for c in (self._inserts, self._updates, self._receipts):
            await c.stop()

    async def ensure_indexes(self) -> None:
        await self.col.create_index(
            [("channel", ASCENDING), ("channel_message_id", ASCENDING)], unique=True,
            partialFilterExpression={"direction": "in"}, name="inbound_once")
        await self.col.create_index([("status", ASCENDING), ("channel", ASCENDING), ("priority", ASCENDING),
                                     ("next_attempt_at", ASCENDING)], name="outbox")
        await self.col.create_index([("contact_id", ASCENDING), ("created_at", DESCENDING)])
        # until this version a partial index served ``earlier_in_flight``; every write paid for it
        if "inbound_in_flight" in await self.col.index_information():
            await self.col.drop_index("inbound_in_flight")
        await self.col.create_index([("provider_id", ASCENDING)], sparse=True)
        await self.col.create_index("created_at", expireAfterSeconds=self.retention_days * 86400,
                                    name="retention")
        await self.col.create_index([("campaign", ASCENDING), ("status", ASCENDING)], name="outreach_campaign",
                                    partialFilterExpression={"campaign": {"$type": "string"}})

    async def store_inbound(self, msg: InboundMessage, contact_id) -> ObjectId | None:
        """Insert before processing; the caller then runs the turn and marks it ``processed``.

        Returns None when this channel message id was seen already and is processed, failed, or still being
        processed by a live turn; returns the stored id again when its turn was left unfinished (lease over, or
        its owner process known dead: ``rate_shares.dead_owners``)."""
        now = utcnow()
        doc = {
            "_id": ObjectId(), "direction": "in", "channel": msg.identity.channel,
            "channel_message_id": msg.channel_message_id, "contact_id": contact_id,
            "kind": msg.kind, "text": msg.text, "payload": msg.payload,
            "media": [m.__dict__ for m in msg.media] or None,
            "location": msg.location.__dict__ if msg.location else None,
            "shared_contact": msg.contact.__dict__ if msg.contact else None, "start_param": msg.start_param,
            "referral": (msg.raw or {}).get("referral"),  # a click-to-WhatsApp ad (kept for a rerun's attribution)
            "original_size": msg.original_size, "status": "received",
            "created_at": msg.received_at, "lease_until": now + timedelta(seconds=INBOUND_LEASE_S),
            "owner": PROCESS_ID,
        }
        try:
            await self._inserts.submit(("in", doc))  # journaled, with the other turns' inserts
        except DuplicateKeyError:
            return await self.reclaim_inbound(msg.identity.channel, msg.channel_message_id)
        return doc["_id"]

    async def _insert_batch(self, items: list[tuple[str, object]]) -> list:
        """One ``insert_many`` for inbound messages (``("in", doc)``) and turns' replies (``("out", docs)``),
        journaled when an inbound message is among them (it is acknowledged to someone outside). Each caller
        hears its own error: a redelivered inbound id its DuplicateKeyError, a turn the first of its replies'."""
        flat: list[dict] = []
        spans = []
        for kind, payload in items:
            docs = [payload] if kind == "in" else payload
            spans.append((len(flat), len(docs)))
            flat += docs
        col = self.durable if any(kind == "in" for kind, _ in items) else self.col
        try:
            await col.insert_many(flat, ordered=False)
            return [None] * len(items)
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors"):
                raise
            errors = per_item_errors(len(flat), exc)
        return [next((e for e in errors[start:start + n] if e is not None), None) for start, n in spans]

    @staticmethod
    def inbound_from_doc(doc: dict, identity: Identity) -> InboundMessage:
        """A stored inbound message as the engine takes it (a rerun of a turn that never finished)."""
        shared = doc.get("shared_contact")
        return InboundMessage(
            identity, doc["channel_message_id"], text=doc.get("text") or "", payload=doc.get("payload"),
            media=[Media(**m) for m in doc.get("media") or []],
            location=Location(**doc["location"]) if doc.get("location") else None,
            contact=SharedContact(**shared) if shared else None, start_param=doc.get("start_param"),
            kind=doc.get("kind") or "text", received_at=doc["created_at"], original_size=doc.get("original_size"),
            raw={"referral": doc["referral"]} if doc.get("referral") else None)

    async def reclaim_inbound(self, channel: str, channel_message_id: str) -> ObjectId | None:
        """Take over a stored inbound whose turn never finished (status received, and its lease over or its
        owner known dead: a killed process); None otherwise. Messages stored before leases existed have no
        ``lease_until`` and are never taken over. Only redeliveries come here, so the extra read is off the
        common path."""
        doc = await self.col.find_one({"channel": channel, "channel_message_id": channel_message_id,
                                       "direction": "in"}, {"status": 1, "lease_until": 1, "owner": 1})
        if not doc or doc.get("status") != "received" or doc.get("lease_until") is None:
            return None
        if doc["lease_until"] >= utcnow() and not await is_dead(self.col.database, doc.get("owner")):
            return None  # a live turn holds it
        return doc["_id"] if await self.take_over(doc) else None

    async def stale_inbound(self, channel: str, dead: list[str], limit: int = 50) -> list[dict]:
        """Stored inbound messages of ``channel`` whose turn never finished: the lease is over, or the owner
        is in ``dead`` (killed processes). Oldest first. For channels whose stored message is the inbox."""
        # two plain queries on the ``outbox`` index (status, channel): an ``$or`` or a sort here makes the
        # embedded server walk the whole collection
        base = {"status": "received", "channel": channel, "direction": "in"}
        docs = await self.col.find({**base, "lease_until": {"$lt": utcnow()}}).limit(limit).to_list(limit)
        if dead:
            seen = {d["_id"] for d in docs}
            docs += [d for d in await self.col.find({**base, "owner": {"$in": dead}, "lease_until": {"$exists": True}}
                                                    ).limit(limit).to_list(limit) if d["_id"] not in seen]
        return sorted(docs, key=lambda d: (d["created_at"], d["_id"]))

    async def take_over(self, doc: dict) -> bool:
        """Compare-and-set on the lease of a stored inbound message whose turn never finished (``stale_inbound``,
        ``reclaim_inbound``): True for the one process that wins."""
        res = await self.col.update_one(
            {"_id": doc["_id"], "status": "received", "lease_until": doc["lease_until"]},
            {"$set": {"lease_until": utcnow() + timedelta(seconds=INBOUND_LEASE_S), "owner": PROCESS_ID},
             "$inc": {"reclaimed": 1}})
        return res.modified_count == 1

    async def set_contact(self, message_id, contact_id) -> None:
        """A stored inbound message whose contact was erased (by another process) before its turn ran: it
        belongs to the contact created again for the same person."""
        await self.col.update_one({"_id": message_id}, {"$set": {"contact_id": contact_id}})

    async def set_inbound_media(self, message_id, media: list) -> None:
        """The attachments as downloaded (GridFS ids) on a message stored before its media was fetched."""
        await self.col.update_one({"_id": message_id}, {"$set": {"media": [m.__dict__ for m in media] or None}})

    async def earlier_in_flight(self, contact_id, inbound_id, received_at) -> bool:
        """Another inbound message of this contact, earlier than ``inbound_id`` (received at ``received_at``;
        by its time, then its id), whose turn is still running under a live lease (possibly in another
        process). One small read on the contact's history index: its messages of the last
        ``IN_FLIGHT_WINDOW`` (an earlier turn still running is younger than that: the engine stops waiting
        for one after ~13 s, and a lease lasts ``INBOUND_LEASE_S``)."""
        received_at = received_at.replace(microsecond=received_at.microsecond // 1000 * 1000)  # as stored
        docs = await self.col.find(
            {"contact_id": contact_id,
             "created_at": {"$gte": received_at - IN_FLIGHT_WINDOW, "$lte": received_at}},
            {"direction": 1, "status": 1, "created_at": 1, "lease_until": 1}).limit(200).to_list(200)
        now = utcnow()
        return any(d["_id"] != inbound_id and d.get("direction") == "in" and d.get("status") == "received"
                   and d.get("lease_until") is not None and d["lease_until"] > now
                   and (d["created_at"], d["_id"]) < (received_at, inbound_id) for d in docs)

    async def inbound_unfinished(self, channel: str, channel_message_id: str) -> bool:
        """True while the inbound is stored but its turn has not completed (another turn holds the lease)."""
        doc = await self.col.find_one({"channel": channel, "channel_message_id": channel_message_id,
                                       "direction": "in"}, {"status": 1, "lease_until": 1})
        return bool(doc) and doc.get("status") == "received" and doc.get("lease_until") is not None

    async def mark_inbound(self, message_id, status: str, **fields) -> None:
        """``processed`` or ``failed``: the turn is over, the lease is dropped (group-committed)."""
        await self._updates.submit(("mark", UpdateOne({"_id": message_id}, {"$set": {"status": status, **fields},
                                                                             "$unset": {"lease_until": ""}})))

    async def set_parts_sent(self, message_id, n: int) -> None:
        """How many parts of a long message went out already (a retry sends only the rest)."""
        await self.col.update_one({"_id": message_id}, {"$set": {"parts_sent": n}})

    def outbound_doc(self, msg: OutboundMessage, status: str = "queued") -> dict:
        now = utcnow()
        return {
            "_id": msg.message_id or ObjectId(), "direction": "out", "channel": msg.identity.channel,
            "user_id": msg.identity.user_id, "contact_id": msg.contact_id, "kind": msg.kind,
            "text": msg.text, "choices": [c.__dict__ for c in msg.choices] or None,
            "request_location": msg.request_location or None,
            "template": msg.template, "template_params": msg.template_params or None,
            **({"use_template": msg.use_template} if msg.use_template is not None else {}),
            **({"language": msg.language} if msg.language else {}),
            "priority": msg.priority, "campaign": msg.campaign, "status": status, "attempts": 0,
            "next_attempt_at": now, "created_at": now, "sent_at": now if status == "sent" else None,
        }

    async def queue(self, msgs: list[OutboundMessage], status: str = "queued", pushed_here=()) -> list[dict]:
        """Insert outbound messages. Those of a channel in ``pushed_here`` (this process's outbox sends them from
        memory) carry ``queued_by``: the other processes' sweeps leave them to this one while it lives
        (``due``); any other queued message is left to the sweep."""
        docs = [self.outbound_doc(m, status) for m in msgs]
        for d in docs:
            if d["channel"] in pushed_here:
                d["queued_by"] = PROCESS_ID
        for m, d in zip(msgs, docs):
            m.message_id = d["_id"]
        if docs:
            await self._inserts.submit(("out", docs))  # with the other turns' inserts: one command
        return docs

    async def insert_outbound(self, docs: list[dict]) -> int:
        """Insert prepared outbound documents (``outbound_doc``); an ``_id`` already stored is kept, not
        duplicated (campaign messages have pre-allocated ids). Returns how many were inserted."""
        if not docs:
            return 0
        try:
            res = await self.col.insert_many(docs, ordered=False)
            return len(res.inserted_ids)
        except BulkWriteError as exc:
            if [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]:
                raise
            return exc.details.get("nInserted", 0)

    async def claim(self, message_id, lease_s: float = 60, doc: dict | None = None) -> dict | None:
        """queued -> sending, only if still queued. The one place that decides who sends.

        ``doc``: the document as this process just inserted it (``queue``), if it has it: when everything in
        the batch applied, the claimed document is built from it instead of read back. Group-committed with
        the other claims and marks (``_update_batch``)."""
        return await self._updates.submit(("claim", (message_id, lease_s, doc)))

    async def _update_batch(self, items: list[tuple]) -> list:
        """Marks and claims in one unordered ``bulk_write`` (one ``update`` command).

        A claim is a conditional update on ``status: queued``, so only one claimer can move a document out of
        'queued' (still at most once); it stamps the batch's claim token. When every operation modified its
        document, every claim won and, for documents held in memory, nothing is read back; otherwise one
        ``find`` by the token returns exactly the documents this batch claimed. Journaled when it carries a
        claim: a claim lost to a kill -9 of the database would put a message the provider already has back in
        'queued' (sent twice); journaling also makes the turns' earlier writes durable (one ordered log)."""
        now, token = utcnow(), ObjectId()
        ops: list = []
        where: list = [None] * len(items)  # item -> index of its operation (a repeated claim has none: None)
        claims: dict = {}  # item index -> (message id, fields set, held document)
        for i, (kind, x) in enumerate(items):
            if kind == "claim":
                mid, lease_s, held = x
                if any(c[0] == mid for c in claims.values()):
                    continue
                fields = {"status": "sending", "claimed_at": now, "claim_id": token,
                          "lease_until": now + timedelta(seconds=lease_s), "claimed_by": PROCESS_ID}
                claims[i] = (mid, fields, held)
                x = UpdateOne({"_id": mid, "status": "queued"}, {"$set": fields, "$inc": {"attempts": 1}})
            where[i] = len(ops)
            ops.append(x)
        col = self.durable if claims else self.col
        try:
            res = await col.bulk_write(ops, ordered=False)
            errors, modified = [None] * len(ops), res.modified_count
        except BulkWriteError as exc:
            if exc.details.get("writeConcernErrors"):
                raise
            errors, modified = per_item_errors(len(ops), exc), -1
        out: list = [None if w is None else errors[w] for w in where]
        if not claims:
            return out
        if modified == len(ops) and all(held is not None for _m, _f, held in claims.values()):
            for i, (_mid, fields, held) in claims.items():
                out[i] = {**held, **fields, "attempts": held.get("attempts", 0) + 1}
            return out
        docs = {d["_id"]: d for d in await self.col.find(
            {"_id": {"$in": [c[0] for c in claims.values()]}, "claim_id": token}).to_list(None)}
        for i, (mid, _fields, _held) in claims.items():
            if out[i] is None:
                out[i] = docs.get(mid)
        return out

    async def claim_many(self, message_ids: list, lease_s: float = 60) -> list[dict]:
        """Batch ``claim``: queued -> sending for those of ``message_ids`` still queued, in two round-trips.

        One ``update_many`` stamps a fresh claim token on the documents it moves (only one claimer can move a
        document out of 'queued', so still at most once), then one ``find`` by that token returns exactly the
        documents this call claimed, in the order of ``message_ids``."""
        if not message_ids:
            return []
        now = utcnow()
        token = ObjectId()
        res = await self.durable.update_many(  # journaled, as in ``claim``
            {"_id": {"$in": list(message_ids)}, "status": "queued"},
            {"$set": {"status": "sending", "claimed_at": now, "claim_id": token, "claimed_by": PROCESS_ID,
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
                  settled_s: float = 0.0, leave_to: list | tuple = (), leave_s: float = 60.0) -> list[dict]:
        """Queued messages due for ``settled_s`` seconds at least (the sweep leaves fresh ones to the process
        that queued them, which sends one chat's messages in order). Messages queued by a live process in
        ``leave_to`` wait ``leave_s``: that process holds them in memory until it has a rate slot."""
        now = utcnow()
        q: dict = {"status": "queued", "channel": channel,
                   "next_attempt_at": {"$lte": now - timedelta(seconds=settled_s)}}
        if leave_to:
            q["$or"] = [{"queued_by": {"$nin": list(leave_to)}},
                        {"next_attempt_at": {"$lte": now - timedelta(seconds=leave_s)}}]
        if max_priority is not None:
            q["priority"] = {"$lte": max_priority}
        cur = self.col.find(q).sort([("priority", ASCENDING), ("next_attempt_at", ASCENDING)]).limit(limit)
        return await cur.to_list(limit)

    async def mark_sent(self, message_id, provider_id: str | None) -> None:
        """Group-committed with other marks; until it is written the message stays 'sending' (a crash then
        ends it as 'interrupted', never sent twice)."""
        await self._updates.submit(("mark", UpdateOne({"_id": message_id}, {"$set": {
            "status": "sent", "provider_id": provider_id, "sent_at": utcnow()}})))

    async def requeue(self, message_id, delay_s: float, error: str) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {
            "status": "queued", "last_error": error, "queued_by": PROCESS_ID,
            "next_attempt_at": utcnow() + timedelta(seconds=delay_s)}})

    async def mark_failed(self, message_id, reason: str, error: str | None = None) -> None:
        await self.col.update_one({"_id": message_id}, {"$set": {
            "status": "failed", "failure_reason": reason, "last_error": error, "failed_at": utcnow()}})

    async def unclaim(self, message_ids: list) -> int:
        """Graceful stop: claimed messages that never reached the provider call go back to 'queued' (the claim's
        attempt is given back), so the next process sends them instead of counting them as interrupted."""
        if not message_ids:
            return 0
        res = await self.col.update_many({"_id": {"$in": list(message_ids)}, "status": "sending"},
                                         {"$set": {"status": "queued"}, "$inc": {"attempts": -1},
                                          "$unset": {"lease_until": "", "claimed_at": ""}})
        return res.modified_count

    async def expire_leases(self, dead: list | tuple = ()) -> int:
        """A message left in 'sending' by a crashed process may or may not have gone out: never resend it.
        Its lease ran out, or its claimer is known dead (``dead``: ``rate_shares.dead_owners``)."""
        gone: dict = {"lease_until": {"$lt": utcnow()}}
        if dead:
            gone = {"$or": [gone, {"claimed_by": {"$in": list(dead)}}]}
        res = await self.col.update_many(
            {"status": "sending", **gone},
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

    async def mark_provider_status(self, provider_id: str, status: str) -> bool:
        """A delivery receipt without an error (sent, delivered, read), group-committed: the same never-backwards
        rule as ``update_provider_status``. True when the message is known (moved, or already further along);
        False when no message has this provider id yet (the receipt beat our own bookkeeping)."""
        return await self._receipts.submit((provider_id, status))

    async def _receipt_batch(self, items: list[tuple]) -> list:
        """One ``update_many`` per status; the ids are read back (one ``find``) only when some did not move."""
        known: set = set()
        unsure: list = []
        for status in {st for _p, st in items}:
            pids = list({p for p, st in items if st == status})
            lower = [s for s, r in self._RANK.items() if r < self._RANK.get(status, 0)]
            res = await self.col.update_many({"provider_id": {"$in": pids}, "status": {"$in": lower}},
                                             {"$set": {"status": status, f"{status}_at": utcnow()}})
            if res.modified_count == len(pids):
                known.update(pids)
            else:
                unsure += pids
        if unsure:
            known.update(d["provider_id"] for d in await self.col.find(
                {"provider_id": {"$in": unsure}}, {"provider_id": 1}).to_list(None))
        return [p in known for p, _st in items]

    async def get(self, message_id) -> dict | None:
        return await self.col.find_one({"_id": message_id})

    async def outbound_since(self, contact_ids: list, since) -> list[dict]:
        """Outbound messages to these contacts created since ``since``, oldest first (what a web chat socket's
        process pushes when another process sent it: ``channels/webchat_push.py``)."""
        return await self.col.find(
            {"contact_id": {"$in": contact_ids}, "direction": "out", "created_at": {"$gte": since}},
            {"contact_id": 1, "provider_id": 1, "sent_at": 1, "text": 1, "choices": 1, "request_location": 1,
             "kind": 1}).sort([("created_at", 1), ("_id", 1)]).to_list(None)

    async def has_provider_id(self, provider_id: str) -> bool:
        return await self.col.find_one({"provider_id": provider_id}, {"_id": 1}) is not None

    async def statuses(self, message_ids: list) -> dict:
        """{_id: {status, failure_reason, attempts}} of the given outbound messages."""
        if not message_ids:
            return {}
        docs = await self.col.find({"_id": {"$in": list(message_ids)}},
                                   {"status": 1, "failure_reason": 1, "attempts": 1, "claimed_at": 1}).to_list(None)
        return {d["_id"]: d for d in docs}

    # ---------------------------------------------------------------- campaign traffic (outreach)
    async def still_pending(self, message_ids) -> list[dict]:
        """Those of ``message_ids`` still queued or being sent (``_id``, ``status``, ``claimed_at``)."""
        ids = list(message_ids)
        if not ids:
            return []
        return await self.col.find({"_id": {"$in": ids}, "status": {"$in": ["queued", "sending"]}},
                                   {"_id": 1, "status": 1, "claimed_at": 1}).to_list(None)

    async def campaign_ids(self, run_id: str, channel: str, status: str) -> list:
        """Ids of one campaign run's messages on a channel in a status."""
        docs = await self.col.find({"campaign": run_id, "channel": channel, "status": status},
                                   {"_id": 1}).to_list(None)
        return [d["_id"] for d in docs]

    async def count_by_status(self, campaign) -> dict:
        """{status: n} of outbound messages whose ``campaign`` matches (a run id, or a query such as a regex)."""
        out: dict = {}
        async for row in await self.col.aggregate([{"$match": {"campaign": campaign}},
                                                   {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            out[row["_id"]] = row["n"]
        return out

    async def count_by_status_reason(self, campaign) -> dict:
        """{(status, failure_reason): n} of outbound messages whose ``campaign`` matches."""
        out: dict = {}
        async for row in await self.col.aggregate([
                {"$match": {"campaign": campaign, "direction": "out"}},
                {"$group": {"_id": {"s": "$status", "r": "$failure_reason"}, "n": {"$sum": 1}}}]):
            out[(row["_id"]["s"], row["_id"].get("r"))] = row["n"]
        return out

    async def first_sent(self, campaign) -> dict:
        """{contact_id: first sent_at} of the sent campaign messages whose ``campaign`` matches."""
        first: dict = {}
        async for doc in self.col.find({"campaign": campaign, "direction": "out",
                                        "status": {"$in": ["sent", "delivered", "read"]}},
                                       {"contact_id": 1, "sent_at": 1}):
            at = doc.get("sent_at")
            if at and (doc["contact_id"] not in first or at < first[doc["contact_id"]]):
                first[doc["contact_id"]] = at
        return first

    def inbound_since(self, contact_ids, since):
        """(contact_id, created_at) of messages these contacts wrote since ``since``, as an async cursor."""
        return self.col.find({"direction": "in", "contact_id": {"$in": list(contact_ids)},
                              "created_at": {"$gte": since}}, {"contact_id": 1, "created_at": 1})

    async def cancel_queued_campaign(self, contact_id, reason: str = "opted_out") -> int:
        """Queued campaign messages to this contact are never sent."""
        res = await self.col.update_many(
            {"contact_id": contact_id, "status": "queued", "campaign": {"$type": "string"}},
            {"$set": {"status": "failed", "failure_reason": reason, "failed_at": utcnow()}})
        return res.modified_count

    async def history(self, contact_id, limit: int = 50) -> list[dict]:
        cur = self.col.find({"contact_id": contact_id}).sort("created_at", DESCENDING).limit(limit)
        return list(reversed(await cur.to_list(limit)))

    async def count_of_contact(self, contact_id, direction: str) -> int:
        """How many messages of this direction ("in"/"out") a contact has."""
        return await self.col.count_documents({"contact_id": contact_id, "direction": direction})

    def inbound_media_of_contact(self, contact_id):
        """A contact's inbound messages that carry media (only ``media``), as an async cursor."""
        return self.col.find({"contact_id": contact_id, "direction": "in", "media": {"$ne": None}}, {"media": 1})

    async def delete_of_contact(self, contact_id) -> int:
        """Delete every message to or from a contact; returns how many."""
        return (await self.col.delete_many({"contact_id": contact_id})).deleted_count

    async def delete_of_identity(self, channel: str, user_id: str) -> int:
        """Delete every message stored under a channel identity; returns how many."""
        return (await self.col.delete_many({"channel": channel, "user_id": user_id})).deleted_count

    async def delete_inbound_of_contact(self, contact_id) -> None:
        """Delete the messages received from a contact."""
        await self.col.delete_many({"contact_id": contact_id, "direction": "in"})

    async def count_unsent_of_contact(self, contact_id) -> int:
        """How many of a contact's messages are still queued or being sent."""
        return await self.col.count_documents({"contact_id": contact_id, "status": {"$in": ["queued", "sending"]}})

    async def delete_settled_of_contact(self, contact_id) -> None:
        """Delete a contact's messages except those still queued or being sent."""
        await self.col.delete_many({"contact_id": contact_id, "status": {"$nin": ["queued", "sending"]}})

    async def reply_since(self, contact_id, since) -> dict | None:
        """An outbound message to a contact created at or after ``since`` (only its id), or None."""
        return await self.col.find_one(
            {"contact_id": contact_id, "direction": "out", "created_at": {"$gte": since}}, {"_id": 1})

    async def any_of_contact_since(self, contact_id, since) -> bool:
        """Whether a contact has any message created at or after ``since``."""
        return await self.col.find_one({"contact_id": contact_id, "created_at": {"$gte": since}},
                                       {"_id": 1}) is not None
    async def delete_inbound_before(self, contact_ids: list, cutoff) -> int:
        """Delete messages received from these contacts before ``cutoff``; returns how many."""
        res = await self.col.delete_many({"contact_id": {"$in": contact_ids}, "direction": "in",
                                          "created_at": {"$lt": cutoff}})
        return res.deleted_count

    async def sent_span(self, campaign) -> dict | None:
        """For a campaign run's sent messages: how many (``n``) and the ``first`` and ``last`` send time."""
        cur = await self.col.aggregate([
            {"$match": {"campaign": campaign, "sent_at": {"$ne": None}}},
            {"$group": {"_id": None, "n": {"$sum": 1}, "first": {"$min": "$sent_at"}, "last": {"$max": "$sent_at"}}}])
        rows = await cur.to_list(1)
        return rows[0] if rows else None

    async def fail_queued_of_campaign(self, campaign, reason: str, at) -> int:
        """Mark a campaign run's queued messages failed (with this reason); returns how many."""
        res = await self.col.update_many(
            {"campaign": campaign, "status": "queued"},
            {"$set": {"status": "failed", "failure_reason": reason, "failed_at": at}})
        return res.modified_count

    async def count_sent_since(self, channel: str, user_id: str, template: str, since) -> int:
        """How many messages with this template went to this person since ``since`` (daily allowances)."""
        return await self.col.count_documents({"channel": channel, "user_id": user_id, "template": template,
                                               "created_at": {"$gte": since}})

