"""The scheduler inside ``laporbot run``: runs the campaigns whose schedule is due and resumes orphaned runs.

One-off campaigns run once (run id = name); recurring ones once per occurrence (``name#YYYY-MM-DD``). A run
whose status is ``running`` but that no live process feeds (its ``run:<id>`` lease lapsed or was released:
a crash, a restart, a graceful stop) is resumed on the next tick, whether it was scheduled or started by hand
(deliveries and messages are idempotent); a run paused or cancelled from the back office is left alone
(``outreach/control.py``). One scheduler across processes: the lease ``outreach:scheduler``, short and renewed
on every tick (``HEARTBEAT_S``); released on a graceful stop, so a restarted bot resumes within seconds.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.messages import utcnow
from bot.storage.leases import HEARTBEAT_S, SHORT_TTL_S
from outreach import control
from outreach.dispatch import install

log = logging.getLogger(__name__)

LEASE = "outreach:scheduler"


async def _due(runtime, out, running: dict) -> list[tuple]:
    """(campaign, run id) to launch here: due occurrences not finished, and running runs nobody feeds."""
    now = utcnow()
    leases = runtime.stores.leases
    due = []
    for c in await out.campaigns.all():
        runs = await out.campaigns.runs(c.name)
        wanted = []
        occ = c.occurrence(now)
        if occ is not None and (runs.get(occ) or {}).get("status") not in ("done", "partial", *control.STOPPED):
            wanted.append(occ)
        wanted += [rid for rid, st in runs.items() if st.get("status") == "running" and rid not in wanted]
        for run_id in wanted:
            if run_id in running or control.is_running_here(runtime, run_id):
                continue
            if await leases.held_elsewhere(control.run_lease(run_id)):
                continue
            due.append((c, run_id))
    return due


async def tick(runtime, running: dict) -> list[str]:
    out = install(runtime)
    if not getattr(out, "_scheduler_indexed", False):
        await out.ensure_indexes()
        out._scheduler_indexed = True
    if not await runtime.stores.leases.acquire(LEASE, ttl_s=SHORT_TTL_S):
        return []
    started = []
    for c, run_id in await _due(runtime, out, running):
        log.info("outreach: starting campaign run %s", run_id)
        task = control.launch(runtime, c, run_id)
        running[run_id] = task
        task.add_done_callback(lambda t, r=run_id: running.pop(r, None))
        started.append(run_id)
    return started


async def scheduler_loop(runtime, interval_s: float = 30.0, stopping: asyncio.Event | None = None) -> None:
    """Tick every ``min(interval_s, HEARTBEAT_S)`` (the tick renews the lease) until ``stopping`` is set
    (``outreach.stop``; cancellation also ends it); the lease is released on the way out."""
    stopping = stopping or asyncio.Event()
    out = install(runtime)
    try:
        await out.ensure_indexes()
        await out.campaigns.sync_files(out.codes)
    except Exception as exc:
        log.warning("outreach: campaign files not loaded: %s", exc)
    running: dict = {}
    period = min(interval_s, HEARTBEAT_S)
    try:
        while not stopping.is_set():
            try:
                await tick(runtime, running)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database outage or a bad campaign: keep the bot running
                log.warning("outreach scheduler tick failed: %s", exc)
            try:
                await asyncio.wait_for(stopping.wait(), period)
            except asyncio.TimeoutError:
                pass
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(runtime.stores.leases.release(LEASE))
