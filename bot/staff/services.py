"""Wires the staff side into the runtime: SLA deadlines, transition notifications, the SLA task.

``register(runtime)`` (called by the runtime's assembly, ``Runtime.open``, which keeps the result on
``runtime.staff``) plugs ``StaffServices`` into the dialogue as its report life-cycle port
(``engine.ports.lifecycle``: ``initial_deadlines(now)`` when a report is filed, ``on_transition(report, actor)``
after a citizen's objection) and the live-conversation interceptor into the engine.
``StaffServices.start()`` (called by ``Runtime.start``) creates the staff indexes and starts the periodic SLA
task (one process at a time, MongoDB lease), the live-conversation sweeper and forwarding; the runtime stops
them before the database closes.
"""
from __future__ import annotations

import asyncio
import logging

from bot import reports as domain
from bot.messages import utcnow
from bot.staff import handoff
from bot.staff.notify import Notifier
from bot.staff.sla import Sla, SlaWorker

log = logging.getLogger(__name__)


class StaffServices:
    def __init__(self, runtime, *, sla_interval_s: float = 60.0):
        self.runtime = runtime
        self.sla = Sla()
        self.notifier = Notifier(runtime)
        self.audit = runtime.stores.audit
        self.tokens = runtime.stores.staff_tokens
        self.worker = SlaWorker(runtime, self, interval_s=sla_interval_s)
        self.handoffs = None  # the live-conversation sweeper, once started
        self.after_transition: list = []  # async (report, actor) after every staff transition (bot.forwarding)
        self._indexes_done = False

    def start(self) -> None:
        """Background work: staff indexes (once), the SLA task, the live-conversation sweeper and forwarding.
        Needs a running event loop; each is stopped by the runtime before the database closes."""
        from bot import forwarding

        asyncio.get_running_loop().create_task(_ensure_indexes(self))
        self.worker.start()
        self.runtime.stop_hooks.append(self.worker.stop)
        self.handoffs = handoff.start(self.runtime)  # idle live conversations go back to the bot
        forwarding.start(self.runtime, self)  # reports forwarded to an agency's own system (docs/open311.md)

    async def ensure_indexes(self) -> None:
        if not self._indexes_done:
            for s in (self.notifier, self.audit, self.tokens):
                await s.ensure_indexes()
            self._indexes_done = True

    async def transition(self, tracking_id: str, target: str, *, actor: str, note: str | None = None,
                         agency: str | None = None, expected: str | None = None) -> tuple[dict, list[dict]]:
        """One staff transition: compare-and-set, audit, then notifications (which never block it).

        Raises TransitionError (illegal or lost race) or KeyError (unknown report).
        """
        now = utcnow()
        extra = self.sla.transition_fields(target, now)
        if agency:
            extra["agency"] = agency
        report = await self.runtime.stores.reports.transition(tracking_id, target, actor=actor, note=note,
                                                              extra=extra, expected=expected)
        try:
            await self.audit.record(actor, "transition", tracking_id,
                                    {"from": report["history"][-1]["from"], "to": target, "agency": agency,
                                     "note_chars": len(note or "")})
        except Exception:
            log.exception("audit record for %s failed", tracking_id)
        for hook in self.after_transition:
            try:
                await hook(report, actor)
            except Exception:
                log.exception("after-transition hook for %s failed", tracking_id)
        try:
            records = await asyncio.wait_for(self.notifier.on_transition(report, actor=actor), timeout=10)
        except Exception:
            log.warning("notifications for %s did not finish", tracking_id)
            records = []
        return report, records


    def initial_deadlines(self, now) -> dict:
        """Deadlines of a report filed ``now`` (the dialogue's ``ReportLifecycle`` port)."""
        return self.sla.initial_deadlines(now)

    async def on_transition(self, report: dict, actor: str | None = None, **kw) -> list[dict]:
        """Hook for transitions made outside the API (the citizen's objection reopens a report):
        restart the agency's follow-up clock, audit, notify. Never raises."""
        try:
            last = (report.get("history") or [{}])[-1]
            if actor == "warga" and last.get("to") == domain.DITERUSKAN:
                fields = self.sla.on_forward(utcnow())
                await self.runtime.stores.reports.set_fields(report["_id"], fields)
                report = {**report, **fields}
                await self.audit.record("warga", "objection", report["tracking_id"],
                                        {"from": last.get("from"), "to": last.get("to")})
        except Exception:
            log.exception("citizen transition bookkeeping for %s failed", report.get("tracking_id"))
        return await self.notifier.on_transition(report, actor=actor, **kw)


def register(runtime) -> StaffServices:
    staff = StaffServices(runtime)
    runtime.engine.ports.lifecycle = staff
    runtime.engine.interceptors.append(handoff.intercept)  # while a person holds it, the bot stays quiet
    return staff


async def _ensure_indexes(staff: StaffServices) -> None:
    try:
        await staff.ensure_indexes()
    except Exception as exc:
        log.warning("staff indexes not created: %s", type(exc).__name__)

