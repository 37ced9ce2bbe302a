"""Campaign dispatch: deliveries -> outbox messages -> the channel senders, at most once per contact.

1. ``create_deliveries``: one document per (run, contact) in ``campaign_deliveries`` (unique index), written
   with insert_many; each carries a pre-allocated ``message_id``.
2. ``Dispatcher.feed``: per channel, turns pending deliveries into queued outbox messages whose ``_id`` is
   the delivery's ``message_id`` (a crash between the two steps re-inserts the same id: a duplicate key,
   never a second message), at the campaign's rate cap and with a bounded window so citizen replies
   (priority 0) never wait behind thousands of queued campaign messages (priority 9).
3. The shared outbox claims messages before the provider call (queued -> sending, never twice; campaign
   messages just in time in small batches, results written in batches), keeps the channel account's rate
   limiter (replies first) and per-chat gap, retries transient errors and records blocked users.
   A message left in 'sending' by a killed process is marked 'interrupted' and never resent.
4. ``CampaignGuard`` wraps each channel sender: at send time a campaign message to a contact who opted out
   (or became unreachable) is dropped, and a WhatsApp message outside the 24-hour window is switched to the
   campaign's approved template (or dropped when there is none).
Only the holder of the MongoDB lease ``dispatch:<channel>`` (the outbox's own lease) pushes messages to its
sender; other processes only create messages, which the holder's sweeper picks up.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import BulkWriteError

from bot.messages import Identity, OutboundMessage, utcnow
from bot.outbox import SendResult
from outreach.campaigns import CHANNELS, Campaign, CampaignStore, audience_query
from outreach.codes import CampaignCodes
from outreach.render import render_wa_template, try_render

log = logging.getLogger(__name__)

PRIORITY = 9
CAMPAIGN_SHARE = 1.0  # the outbox's window limiter keeps the account under its cap and serves replies first
WA_WINDOW = timedelta(hours=24)
WA_MARGIN = timedelta(minutes=10)  # closer than this to the window's end counts as outside


def is_subscribed(contact: dict | None) -> bool:
    return bool(contact) and (contact.get("subscription") or {}).get("status") == "subscribed" \
        and contact.get("reachable", True) is not False


def _aware(dt):
    if dt is not None and dt.tzinfo is None:
        from datetime import timezone

        return dt.replace(tzinfo=timezone.utc)
    return dt


def inside_wa_window(contact: dict, now=None) -> bool:
    """The person wrote to us within 24 h (less a margin). The engine keeps the time on the conversation;
    ``_last_inbound`` is that value merged in by the caller, ``last_inbound_at`` the contact's own field."""
    times = [_aware(t) for t in (contact.get("_last_inbound"), contact.get("last_inbound_at")) if t is not None]
    if not times:
        return False
    return (now or utcnow()) - max(times) < WA_WINDOW - WA_MARGIN


async def with_last_inbound(db, contacts: list[dict]) -> None:
    """Merge each contact's conversation ``last_inbound_at`` into ``_last_inbound`` (one query)."""
    ids = [c["_id"] for c in contacts if c]
    if not ids:
        return
    convs = {d["_id"]: d.get("last_inbound_at") for d in await db["conversations"].find(
        {"_id": {"$in": ids}}, {"last_inbound_at": 1}).to_list(None)}
    for c in contacts:
        if c:
            c["_last_inbound"] = convs.get(c["_id"])


