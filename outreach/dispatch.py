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
4. ``CampaignCheck`` is the outbox's send-time check for campaign messages (``Outbox.set_campaign_check``,
   registered by ``install``; senders are not wrapped, other traffic never reaches outreach code): a campaign
   message to a contact who opted out (or became unreachable) is dropped, and on WhatsApp the one window rule
   (``bot.sending.whatsapp_window_open``) decides between free text and the campaign's approved template
   (dropped when there is none).
Only the holder of the MongoDB lease ``dispatch:<channel>`` (the outbox's own lease) pushes messages to its
sender; other processes only create messages, which the holder's sweeper picks up.
"""
from __future__ import annotations

import asyncio
import logging
import time

from bson import ObjectId

from bot.messages import Identity, OutboundMessage, aware, utcnow
from bot.sending import Outcome, SendResult, whatsapp_window_open
from outreach.campaigns import CHANNELS, Campaign, CampaignStore, audience_query
from outreach.codes import CampaignCodes
from outreach.deliveries import DeliveryStore
from outreach.events import SubscriptionEvents
from outreach.render import render_wa_template, try_render

log = logging.getLogger(__name__)

PRIORITY = 9
CAMPAIGN_SHARE = 1.0  # the outbox's window limiter keeps the account under its cap and serves replies first


def is_subscribed(contact: dict | None) -> bool:
    return bool(contact) and (contact.get("subscription") or {}).get("status") == "subscribed" \
        and contact.get("reachable", True) is not False


def inside_wa_window(contact: dict, now=None) -> bool:
    """The one window rule on a contact: its conversation's ``last_inbound_at`` (merged in as ``_last_inbound``
    by ``with_last_inbound``) or the contact's own ``last_inbound_at``."""
    return whatsapp_window_open(contact.get("_last_inbound"), contact.get("last_inbound_at"), now=now)


async def with_last_inbound(stores, contacts: list[dict]) -> None:
    """Merge each contact's conversation ``last_inbound_at`` into ``_last_inbound`` (one query)."""
    found = await stores.conversations.last_inbound([c["_id"] for c in contacts if c])
    for c in contacts:
        if c:
            c["_last_inbound"] = found.get(c["_id"])


class Outreach:
    """Outreach's collections (one owner module each), built on the runtime's database."""

    def __init__(self, db):
        self.campaigns = CampaignStore(db)
        self.codes = CampaignCodes(db)
        self.deliveries = DeliveryStore(db)
        self.events = SubscriptionEvents(db)
        self._indexed = False

    async def ensure_indexes(self) -> None:
        if self._indexed:
            return
        await self.codes.ensure_indexes()
        await self.deliveries.ensure_indexes()
        await self.events.ensure_indexes()
        self._indexed = True


class CampaignCheck:
    """The outbox's send-time check for campaign messages: last word before one reaches the provider."""

    def __init__(self, stores):
        self.stores = stores
        self._contacts: dict = {}  # message _id -> contact, prefetched for a claimed batch

    async def prepare(self, channel: str, docs: list[dict]) -> None:
        """The outbox claimed a batch: read its contacts (and WhatsApp windows) in one query each, instead of
        two per message at send time. The batch is sent within about a second."""
        want = [d for d in docs if d.get("contact_id") is not None]
        if not want:
            return
        found = await self.stores.contacts.get_many(d["contact_id"] for d in want)
        if found and channel == "whatsapp":
            await with_last_inbound(self.stores, list(found.values()))
        if len(self._contacts) > 10_000:  # messages claimed but never sent (cancelled): forget them
            self._contacts.clear()
        for d in want:
            self._contacts[d["_id"]] = found.get(d["contact_id"])

    async def before_send(self, channel: str, doc: dict) -> dict | SendResult:
        if doc.get("contact_id") is None:
            return doc
        if doc["_id"] in self._contacts:
            contact = self._contacts.pop(doc["_id"])
        else:
            contact = await self.stores.contacts.get(doc["contact_id"])
            if contact is not None and channel == "whatsapp":
                await with_last_inbound(self.stores, [contact])
        if not is_subscribed(contact) and not doc.get("staff_test"):
            return SendResult(Outcome.FAILED, error="opted_out")
        if channel == "whatsapp":
            doc = with_whatsapp_mode(doc, contact)
            if doc is None:
                return SendResult(Outcome.FAILED, error="outside_24h_window")
            if contact is not None:
                doc["_contact"] = contact  # the sender uses it instead of reading the contact again
        return doc


