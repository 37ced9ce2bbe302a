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
    runtime.outreach_stopping = asyncio.Event()
    task = asyncio.create_task(scheduler_loop(runtime, interval_s, stopping=runtime.outreach_stopping))
    runtime.outreach_scheduler = task
    return task


async def stop(runtime) -> None:
    from bot.tasks import stop_task

    await stop_task(getattr(runtime, "outreach_scheduler", None), stopping=getattr(runtime, "outreach_stopping", None),
                    name="outreach scheduler")
