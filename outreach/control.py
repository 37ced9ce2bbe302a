"""Starting, pausing, resuming and cancelling a campaign run (the back office's buttons; the scheduler too).

A run's state is ``runs.<run id>.status`` on the campaign document: ``running``, ``paused``, ``cancelled``,
``done`` or ``partial``. A run is launched as a supervised task: the :class:`~outreach.dispatch.Dispatcher`
feeds the outbox while a watcher re-reads the status every ``WATCH_S`` seconds, so a pause or cancel made in
any process stops the feeding wherever the run goes on.
- pause: no new messages; those already handed to the outbox (a couple of seconds' worth) still go out.
  Resume continues with the deliveries still pending (never twice to anyone: deliveries are per contact).
- cancel: the pending deliveries become ``skipped: cancelled`` and the run's queued messages
  ``failed: cancelled``; a cancelled run is not resumed, by hand or by the scheduler.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.messages import utcnow
from bot.storage.leases import SHORT_TTL_S
from outreach.campaigns import Campaign
from outreach.dispatch import Dispatcher, install

log = logging.getLogger(__name__)

WATCH_S = 1.0
STOPPED = ("paused", "cancelled")


class RunError(Exception):
    """Why a run cannot be started or changed: ``code`` is a short key the console translates."""

    def __init__(self, code: str, detail: list[str] | None = None):
        super().__init__(code)
        self.code, self.detail = code, detail or []


def tasks(runtime) -> dict[str, asyncio.Task]:
    """Run id -> supervising task, for the runs this process feeds."""
    reg = getattr(runtime, "campaign_runs", None)
    if reg is None:
        reg = runtime.campaign_runs = {}

        async def _stop_runs():
            for t in list(reg.values()):
                t.cancel()
            await asyncio.gather(*reg.values(), return_exceptions=True)

        runtime.stop_hooks.append(_stop_runs)
    return reg


def is_running_here(runtime, run_id: str) -> bool:
    t = tasks(runtime).get(run_id)
    return t is not None and not t.done()


def latest_run(runs: dict) -> tuple[str | None, dict]:
    """The most recently started run of a campaign: (run id, its state) or (None, {})."""
    if not runs:
        return None, {}
    rid = max(runs, key=lambda k: str(runs[k].get("started_at") or runs[k].get("created_at") or ""))
    return rid, runs[rid]


def launch(runtime, campaign: Campaign, run_id: str, *, poll_s: float = 0.2) -> asyncio.Task:
    """Start feeding ``run_id`` in this process (idempotent while it runs here)."""
    reg = tasks(runtime)
    if is_running_here(runtime, run_id):
        return reg[run_id]
    task = asyncio.create_task(_supervise(runtime, campaign, run_id, poll_s))
    reg[run_id] = task
    task.add_done_callback(lambda t: reg.pop(run_id, None) if reg.get(run_id) is t else None)
    return task


def run_lease(run_id: str) -> str:
    """The lease of the process feeding a run (heartbeat every ``WATCH_S``; lapses ``SHORT_TTL_S`` after a kill)."""
    return f"run:{run_id}"


async def _supervise(runtime, campaign: Campaign, run_id: str, poll_s: float) -> str:
    out = install(runtime)
    leases = runtime.stores.leases
    if not await leases.acquire(run_lease(run_id), ttl_s=SHORT_TTL_S):
        return "elsewhere"  # another live process feeds this run
    feeding = asyncio.create_task(Dispatcher(runtime, campaign, run_id, poll_s=poll_s).run())
    try:
        while True:
            done, _ = await asyncio.wait({feeding}, timeout=WATCH_S)
            with contextlib.suppress(Exception):  # heartbeat; a database hiccup is retried next round
                await leases.acquire(run_lease(run_id), ttl_s=SHORT_TTL_S)
            if done:
                feeding.result()
                return "finished"
            status = ((await out.campaigns.runs(campaign.name)).get(run_id) or {}).get("status")
            if status in STOPPED:
                feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeding
                if status == "cancelled":
                    await drop_pending(runtime, run_id)  # what the feeder queued since the cancel
                return status
    except asyncio.CancelledError:
        feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeding
        raise
    except Exception:
        log.exception("campaign run %s stopped with an error", run_id)
        return "error"
    finally:
        with contextlib.suppress(Exception):  # given up at once, so a restarted bot resumes the run now
            await asyncio.shield(leases.release(run_lease(run_id)))


async def _set_status(runtime, name: str, run_id: str, status: str, only_from: tuple[str, ...]) -> bool:
    """Compare-and-set of a run's status; False when it was not in ``only_from``."""
    out = install(runtime)
    return await out.campaigns.set_run_status(name, run_id, status, list(only_from))


async def start(runtime, campaign: Campaign, run_id: str | None = None) -> str:
    """Check like ``laporbot campaign run`` (template errors, a configured channel), then launch."""
    from outreach.preview import preview

    run_id = run_id or campaign.occurrence() or campaign.name
    runs = await install(runtime).campaigns.runs(campaign.name)
    state = (runs.get(run_id) or {}).get("status")
    if is_running_here(runtime, run_id) or state == "running":
        raise RunError("already_running")
    if state == "cancelled":
        raise RunError("cancelled")
    if state == "paused":
        raise RunError("paused")
    p = await preview(runtime, campaign)
    if p["errors"]:
        raise RunError("template_errors", p["errors"])
    if not Dispatcher(runtime, campaign, run_id).channels():
        raise RunError("no_channel")
    # running from now on (the dispatcher first creates the deliveries, which takes a moment): a page read
    # right after the start already shows it, and a pause at once is possible
    await install(runtime).campaigns.mark_run(run_id, status="running", started_at=utcnow())
    launch(runtime, campaign, run_id)
    return run_id


async def pause(runtime, name: str, run_id: str) -> None:
    if not await _set_status(runtime, name, run_id, "paused", ("running",)):
        raise RunError("not_running")
    await _stop_here(runtime, run_id)


async def resume(runtime, campaign: Campaign, run_id: str) -> None:
    if not Dispatcher(runtime, campaign, run_id).channels():
        raise RunError("no_channel")
    if not await _set_status(runtime, campaign.name, run_id, "running", ("paused",)):
        raise RunError("not_paused")
    launch(runtime, campaign, run_id)


async def cancel(runtime, name: str, run_id: str) -> dict:
    if not await _set_status(runtime, name, run_id, "cancelled", ("running", "paused")):
        raise RunError("not_running")
    await _stop_here(runtime, run_id)
    return await drop_pending(runtime, run_id)


async def _stop_here(runtime, run_id: str) -> None:
    from bot.tasks import stop_task

    await stop_task(tasks(runtime).get(run_id), name=f"campaign run {run_id}")


async def drop_pending(runtime, run_id: str) -> dict:
    """A cancelled run sends nothing more: pending deliveries skipped, queued messages failed."""
    out = install(runtime)
    now = utcnow()
    d = await out.deliveries.skip_pending_of_run(run_id, "cancelled", now)
    m = await runtime.stores.messages.fail_queued_of_campaign(run_id, "cancelled", now)
    return {"deliveries": d, "messages": m}
