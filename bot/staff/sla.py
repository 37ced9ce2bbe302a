"""SLA clock: working days (no weekends, no Indonesian national holidays) and the periodic SLA task.

- verification due 3 working days after submission (``verify_due_at``);
- agency follow-up due 5 working days after forwarding (``followup_due_at``);
- automatic ``selesai`` 10 working days after ``ditanggapi`` with no citizen reply (``autoclose_at``; SP4N's rule).

A deadline is the end (23:59:59 WIB) of the n-th working day after the day the clock starts.
Holidays come from the maintained ``holidays`` package (``holidays.Indonesia``).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from bot import reports as domain
from bot.messages import aware, utcnow
from bot.tasks import stop_task

log = logging.getLogger(__name__)

WIB = ZoneInfo("Asia/Jakarta")
VERIFY_WORKING_DAYS = 3
FOLLOWUP_WORKING_DAYS = 5
AUTOCLOSE_WORKING_DAYS = 10
SYSTEM_ACTOR = "sistem"


class WorkingCalendar:
    def __init__(self, tz: ZoneInfo = WIB, extra_holidays: set[date] | None = None):
        self.tz = tz
        self._years: dict[int, set[date]] = {}
        self.extra = set(extra_holidays or ())

    def _holidays(self, year: int) -> set[date]:
        if year not in self._years:
            self._years[year] = set(holidays.Indonesia(years=year).keys())
        return self._years[year]

    def is_working_day(self, d: date) -> bool:
        return d.weekday() < 5 and d not in self._holidays(d.year) and d not in self.extra

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """End of the n-th working day after ``start``'s local date, as an aware UTC datetime."""
        d = start.astimezone(self.tz).date()
        count = 0
        while count < n:
            d += timedelta(days=1)
            if self.is_working_day(d):
                count += 1
        end = datetime.combine(d, time(23, 59, 59), tzinfo=self.tz)
        return end.astimezone(start.tzinfo or self.tz)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        a, b = start.astimezone(self.tz).date(), end.astimezone(self.tz).date()
        n = 0
        while a < b:
            a += timedelta(days=1)
            if self.is_working_day(a):
                n += 1
        return n


class Sla:
    """Deadlines for each stage of a report (reached by the dialogue through ``StaffServices.initial_deadlines``)."""

    def __init__(self, calendar: WorkingCalendar | None = None):
        self.calendar = calendar or WorkingCalendar()

    def initial_deadlines(self, now: datetime) -> dict:
        return {"verify_due_at": self.calendar.add_working_days(now, VERIFY_WORKING_DAYS)}

    def on_forward(self, now: datetime) -> dict:
        return {"forwarded_at": now, "followup_due_at": self.calendar.add_working_days(now, FOLLOWUP_WORKING_DAYS)}

    def on_answer(self, now: datetime) -> dict:
        return {"answered_at": now, "autoclose_at": self.calendar.add_working_days(now, AUTOCLOSE_WORKING_DAYS)}

    def transition_fields(self, target: str, now: datetime) -> dict:
        if target == domain.DITERUSKAN:
            return self.on_forward(now)
        if target == domain.DITANGGAPI:
            return self.on_answer(now)
        if target in (domain.SELESAI, domain.DIARSIPKAN):
            return {"closed_at": now}
        if target == domain.TERVERIFIKASI:
            return {"verified_at": now}
        return {}


def overdue_query(now: datetime) -> dict:
    """Reports past a deadline of their current stage."""
    return {"$or": [{"status": domain.DITERIMA, "verify_due_at": {"$lt": now}},
                    {"status": domain.DITERUSKAN, "followup_due_at": {"$lt": now}}]}


def is_overdue(report: dict, now: datetime) -> bool:
    st = report.get("status")
    due = report.get("verify_due_at") if st == domain.DITERIMA else \
        report.get("followup_due_at") if st == domain.DITERUSKAN else None
    return due is not None and aware(due) < now


def citizen_replied_after(report: dict, since: datetime | None) -> bool:
    if since is None:
        return False
    return any(aware(a["at"]) > aware(since) for a in report.get("additions") or [] if a.get("at"))


class SlaWorker:
    """Periodic task: closes answered reports nobody replied to. One process at a time (MongoDB lease)."""

    LEASE = "staff:sla"

    def __init__(self, runtime, staff, interval_s: float = 60.0):
        self.runtime, self.staff, self.interval_s = runtime, staff, interval_s
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Let the current round finish (cancelling inside a database call can leave a connection
        half-open), then end the task; cancel only if it does not end in time."""
        task, self._task = self._task, None
        await stop_task(task, stopping=self._stopping, timeout_s=timeout_s, name="SLA task")

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception as exc:  # database outage: try again next round
                log.warning("SLA round failed: %s", type(exc).__name__)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass

    async def run_once(self, now: datetime | None = None) -> dict:
        stores = self.runtime.stores
        if not await stores.leases.acquire(self.LEASE, ttl_s=max(30.0, 3 * self.interval_s)):
            return {"skipped": True}
        now = now or utcnow()
        closed, kept = [], []
        for rep in await stores.reports.due_for_autoclose(now):
            tid = rep["tracking_id"]
            if citizen_replied_after(rep, rep.get("answered_at")):
                # the citizen answered back: the agency must follow up, no automatic closing
                await stores.reports.set_fields(rep["_id"], {"autoclose_at": None,
                                                             "autoclose_skipped": "citizen_replied"})
                kept.append(tid)
                continue
            try:
                updated = await stores.reports.transition(
                    tid, domain.SELESAI, actor=SYSTEM_ACTOR, note=None, expected=domain.DITANGGAPI,
                    extra={"closed_at": now, "closed_automatically": True, "autoclose_at": None})
            except (domain.TransitionError, KeyError):
                continue  # someone moved it meanwhile
            await self.staff.audit.record(SYSTEM_ACTOR, "auto_close", tid, {"after_working_days": AUTOCLOSE_WORKING_DAYS})
            await self.staff.notifier.on_transition(updated, actor=SYSTEM_ACTOR, event="auto_selesai")
            closed.append(tid)
        return {"closed": closed, "kept_open": kept}