class DeliveryStore:
    def __init__(self, db):
        self.col = db["campaign_deliveries"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("run", ASCENDING), ("contact_id", ASCENDING)], unique=True, name="once")
        await self.col.create_index([("run", ASCENDING), ("channel", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index([("campaign", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index("message_id")


class Outreach:
    """Outreach's collections, built on the runtime's database."""

    def __init__(self, db):
        self.db = db
        self.campaigns = CampaignStore(db)
        self.codes = CampaignCodes(db)
        self.deliveries = DeliveryStore(db)
        self._indexed = False

    async def ensure_indexes(self) -> None:
        if self._indexed:
            return
        await self.codes.ensure_indexes()
        await self.deliveries.ensure_indexes()
        await self.db["messages"].create_index(
            [("campaign", ASCENDING), ("status", ASCENDING)], name="outreach_campaign",
            partialFilterExpression={"campaign": {"$type": "string"}})
        await self.db["contacts"].create_index([("subscription.campaign", ASCENDING)], name="outreach_attrib")
        self._indexed = True


class CampaignGuard:
    """Wraps a channel Sender: last check before a campaign message reaches the provider."""

    def __init__(self, inner, stores):
        self.inner, self.stores = inner, stores
        self.channel = inner.channel
        self.rate_per_s = inner.rate_per_s
        self.per_chat_gap_s = inner.per_chat_gap_s
        self.dropped = {"opted_out": 0, "outside_24h_window": 0}
        self._contacts: dict = {}  # message _id -> contact, prefetched for a claimed batch

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def prepare(self, docs: list[dict]) -> None:
        """The outbox claimed a batch: read its contacts (and WhatsApp windows) in one query each, instead of
        two per message at send time. The batch is sent within about a second."""
        want = [d for d in docs if d.get("campaign") and d.get("contact_id") is not None]
        if not want:
            return
        found = {c["_id"]: c for c in await self.stores.contacts.col.find(
            {"_id": {"$in": list({d["contact_id"] for d in want})}}).to_list(None)}
        if found and self.channel == "whatsapp":
            await with_last_inbound(self.stores.db, list(found.values()))
        if len(self._contacts) > 10_000:  # messages claimed but never sent (cancelled): forget them
            self._contacts.clear()
        for d in want:
            self._contacts[d["_id"]] = found.get(d["contact_id"])

    async def send(self, doc: dict) -> SendResult:
        if doc.get("campaign") and doc.get("contact_id") is not None:
            if doc["_id"] in self._contacts:
                contact = self._contacts.pop(doc["_id"])
            else:
                contact = await self.stores.contacts.get(doc["contact_id"])
                if contact is not None and self.channel == "whatsapp":
                    await with_last_inbound(self.stores.db, [contact])
            if not is_subscribed(contact) and not doc.get("staff_test"):
                self.dropped["opted_out"] += 1
                return SendResult("failed", error="opted_out")
            if self.channel == "whatsapp":
                doc = with_whatsapp_mode(doc, contact)
                if doc is None:
                    self.dropped["outside_24h_window"] += 1
                    return SendResult("failed", error="outside_24h_window")
        return await self.inner.send(doc)


def with_whatsapp_mode(doc: dict, contact: dict | None) -> dict | None:
    """Inside the window: free text. Outside: the campaign's approved template — ``kind`` 'template_fallback'
    (what channels/whatsapp.py sends as a template whatever the window), ``template`` its name,
    ``template_params`` its rendered parameters, ``template_language``, ``use_template`` True."""
    if contact and inside_wa_window(contact):
        return {**doc, "use_template": False}
    wa = doc.get("wa_template")
    if not wa:
        return None
    return {**doc, "use_template": True, "kind": "template_fallback", "template": wa["name"],
            "template_params": wa["params"], "template_language": wa["language"]}


def install(runtime) -> Outreach:
    """Idempotent: outreach services on the engine, send-time guards on the outbox senders."""
    out = getattr(runtime, "outreach", None)
    if out is None:
        out = Outreach(runtime.stores.db)
        runtime.outreach = out
        from outreach.campaigns import campaign_dirs  # the operator's campaign files (issue 18)

        out.campaigns.dirs = campaign_dirs(getattr(getattr(runtime, "settings", None), "lapor_data_dir", None))
    if runtime.engine is not None:
        runtime.engine.services.setdefault("campaign_codes", out.codes)
        runtime.engine.services.setdefault("outreach", out)
    if runtime.outbox is not None:
        for w in runtime.outbox.workers.values():
            if not isinstance(w.sender, CampaignGuard):
                w.sender = CampaignGuard(w.sender, runtime.stores)
    return out


def guard_outbox(outbox, stores) -> None:
    """For senders registered after ``install``."""
    for w in outbox.workers.values():
        if not isinstance(w.sender, CampaignGuard):
            w.sender = CampaignGuard(w.sender, stores)


async def _insert_ignoring_duplicates(col, docs: list[dict]) -> int:
    if not docs:
        return 0
    try:
        res = await col.insert_many(docs, ordered=False)
        return len(res.inserted_ids)
    except BulkWriteError as exc:
        other = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
        if other:
            raise
        return exc.details.get("nInserted", 0)


async def create_deliveries(runtime, campaign: Campaign, run_id: str, batch: int = 1000) -> dict:
    """One delivery per (run, contact) in the audience. Safe to repeat: existing ones are kept."""
    out = install(runtime)
    await out.ensure_indexes()
    col = out.deliveries.col
    existing = {d["contact_id"] for d in await col.find({"run": run_id}, {"contact_id": 1}).to_list(None)}
    created = 0
    now = utcnow()
    cur = runtime.stores.contacts.col.find(audience_query(campaign), {"_id": 1, "channel": 1, "language": 1})
    buf: list[dict] = []
    async for c in cur:
        if c["_id"] in existing:
            continue
        buf.append({"_id": ObjectId(), "run": run_id, "campaign": campaign.name, "contact_id": c["_id"],
                    "channel": c["channel"], "language": c.get("language") or "id", "status": "pending",
                    "message_id": ObjectId(), "created_at": now})
        if len(buf) >= batch:
            created += await _insert_ignoring_duplicates(col, buf)
            buf = []
    created += await _insert_ignoring_duplicates(col, buf)
    total = await col.count_documents({"run": run_id})
    await out.campaigns.mark_run(run_id, audience=total, created_at=now)
    return {"created": created, "total": total}


class Dispatcher:
    """Feeds one campaign run into the outbox, channel by channel, until nothing is left to send.

    The database is slow (a scan of the messages collection takes most of a second), so the hot loop keeps
    its bookkeeping in memory: the pending deliveries are read once per channel, messages in flight are
    tracked through the outbox's ``after_send`` hook and reconciled by ``_id`` every few seconds (messages
    cancelled by an opt-out or sent by another process), and progress counts come from the same hook with a
    full database refresh every ``db_refresh_s``.
    """

    def __init__(self, runtime, campaign: Campaign, run_id: str | None = None, *, poll_s: float = 0.2,
                 reconcile_s: float = 3.0, db_refresh_s: float = 15.0):
        self.rt, self.c = runtime, campaign
        self.run_id = run_id or campaign.name
        self.poll_s, self.reconcile_s, self.db_refresh_s = poll_s, reconcile_s, db_refresh_s
        self.out = install(runtime)
        self.started = utcnow()
        self.holding: dict[str, bool] = {}
        self.inflight: dict[str, set] = {}
        self.local = {"sent": 0, "failed": 0, "skipped": 0}
        self._base: dict | None = None
        self._base_at = 0.0

    def channels(self) -> list[str]:
        wanted = self.c.audience.channel or list(CHANNELS)
        return [ch for ch in wanted if self.rt.outbox.has_sender(ch)]

    async def _after_send(self, doc: dict, result) -> None:
        if doc.get("campaign") != self.run_id:
            return
        from bot.outbox import MAX_ATTEMPTS

        if result.status == "retry" and doc.get("attempts", 1) < MAX_ATTEMPTS:
            return
        self.inflight.get(doc.get("channel"), set()).discard(doc["_id"])
        self.local["sent" if result.status == "sent" else "failed"] += 1

    async def run(self, progress=None, progress_every_s: float = 1.0) -> dict:
        await create_deliveries(self.rt, self.c, self.run_id)
        guard_outbox(self.rt.outbox, self.rt.stores)
        await self.out.campaigns.mark_run(self.run_id, status="running", started_at=self.started)
        self.rt.outbox.after_send.append(self._after_send)
        await self._refresh()
        feeders = [asyncio.create_task(self.feed(ch)) for ch in self.channels()]
        try:
            while not all(f.done() for f in feeders):
                await asyncio.wait(feeders, timeout=progress_every_s)
                if progress:
                    progress(await self.progress())
            for f in feeders:
                f.result()
        finally:
            for f in feeders:
                f.cancel()
            self.rt.outbox.after_send.remove(self._after_send)
        await self._refresh()
        final = await self.progress()
        if progress:
            progress(final, final=True)
        left = await self.out.deliveries.col.count_documents({"run": self.run_id, "status": "pending"})
        await self.out.campaigns.mark_run(self.run_id, status="done" if left == 0 else "partial",
                                          finished_at=utcnow())
        return final

    async def feed(self, channel: str) -> None:
        outbox = self.rt.outbox
        worker = outbox.workers[channel]
        rate = worker.sender.rate_per_s
        # campaigns may use the account's whole rate: the outbox's window limiter never lets more than the cap
        # through in any second and gives citizen replies (priority 0) the next slot
        cap = min(rate * CAMPAIGN_SHARE, self.c.rate_caps.get(channel, rate))
        window = max(10, int(cap * 2))  # campaign messages queued at once: replies never wait long
        burst = max(1.0, cap * max(self.poll_s, 0.1))  # credit for one poll interval: no bursts above the cap
        credit, last = burst, time.monotonic()
        msgs = self.rt.stores.messages.col
        pending = await self.out.deliveries.col.find(
            {"run": self.run_id, "channel": channel, "status": "pending"}).to_list(None)
        pending.reverse()  # pop() from the end keeps creation order
        # messages a previous (crashed) run left queued: the sweeper sends them; wait for them too
        inflight = self.inflight.setdefault(channel, set())
        inflight.update(d["_id"] for d in await msgs.find(
            {"campaign": self.run_id, "channel": channel, "status": "queued"}, {"_id": 1}).to_list(None))
        lease_ttl = max(10, 5 * outbox.sweep_interval_s)
        next_lease = next_reconcile = 0.0
        holder = False
        while True:
            now = time.monotonic()
            if now >= next_lease:
                holder = await self.rt.stores.leases.acquire(f"dispatch:{channel}", ttl_s=lease_ttl)
                self.holding[channel] = holder
                next_lease = now + lease_ttl / 3
            if inflight and (now >= next_reconcile or not pending):
                live = await msgs.find({"_id": {"$in": list(inflight)}, "status": {"$in": ["queued", "sending"]}},
                                       {"_id": 1, "status": 1, "claimed_at": 1}).to_list(None)
                inflight.intersection_update(
                    d["_id"] for d in live if d["status"] == "queued" or _aware(d.get("claimed_at")) >= self.started)
                next_reconcile = now + self.reconcile_s
            if not pending and not inflight:
                return
            # unused credit is capped at one poll interval (no bursts above the cap), but credit earned during
            # this iteration is kept whole: a slow iteration (database round-trips) must not slow the campaign
            credit = min(burst, credit) + (now - last) * cap
            last = now
            room = min(window - len(inflight), int(credit), len(pending))
            if room > 0:
                batch = [pending.pop() for _ in range(room)]
                docs = await self.materialize(batch)
                credit -= len(batch)
                inflight.update(d["_id"] for d in docs)
                if holder:
                    for d in docs:
                        worker.push(PRIORITY, d["_id"], d["user_id"])
            await asyncio.sleep(self.poll_s)

    async def materialize(self, batch: list[dict]) -> list[dict]:
        """Pending deliveries -> queued messages (or skipped with a reason). Idempotent per delivery."""
        if not batch:
            return []
        stores = self.rt.stores
        contacts = {c["_id"]: c for c in await stores.contacts.col.find(
            {"_id": {"$in": [d["contact_id"] for d in batch]}}).to_list(None)}
        if any(d["channel"] == "whatsapp" for d in batch):
            await with_last_inbound(stores.db, list(contacts.values()))
        docs, queued, skipped = [], [], {}
        for d in batch:
            c = contacts.get(d["contact_id"])
            reason = None
            if not is_subscribed(c):
                reason = "opted_out"
            else:
                text, errors, lang, variant = try_render(self.c, c, d["channel"])
                wa = None
                if not errors and d["channel"] == "whatsapp":
                    try:
                        wa = render_wa_template(self.c, c)
                    except Exception as exc:
                        errors = [f"whatsapp template: {exc}"]
                    if wa is None and not inside_wa_window(c):
                        reason = "outside_24h_window"
                if errors:
                    reason = "template_error"
            if reason:
                skipped.setdefault(reason, []).append(d["_id"])
                continue
            msg = OutboundMessage(identity=Identity(c["channel"], c["user_id"]), text=text, kind="campaign",
                                  template=f"outreach/{self.c.name}", contact_id=c["_id"],
                                  message_id=d["message_id"], priority=PRIORITY, campaign=self.run_id,
                                  template_params=(wa or {}).get("params") or [])
            doc = stores.messages.outbound_doc(msg)
            doc.update(campaign_name=self.c.name, delivery_id=d["_id"], language=lang, variant=variant,
                       wa_template=wa)
            docs.append(doc)
            queued.append(d["_id"])
        await _insert_ignoring_duplicates(stores.messages.col, docs)
        dcol = self.out.deliveries.col
        if queued:
            await dcol.update_many({"_id": {"$in": queued}, "status": "pending"},
                                   {"$set": {"status": "queued", "queued_at": utcnow()}})
        self.local["skipped"] += sum(len(ids) for ids in skipped.values())
        for reason, ids in skipped.items():
            await dcol.update_many({"_id": {"$in": ids}, "status": "pending"},
                                   {"$set": {"status": "skipped", "reason": reason, "skipped_at": utcnow()}})
        return docs

    async def _refresh(self) -> None:
        """Counts from the database (all processes, delivery receipts); local counters restart from here."""
        counts: dict = {}
        async for row in await self.rt.stores.messages.col.aggregate([
                {"$match": {"campaign": self.run_id}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            counts[row["_id"]] = row["n"]
        dcounts: dict = {}
        async for row in await self.out.deliveries.col.aggregate([
                {"$match": {"run": self.run_id}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]):
            dcounts[row["_id"]] = row["n"]
        self._base = {"total": sum(dcounts.values()), "skipped": dcounts.get("skipped", 0),
                      "sent": counts.get("sent", 0) + counts.get("delivered", 0) + counts.get("read", 0),
                      "delivered": counts.get("delivered", 0) + counts.get("read", 0),
                      "failed": counts.get("failed", 0)}
        self.local = {"sent": 0, "failed": 0, "skipped": 0}
        self._base_at = time.monotonic()

    async def progress(self) -> dict:
        """total / sent / delivered / failed / queued for this run (database counts + this process's since)."""
        if self._base is None or time.monotonic() - self._base_at >= self.db_refresh_s:
            await self._refresh()
        b, lo = self._base, self.local
        sent, failed, skipped = b["sent"] + lo["sent"], b["failed"] + lo["failed"], b["skipped"] + lo["skipped"]
        return {"run": self.run_id, "total": b["total"], "skipped": skipped, "sent": sent,
                "delivered": b["delivered"], "failed": failed,
                "queued": max(0, b["total"] - sent - failed - skipped), "pending": 0, "at": time.monotonic()}


class ProgressLine:
    """``total 5000 | sent 1200 | delivered 800 | failed 3 | 29.8/s`` redrawn in place on a terminal."""

    def __init__(self, stream=None):
        import sys

        self.stream = stream or sys.stderr
        self.first: tuple[float, int] | None = None
        self.prev: tuple[float, int] | None = None
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.last_print = 0.0

    def __call__(self, p: dict, final: bool = False) -> None:
        now, sent = p["at"], p["sent"]
        if self.first is None:
            self.first = (now, sent)
        rate = 0.0
        if self.prev and now > self.prev[0]:
            rate = (sent - self.prev[1]) / (now - self.prev[0])
        self.prev = (now, sent)
        done = p["sent"] + p["failed"] + p["skipped"]
        pct = 100.0 * done / p["total"] if p["total"] else 100.0
        line = (f"{p['run']}: total {p['total']} | sent {p['sent']} | delivered {p['delivered']} | "
                f"failed {p['failed'] + p['skipped']} | queued {p['queued'] + p['pending']} | "
                f"{rate:5.1f}/s | {pct:5.1f}%")
        if final and self.first and now > self.first[0]:
            line += f" | average {(sent - self.first[1]) / (now - self.first[0]):.1f}/s"
        if self.tty:
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
        elif final or now - self.last_print >= 5:
            self.stream.write(line + "\n")
            self.last_print = now
        self.stream.flush()
