"""Outreach: campaign sign-ups, campaigns, dispatch through the shared outbox, results.

Hooks for the runtime's assembly (``bot.app.Runtime``):
- ``register(runtime)``: outreach's stores (``runtime.outreach``), the services the dialogue calls
  (``campaign_codes``) and the outbox's send-time check for campaign messages. Returns the ``Outreach``.
- ``start(runtime)``: the scheduler task (runs due campaigns; one scheduler across processes via the lease
  ``outreach:scheduler``), kept on ``runtime.outreach_scheduler``; ``stop(runtime)`` ends it (its stop event,
  then repeated cancellation, bounded).
"""
from __future__ import annotations

import asyncio
import logging

from outreach.dispatch import Outreach, install

log = logging.getLogger(__name__)


def register(runtime) -> Outreach:
    return install(runtime)


def start(runtime, interval_s: float = 30.0) -> asyncio.Task:
    from outreach.scheduler import scheduler_loop

    runtime.outreach_stopping = asyncio.Event()
    task = asyncio.create_task(scheduler_loop(runtime, interval_s, stopping=runtime.outreach_stopping))
    runtime.outreach_scheduler = task
    return task


async def stop(runtime) -> None:
    from bot.tasks import stop_task

    task, runtime.outreach_scheduler = runtime.outreach_scheduler, None
    await stop_task(task, stopping=runtime.outreach_stopping, name="outreach scheduler")
