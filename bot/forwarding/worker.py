"""Forwarding to upstream systems: a durable outbox of forward jobs, and the status poll.

**Sending.** When a report is forwarded (``diteruskan``) to an agency with an upstream (``agency_upstreams``),
a job is queued in ``forwarding_jobs`` (one per report and agency, unique index). Every round also queues
jobs for forwarded reports that have none (a process that stopped between the transition and the queueing,
a re-route through the back office), so nothing is lost. A due job is claimed with a lease (another process
takes it over when the lease runs out), sent through the agency's connector, and on success the upstream id
is stored on the report (``report.upstream``). On any failure the job waits ``30 s * 2^(attempts-1)`` (at
most an hour) and is tried again, for as long as it takes; its attempts and last error are kept on the job.
A retry cannot create a second upstream request: connectors are idempotent per tracking ID.

**Following.** Under the lease ``forwarding:poll`` (one process at a time), every ``poll_interval_s`` the
upstream states of open forwarded reports are fetched and turned into our transitions through
``StaffServices.transition`` (so the citizen is notified as for an agency officer's action), actor
``upstream:<agency>``: a new upstream answer (``status_notes``) of a ``diteruskan`` report makes it
``ditanggapi`` with that answer; an upstream ``closed`` makes it ``ditanggapi`` then ``selesai`` (one step a
round). An upstream archiving (``lapor_status: diarsipkan``) is recorded, not copied: staff decide.
"""
from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import timedelta

from bot import reports as domain
from bot.forwarding.connector import Outgoing, UpstreamError, UpstreamState
from bot.forwarding.connectors import build
from bot.forwarding.upstreams import UpstreamStore
from bot.messages import utcnow
from bot.storage.forwarding_jobs import ForwardingJobStore
from bot.staff.auth import Principal
from bot.staff.views import serialize_report

log = logging.getLogger(__name__)

CLAIM_S = 120
BACKOFF_BASE_S, BACKOFF_MAX_S = 30, 3600
POLL_LEASE = "forwarding:poll"
FOLLOWED = (domain.DITERUSKAN, domain.DITANGGAPI)


class _Idle(Exception):
    pass


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


def outgoing(report: dict, agency: str) -> Outgoing:
    """The report in the receiving agency's scope (the one serializer): the reporter's name for publik only."""
    view = serialize_report(report, Principal("agency", agency=agency), now=utcnow())
    loc = view.get("location") or {}
    return Outgoing(tracking_id=view["tracking_id"], category=view.get("category") or "lainnya",
                    type=view.get("type"), description=view.get("description") or "", address=loc.get("text"),
                    region_code=loc.get("region_code"), region_name=loc.get("region_name"),
                    latitude=loc.get("latitude"), longitude=loc.get("longitude"),
                    privacy=view.get("privacy") or "rahasia",
                    reporter_name=(view.get("reporter") or {}).get("name") if view.get("privacy") == "publik"
                    else None)


