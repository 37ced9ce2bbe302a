"""Outreach: campaign sign-ups, campaigns, dispatch through the shared outbox, results.

Hooks for the runtime:
- ``register(runtime)``: subscribe/unsubscribe handlers in the dialogue's registry + send-time guards on the outbox
  senders. Call after the channels' senders are registered.
- ``start(runtime)``: ``register`` + the scheduler task (runs due campaigns; one scheduler across processes
  via the lease ``outreach:scheduler``). Returns the task; ``stop(runtime)`` cancels it.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


def register(runtime):
    from outreach.dispatch import install

    return install(runtime)


def start(runtime, interval_s: float = 30.0) -> asyncio.Task:
    from outreach.scheduler import scheduler_loop

    register(runtime)
    task = asyncio.create_task(scheduler_loop(runtime, interval_s))
    runtime.outreach_scheduler = task
    return task


async def stop(runtime) -> None:
    task = getattr(runtime, "outreach_scheduler", None)
    if task:
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
