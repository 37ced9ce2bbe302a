"""Retention: each collection holding personal data is emptied on a configurable schedule.

Messages already expire through their TTL index (``LAPOR_MESSAGE_RETENTION_DAYS``); the WhatsApp inbox,
numbered menus and Telegram callback payloads have fixed TTL indexes of their own. Everything else is done
by one periodic sweep, run by one process at a time (MongoDB lease ``privacy:retention``):

- conversation states (the contacts' ``conv``: draft, pending question, message-rate window) untouched for
  ``LAPOR_CONVERSATION_RETENTION_DAYS`` (the contact stays);
- handoff requests (transcripts) older than ``LAPOR_HANDOFF_RETENTION_DAYS`` (closed: since closing);
- GridFS files no report uses (unsent drafts, uploads never sent) older than
  ``LAPOR_UNATTACHED_FILE_RETENTION_DAYS``;
- notification records older than ``LAPOR_NOTIFICATION_RETENTION_DAYS``;
- reports settled or archived ``LAPOR_REPORTER_RETENTION_DAYS`` ago lose their reporter (pseudonymised as
  on erasure: the report stays, who filed it goes);
- contacts with no message either way for ``LAPOR_CONTACT_RETENTION_DAYS`` and no open report are erased
  (``rights.erase``, actor ``retention``);
- messages received from a contact who has not consented (declined, or never answered) are deleted after
  4 days (redelivered webhooks are recognised by the stored message until then);
- erasures whose last reply was not purged yet (a process stopped in between) are finished.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from bot import reports as domain
from bot.messages import utcnow
from bot.privacy import rights
from bot.storage.erasures import ErasureStore
from bot.tasks import stop_task

log = logging.getLogger(__name__)

LEASE = "privacy:retention"
BATCH = 500
ERASURE_GRACE = timedelta(minutes=15)  # a purge in progress gets this long before the sweep finishes it
# a webhook may be redelivered for about 3 days: its stored inbound id is what stops a second processing
UNCONSENTED_GRACE = timedelta(days=4)


async def sweep(stores, settings, now: datetime | None = None) -> dict:
    """One retention round (no lease: the worker holds it). Returns what was removed, per collection."""
    now = now or utcnow()
    days = lambda n: now - timedelta(days=n)  # noqa: E731
    out: dict = {}
    out["conversations"] = await stores.conversations.delete_untouched_before(
        days(settings.lapor_conversation_retention_days))
    out["handoffs"] = await stores.handoffs.delete_older_than(days(settings.lapor_handoff_retention_days))
    out["files"] = await _unattached_files(stores, days(settings.lapor_unattached_file_retention_days))
    out["notifications"] = await stores.notifications.delete_older_than(
        days(settings.lapor_notification_retention_days))
    out["reporters"] = await _settled_reporters(stores, days(settings.lapor_reporter_retention_days), now)
    out["contacts"] = await _idle_contacts(stores, days(settings.lapor_contact_retention_days))
    out["unconsented_messages"] = await _unconsented_messages(stores, now - UNCONSENTED_GRACE)
    out["erasures"] = 0
    async for e in ErasureStore(stores.db).overdue(now - ERASURE_GRACE, BATCH):
        if await rights.purge_erased(stores, e["_id"]):
            out["erasures"] += 1
    return out


async def _unattached_files(stores, cutoff: datetime) -> int:
    old = await stores.files.uploaded_before(cutoff, BATCH)
    if not old:
        return 0
    used = set()
    async for r in stores.reports.using_files(old, {"attachments.gridfs_id": 1}):
        used.update(a.get("gridfs_id") for a in r.get("attachments") or [])
    return await stores.files.delete_many([fid for fid in old if fid not in used])


async def _settled_reporters(stores, cutoff: datetime, now: datetime) -> int:
    """Closed long ago: the report keeps what happened, not who filed it."""
    n = 0
    for r in await stores.reports.settled_with_reporter([domain.SELESAI, domain.DIARSIPKAN], cutoff, BATCH):
        await stores.reports.retire_reporter(r, now)
        await stores.audit.record("retention", "report_pseudonymise", r["tracking_id"], {"reason": "retention"})
        n += 1
    return n


async def _idle_contacts(stores, cutoff: datetime) -> int:
    n = 0
    for c in await stores.contacts.created_before(cutoff, BATCH):
        cid = c["_id"]
        if await stores.messages.any_of_contact_since(cid, cutoff):
            continue
        if await stores.reports.has_open_of(cid, list(domain.OPEN_STATUSES)):
            continue
        await rights.erase(stores, cid, "retention")
        n += 1
    return n


async def _unconsented_messages(stores, cutoff: datetime) -> int:
    """What someone who has not agreed (declined, or never answered) sent later, e.g. a tracking-ID lookup."""
    n, batch = 0, []
    async for c in stores.contacts.without_consent():
        batch.append(c["_id"])
        if len(batch) >= BATCH:
            n += await _delete_inbound(stores, batch, cutoff)
            batch = []
    return n + (await _delete_inbound(stores, batch, cutoff) if batch else 0)


async def _delete_inbound(stores, ids: list, cutoff: datetime) -> int:
    return await stores.messages.delete_inbound_before(ids, cutoff)


class RetentionWorker:
    """The periodic sweep, one process at a time; stopped with the runtime."""

    def __init__(self, runtime, interval_s: float = 3600.0):
        self.runtime, self.interval_s = runtime, interval_s
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    async def run_once(self, now: datetime | None = None) -> dict:
        if not await self.runtime.stores.leases.acquire(LEASE, ttl_s=max(600.0, 2 * self.interval_s)):
            return {"skipped": True}
        out = await sweep(self.runtime.stores, self.runtime.settings, now)
        log.info("retention sweep: %s", out)
        return out

    async def _loop(self) -> None:
        """First round one interval after start (start-up stays light), then every interval."""
        while True:
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await self.run_once()
            except Exception as exc:  # database outage: next round
                log.warning("retention sweep failed: %s", type(exc).__name__)

    async def stop(self, timeout_s: float = 10.0) -> None:
        task, self._task = self._task, None
        await stop_task(task, stopping=self._stopping, timeout_s=timeout_s, name="retention sweep")


def start(runtime, interval_s: float = 3600.0) -> RetentionWorker:
    """Start the sweep in the running loop; the runtime stops it before closing the database."""
    worker = RetentionWorker(runtime, interval_s)
    worker._task = asyncio.get_running_loop().create_task(worker._loop())  # noqa: SLF001
    runtime.stop_hooks.append(worker.stop)
    runtime.retention = worker
    return worker