class Forwarder:
    def __init__(self, runtime, staff, *, send_interval_s: float = 5.0, poll_interval_s: float = 600.0):
        self.runtime, self.staff = runtime, staff
        self.jobs = ForwardingJobStore(runtime.stores.db)
        self.upstreams = UpstreamStore(runtime.stores.db)
        self.send_interval_s, self.poll_interval_s = send_interval_s, poll_interval_s
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._last_poll = 0.0

    async def ensure_indexes(self) -> None:
        await self.jobs.ensure_indexes()

    # ------------------------------------------------------------------ queueing
    async def on_transition(self, report: dict, actor: str | None = None) -> None:
        """StaffServices hook: a report just forwarded to an agency with an upstream gets a job."""
        if report.get("status") == domain.DITERUSKAN and report.get("agency") and \
                await self.upstreams.get(report["agency"]):
            await self.enqueue(report["tracking_id"], report["agency"])
            self._wake.set()

    async def enqueue(self, tracking_id: str, agency: str) -> None:
        await self.jobs.enqueue(tracking_id, agency)

    async def catch_up(self) -> int:
        """Queue forwarded reports of upstream agencies that have no job and no upstream id there."""
        agencies = await self.upstreams.agencies()
        if not agencies:
            return 0
        n = 0
        for r in await self.runtime.stores.reports.forwarded_to_agencies(domain.DITERUSKAN, agencies):
            if (r.get("upstream") or {}).get("agency") == r["agency"]:
                continue
            if await self.jobs.exists(r["tracking_id"], r["agency"]):
                continue
            await self.enqueue(r["tracking_id"], r["agency"])
            n += 1
        return n

    # ------------------------------------------------------------------ sending
    async def _claim(self) -> dict | None:
        return await self.jobs.claim(CLAIM_S)

    async def send_once(self, limit: int = 50) -> dict:
        await self.catch_up()
        done: dict[str, list] = {"sent": [], "retry": [], "dropped": []}
        for _ in range(limit):
            job = await self._claim()
            if job is None:
                break
            outcome = await self._send(job)
            done[outcome].append(job["tracking_id"])
        return done

    async def _finish(self, job: dict, state: str, **fields) -> None:
        await self.jobs.finish(job["_id"], state, **fields)

    async def _send(self, job: dict) -> str:
        reports = self.runtime.stores.reports
        report = await reports.get(job["tracking_id"])
        if report is None or report.get("agency") != job["agency"] or report["status"] not in FOLLOWED:
            await self._finish(job, "dropped", last_error="no longer forwarded to this agency")
            return "dropped"
        up = report.get("upstream") or {}
        if up.get("agency") == job["agency"] and up.get("id"):
            await self._finish(job, "sent", upstream_id=up["id"])
            return "sent"
        config = await self.upstreams.get(job["agency"])
        try:
            if config is None:
                raise UpstreamError("the agency has no upstream any more")
            upstream_id = await build(config).submit(outgoing(report, job["agency"]))
        except UpstreamError as err:
            attempts = job.get("attempts", 0) + 1
            await self._finish(job, "queued", attempts=attempts, next_at=utcnow() + backoff(attempts),
                               last_error=str(err)[:300], last_attempt_at=utcnow())
            log.warning("forward %s to %s failed (attempt %d): %s", job["tracking_id"], job["agency"], attempts,
                        str(err)[:120])
            return "retry"
        now = utcnow()
        await reports.set_fields(report["_id"], {"upstream": {
            "agency": job["agency"], "kind": config["kind"], "id": upstream_id, "sent_at": now, "status": None,
            "detail": None, "notes": None, "answered_notes": None, "checked_at": None}})
        await self._finish(job, "sent", upstream_id=upstream_id, sent_at=now,
                           attempts=job.get("attempts", 0) + 1, last_error=None)
        await self.staff.audit.record("sistem", "upstream_submit", job["tracking_id"],
                                      {"agency": job["agency"], "upstream_id": upstream_id})
        return "sent"

    async def pending(self, limit: int = 200) -> list[dict]:
        """Jobs not sent yet, the longest waiting first (for the back office and operators)."""
        return await self.jobs.pending(limit)

    # ------------------------------------------------------------------ following
    async def poll_once(self) -> dict:
        stores = self.runtime.stores
        if not await stores.leases.acquire(POLL_LEASE, ttl_s=max(60.0, 3 * self.poll_interval_s)):
            return {"skipped": True}
        by_agency: dict[str, list[dict]] = defaultdict(list)
        for r in await stores.reports.with_upstream_id(list(FOLLOWED)):
            if (r.get("upstream") or {}).get("agency") == r.get("agency"):
                by_agency[r["agency"]].append(r)
        moved, errors = [], []
        for agency, reps in by_agency.items():
            config = await self.upstreams.get(agency)
            if config is None:
                continue
            try:
                states = await build(config).states([r["upstream"]["id"] for r in reps])
            except UpstreamError as err:
                errors.append(agency)
                log.warning("upstream of %s not readable: %s", agency, str(err)[:120])
                await stores.reports.mark_upstream_error([r["_id"] for r in reps], str(err)[:300])
                continue
            by_id = {s.upstream_id: s for s in states}
            for r in reps:
                st = by_id.get(r["upstream"]["id"])
                if st is not None and await self._apply(r, st):
                    moved.append(r["tracking_id"])
        return {"moved": moved, "errors": errors}

    async def _apply(self, report: dict, st: UpstreamState) -> bool:
        """Record the upstream state; make at most one transition from it. True when one was made."""
        up = report["upstream"]
        now = utcnow()
        reports = self.runtime.stores.reports
        await reports.set_fields(report["_id"], {
            "upstream.status": "open" if st.open else "closed", "upstream.detail": st.detail,
            "upstream.notes": st.notes, "upstream.checked_at": now, "upstream.error": None})
        if st.detail == domain.DIARSIPKAN:
            return False
        ours, target, note = report["status"], None, None
        if ours == domain.DITERUSKAN and st.notes and st.notes != up.get("answered_notes"):
            target, note = domain.DITANGGAPI, st.notes
        elif ours == domain.DITERUSKAN and not st.open and not up.get("closed_seen"):
            target, note = domain.DITANGGAPI, st.notes
        elif ours == domain.DITANGGAPI and not st.open and not up.get("closed_seen"):
            target = domain.SELESAI
        if target is None:
            return False
        try:
            await self.staff.transition(report["tracking_id"], target, actor=f"upstream:{report['agency']}",
                                        note=note, expected=ours)
        except (domain.TransitionError, KeyError):
            return False  # someone moved it meanwhile: next round sees the new state
        marks = {"upstream.answered_notes": note} if target == domain.DITANGGAPI else {}
        if target == domain.SELESAI:
            marks["upstream.closed_seen"] = True
        if marks:
            await reports.set_fields(report["_id"], marks)
        return True

    # ------------------------------------------------------------------ the task
    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self, timeout_s: float = 10.0) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        self._wake.set()
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:
            task.cancel()

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        indexed = False
        while not self._stopping.is_set():
            try:
                if not await self.upstreams.any():
                    raise _Idle()
                if not indexed:  # only once an agency has an upstream
                    await self.ensure_indexes()
                    indexed = True
                await self.send_once()
                if loop.time() - self._last_poll >= self.poll_interval_s:
                    self._last_poll = loop.time()
                    await self.poll_once()
            except _Idle:
                pass  # no agency has an upstream: nothing to do
            except Exception as exc:  # database outage: next round
                log.warning("forwarding round failed: %s", type(exc).__name__)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), min(self.send_interval_s, self.poll_interval_s))
            except asyncio.TimeoutError:
                pass