def with_whatsapp_mode(doc: dict, contact: dict | None) -> dict | None:
    """The campaign decided its template (``wa_template``); the window decides whether it is needed: inside,
    free text (``use_template`` False); outside, that template (``use_template`` True with ``template``,
    ``template_params``, ``template_language``: what channels/whatsapp.py sends); None when there is none.
    The template also rides along with free text, for a send refused because the window closed meanwhile."""
    wa = doc.get("wa_template")
    template = {"template": wa["name"], "template_params": wa["params"], "template_language": wa["language"]} \
        if wa else {}
    if contact and inside_wa_window(contact):
        return {**doc, **template, "use_template": False}
    if not wa:
        return None
    return {**doc, **template, "use_template": True}


def install(runtime) -> Outreach:
    """Idempotent: outreach's stores on ``runtime.outreach``, subscriptions plugged into the dialogue's registry
    and its send-time check on the outbox. Called by the runtime's assembly (``outreach.register``)."""
    out = getattr(runtime, "outreach", None)
    if out is None:
        out = Outreach(runtime.stores.db)
        runtime.outreach = out
        from outreach.campaigns import campaign_dirs  # the operator's campaign files (issue 18)

        out.campaigns.dirs = campaign_dirs(getattr(getattr(runtime, "settings", None), "lapor_data_dir", None))
    if runtime.engine is not None:
        from outreach.subscriptions import register_dialogue

        register_dialogue(runtime.engine.dialogue.registry, out)
    if runtime.outbox is not None and not isinstance(runtime.outbox.campaign_check, CampaignCheck):
        runtime.outbox.set_campaign_check(CampaignCheck(runtime.stores))
    return out


async def create_deliveries(runtime, campaign: Campaign, run_id: str, batch: int = 1000) -> dict:
    """One delivery per (run, contact) in the audience. Safe to repeat: existing ones are kept."""
    out = install(runtime)
    await out.ensure_indexes()
    existing = await out.deliveries.contacts_of_run(run_id)
    created = 0
    now = utcnow()
    cur = runtime.stores.contacts.matching(audience_query(campaign), {"_id": 1, "channel": 1, "language": 1})
    buf: list[dict] = []
    async for c in cur:
        if c["_id"] in existing:
            continue
        buf.append({"_id": ObjectId(), "run": run_id, "campaign": campaign.name, "contact_id": c["_id"],
                    "channel": c["channel"], "language": c.get("language") or "id", "status": "pending",
                    "message_id": ObjectId(), "created_at": now})
        if len(buf) >= batch:
            created += await out.deliveries.insert(buf)
            buf = []
    created += await out.deliveries.insert(buf)
    total = await out.deliveries.count(run_id)
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

        if result.retryable and doc.get("attempts", 1) < MAX_ATTEMPTS:
            return
        self.inflight.get(doc.get("channel"), set()).discard(doc["_id"])
        self.local["sent" if result.outcome is Outcome.SENT else "failed"] += 1

    async def run(self, progress=None, progress_every_s: float = 1.0) -> dict:
        await create_deliveries(self.rt, self.c, self.run_id)
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
        left = await self.out.deliveries.count(self.run_id, "pending")
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
        msgs = self.rt.stores.messages
        pending = await self.out.deliveries.pending(self.run_id, channel)
        pending.reverse()  # pop() from the end keeps creation order
        # messages a previous (crashed) run left queued: the sweeper sends them; wait for them too
        inflight = self.inflight.setdefault(channel, set())
        inflight.update(await msgs.campaign_ids(self.run_id, channel, "queued"))
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
                live = await msgs.still_pending(inflight)
                inflight.intersection_update(
                    d["_id"] for d in live if d["status"] == "queued" or aware(d.get("claimed_at")) >= self.started)
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
        contacts = await stores.contacts.get_many(d["contact_id"] for d in batch)
        if any(d["channel"] == "whatsapp" for d in batch):
            await with_last_inbound(stores, list(contacts.values()))
        docs, queued, skipped = [], [], {}
        for d in batch:
            c = contacts.get(d["contact_id"])
            reason = None
            if not is_subscribed(c):
                reason = "opted_out"
            else:
                text, errors, _lang, _variant = try_render(self.c, c, d["channel"])
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
                                  message_id=d["message_id"], priority=PRIORITY, campaign=self.run_id)
            doc = stores.messages.outbound_doc(msg)
            if wa:
                doc["wa_template"] = wa  # the producer's choice; the send-time check decides whether it is used
            docs.append(doc)
            queued.append(d["_id"])
        await stores.messages.insert_outbound(docs)
        await self.out.deliveries.mark_queued(queued)
        self.local["skipped"] += sum(len(ids) for ids in skipped.values())
        for reason, ids in skipped.items():
            await self.out.deliveries.mark_skipped(ids, reason)
        return docs

    async def _refresh(self) -> None:
        """Counts from the database (all processes, delivery receipts); local counters restart from here."""
        counts = await self.rt.stores.messages.count_by_status(self.run_id)
        dcounts = await self.out.deliveries.count_by_status(self.run_id)
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
