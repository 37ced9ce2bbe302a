"""The scheduler inside ``laporbot run``: every ``interval_s`` runs the campaigns whose schedule is due.

One-off campaigns run once (run id = name); recurring ones once per occurrence (``name#YYYY-MM-DD``). A run
left unfinished by a crash is resumed on the next tick (deliveries and messages are idempotent); a run paused
or cancelled from the back office is left alone (``outreach/control.py``).
"""
from __future__ import annotations

import asyncio
import logging

from bot.messages import utcnow
from outreach import control
from outreach.dispatch import install

log = logging.getLogger(__name__)


async def tick(runtime, running: dict) -> list[str]:
    out = runtime.outreach
    await out.ensure_indexes()
    if not await runtime.stores.leases.acquire("outreach:scheduler", ttl_s=120):
        return []
    started = []
    now = utcnow()
    for c in await out.campaigns.all():
        run_id = c.occurrence(now)
        if run_id is None or run_id in running or control.is_running_here(runtime, run_id):
            continue
        runs = await out.campaigns.runs(c.name)
        if (runs.get(run_id) or {}).get("status") in ("done", *control.STOPPED):
            continue
        log.info("outreach: starting campaign run %s", run_id)
        task = control.launch(runtime, c, run_id)
        running[run_id] = task
        task.add_done_callback(lambda t, r=run_id: running.pop(r, None))
        started.append(run_id)
    return started


async def scheduler_loop(runtime, interval_s: float = 30.0, stopping: asyncio.Event | None = None) -> None:
    """Tick every ``interval_s`` until ``stopping`` is set (``outreach.stop``; cancellation also ends it)."""
    stopping = stopping or asyncio.Event()
    out = install(runtime)
    try:
        await out.ensure_indexes()
        await out.campaigns.sync_files(out.codes)
    except Exception as exc:
        log.warning("outreach: campaign files not loaded: %s", exc)
    running: dict = {}
    while not stopping.is_set():
        try:
            await tick(runtime, running)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # database outage or a bad campaign: keep the bot running
            log.warning("outreach scheduler tick failed: %s", exc)
        try:
            await asyncio.wait_for(stopping.wait(), interval_s)
        except asyncio.TimeoutError:
            pass
