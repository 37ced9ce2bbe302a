"""Webhook inboxes: a verified webhook body is stored before the provider hears 200, then processed.

Providers (Meta, Telegram) do not resend a webhook they got a 2xx for, so nothing is acknowledged before it
is in the database. One document per webhook body in ``<channel>_inbox``:

    pending ──process──▶ done            (payload removed; per-message rejections kept as ``rejected``)
       │  ▲
       │  └─ retry: a message could not be processed yet (database away, another turn holds it)
       └──▶ failed                        (after ``MAX_ATTEMPTS`` tries; the body stays for review)

A body that is signed but cannot be parsed is stored as ``rejected`` (reason and size, no body) and answered
200, since a resend would be refused again. ``next_try_at`` is the lease: the receiving process owns a fresh
entry for twice ``LAPOR_INBOX_RECOVERY_S`` (60 s by default; a claimed one for four times); after that (the
process died, or the database was away) the recovery loop of any process, which looks every
``LAPOR_INBOX_RECOVERY_S``, claims it again. Every entry names its ``owner`` (the process id); an entry whose
owner is known dead (its heartbeat expired: a killed process, ``bot/storage/rate_shares.py``) is taken over
without waiting for the lease, by a check every ``ORPHAN_CHECK_S`` (one small read of the heartbeats; the inbox
is queried only while a dead process is known), so a kill -9 delays its messages by seconds, not minutes.
Processing is idempotent per message (the engine stores each inbound message once and never answers it twice),
so a second run of the same body is harmless.

Stores (``insert_many``) and ``done`` marks (``bulk_write``) of bodies arriving together are group-committed
(``bot/storage/coalesce.py``): one command for the batch, each webhook still answered only after its own body
is written.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bson import ObjectId
from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from bot.engine import TurnFailed
from bot.messages import utcnow
from bot.storage.coalesce import Coalescer, bulk, per_item_errors
from bot.storage.leases import PROCESS_ID
from bot.storage.rate_shares import dead_owners

log = logging.getLogger(__name__)

TTL_S = 3 * 86400  # providers stop retrying after a few days; bodies live on in ``messages``
RECOVERY_S = 30.0  # default of LAPOR_INBOX_RECOVERY_S: how often the recovery loop looks
MAX_ATTEMPTS = 5
ORPHAN_CHECK_S = 3.0  # how often the recovery loop looks for entries of a killed process
DRAIN_S = 15.0  # a stopping process finishes the turns it acknowledged for this long (then others take over)

# outcome of one message of a body: done; retry (the database was away: counts as an attempt); wait (another
# live turn holds the message: look again later, not an attempt); rejected (cannot be used: recorded)
DONE, RETRY, WAIT, REJECTED = "done", "retry", "wait", "rejected"


class Inbox:
    def __init__(self, db, name: str, recovery_s: float = RECOVERY_S):
        self.col = db[name]
        self.name = name
        self.every_s, self.grace_s, self.lease_s = recovery_s, 2 * recovery_s, 4 * recovery_s
        self._inserts = Coalescer(self._insert_batch, name=f"{name} inserts")
        self._done = Coalescer(lambda ops: bulk(self.col, ops), name=f"{name} done marks", keep_cancelled=True)

    async def close(self) -> None:
        """Write the group-committed stores and marks still waiting."""
        await self._inserts.stop()
        await self._done.stop()

    async def _insert_batch(self, docs: list[dict]) -> list:
        try:
            await self.col.insert_many(docs, ordered=False)
            return [None] * len(docs)
        except BulkWriteError as exc:  # per body: a provider update id stored already is that caller's own
            if exc.details.get("writeConcernErrors"):
                raise
            return per_item_errors(len(docs), exc)

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("status", 1), ("next_try_at", 1)])
        await self.col.create_index("received_at", expireAfterSeconds=TTL_S, name="inbox_ttl")

    async def store(self, payload: dict, key=None) -> dict | None:
        """Insert a verified body; None when ``key`` (a provider's own update id) was stored already."""
        now = utcnow()
        doc = {"_id": ObjectId() if key is None else key, "payload": payload, "status": "pending",
               "received_at": now, "next_try_at": now + timedelta(seconds=self.grace_s), "attempts": 0,
               "owner": PROCESS_ID}
        try:
            await self._inserts.submit(doc)
        except DuplicateKeyError:
            return None
        return doc

    async def reject(self, reason: str, size: int) -> None:
        """A signed body we cannot use: recorded (no body), answered 200 so the provider stops resending."""
        await self.col.insert_one({"_id": ObjectId(), "status": "rejected", "reason": reason[:200], "size": size,
                                   "received_at": utcnow()})
        log.warning("%s: signed body rejected (%s, %d bytes)", self.name, reason[:80], size)

    async def finish(self, doc: dict, outcomes: list[tuple[str, str | None]]) -> str:
        """Record the outcome of one processing run; returns the entry's new status."""
        rejected = [why for what, why in outcomes if what == REJECTED]
        if any(what == WAIT for what, _ in outcomes) and not any(what == RETRY for what, _ in outcomes):
            await self.col.update_one({"_id": doc["_id"]}, {"$set": {
                "status": "pending", "next_try_at": utcnow() + timedelta(seconds=self.grace_s)}})
            return "pending"
        if any(what == RETRY for what, _ in outcomes):
            attempts = doc.get("attempts", 0) + 1
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            delay = min(self.grace_s * 2 ** (attempts - 1), 3600)
            await self.col.update_one({"_id": doc["_id"]}, {"$set": {
                "status": status, "attempts": attempts, "next_try_at": utcnow() + timedelta(seconds=delay)}})
            if status == "failed":
                log.error("%s entry %s failed after %d attempts; kept for review", self.name, doc["_id"], attempts)
            return status
        update: dict = {"$set": {"status": "done", "done_at": utcnow()}, "$unset": {"payload": ""}}
        if rejected:
            update["$set"]["rejected"] = rejected[:50]
        await self._done.submit(UpdateOne({"_id": doc["_id"]}, update))
        return "done"

    async def claim_due(self) -> dict | None:
        """One entry whose owner's lease is over (pending or processing), now leased to this process."""
        now = utcnow()
        return await self.col.find_one_and_update(
            {"status": {"$in": ["pending", "processing"]},
             "$or": [{"next_try_at": {"$lt": now}}, {"next_try_at": {"$exists": False}}]},  # older entries
            {"$set": {"status": "processing", "next_try_at": now + timedelta(seconds=self.lease_s),
                      "owner": PROCESS_ID}},
            return_document=ReturnDocument.AFTER)

    async def claim_orphans(self, limit: int = 50) -> list[dict]:
        """Unfinished entries whose owner is known dead, now leased to this process (one taker each)."""
        dead = await dead_owners(self.col.database)
        if not dead:
            return []
        found = await self.col.find({"status": {"$in": ["pending", "processing"]}, "owner": {"$in": dead}}
                                    ).limit(limit).to_list(limit)
        claimed = []
        for doc in found:
            now = utcnow()
            res = await self.col.update_one(
                {"_id": doc["_id"], "owner": doc["owner"], "status": {"$in": ["pending", "processing"]}},
                {"$set": {"status": "processing", "owner": PROCESS_ID,
                          "next_try_at": now + timedelta(seconds=self.lease_s)}})
            if res.modified_count == 1:
                claimed.append(doc)
        if claimed:
            log.warning("%s: %d entries of a dead process taken over", self.name, len(claimed))
        return claimed

    async def recover_orphans(self, process) -> int:
        """Run ``process(doc)`` on every entry a killed process left behind (its heartbeat expired)."""
        n = 0
        while docs := await self.claim_orphans():
            n += len(docs)
            await asyncio.gather(*(process(doc) for doc in docs))
        return n

    async def recover_once(self, process) -> int:
        """Run ``process(doc)`` on every entry a crashed or overloaded process left behind."""
        n = 0
        while (doc := await self.claim_due()) is not None:
            n += 1
            await process(doc)
        return n

    async def recover_forever(self, process) -> None:
        """Entries of killed processes every ``ORPHAN_CHECK_S``; every due entry every ``every_s``."""
        tick = min(self.every_s, ORPHAN_CHECK_S)
        waited = 0.0
        while True:
            await asyncio.sleep(tick)
            waited += tick
            try:
                await self.recover_orphans(process)
                if waited >= self.every_s:
                    waited = 0.0
                    await self.recover_once(process)
            except PyMongoError as exc:
                log.warning("%s recovery: database unavailable (%s)", self.name, type(exc).__name__)
            except Exception:
                log.exception("%s recovery failed", self.name)


async def finish_tasks(tasks: set, timeout_s: float = DRAIN_S) -> int:
    """Graceful stop: wait (bounded) for the webhook tasks in flight; those still running are cancelled (their
    entries stay in the inbox, and other processes take them over once this one's heartbeat has ended).
    Returns how many were cancelled."""
    if tasks:
        log.info("stop: finishing %d acknowledged webhooks", len(tasks))
        await asyncio.wait(list(tasks), timeout=timeout_s)
    left = [t for t in tasks if not t.done()]
    for t in left:
        t.cancel()
    if left:
        await asyncio.gather(*left, return_exceptions=True)
        log.warning("stop: %d acknowledged webhooks not finished in %.0f s; left to the other processes",
                    len(left), timeout_s)
    return len(left)


async def run_turn(runtime, inbound, on_failure=None, accepted=None) -> str:
    """Hand one parsed inbound message to the engine: DONE, RETRY (the database is away) or WAIT (another
    live turn holds it). ``on_failure`` (async, no arguments) answers the person
    when the turn failed (first try only); ``accepted``: the message is stored already (``Engine.accept``)."""
    try:
        replies = await runtime.engine.handle(inbound, accepted=accepted)
    except TurnFailed as exc:
        if on_failure is not None:
            try:
                await on_failure()
            except Exception as err:  # the provider may be unreachable too
                log.warning("failure notice not sent (%s)", type(err).__name__)
        # the database is away: try again later; otherwise a bug, and the engine kept the inbound (failed)
        return RETRY if isinstance(exc.__cause__, PyMongoError) else DONE
    if not replies:
        try:
            if await runtime.stores.messages.inbound_unfinished(inbound.identity.channel,
                                                                inbound.channel_message_id):
                return WAIT
        except PyMongoError:
            return RETRY
    return DONE
