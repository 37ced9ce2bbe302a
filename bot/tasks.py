"""Background tasks: run a job periodically (``run_every``), and stop tasks bounded, robust to a lost cancellation.

A single ``task.cancel()`` followed by ``await task`` can wait forever: if the cancellation arrives while the
task is inside a library call that absorbs it, the task goes on to its next ``sleep`` with the request spent
(the outreach scheduler did exactly this, and ``Runtime.stop`` hung). So: ask cooperatively first (the task's
stop event), then cancel again and again until it ends or the time is up.
"""
from __future__ import annotations

import asyncio
import logging

from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


async def stop_task(task: asyncio.Task | None, *, stopping: asyncio.Event | None = None, timeout_s: float = 10.0,
                    name: str = "background task") -> bool:
    """Make ``task`` end within ``timeout_s``; True if it did (a warning names it otherwise)."""
    if task is None or task.done():
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    if stopping is not None:
        stopping.set()
        await asyncio.wait({task}, timeout=timeout_s / 2)
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=min(0.5, max(0.0, deadline - loop.time())))
    if not task.done():
        log.warning("%s did not stop within %.0f s; left behind", name, timeout_s)
        return False
    if not task.cancelled() and task.exception() is not None:
        log.warning("%s ended with %s", name, type(task.exception()).__name__)
    return True


async def run_every(interval_s: float, job, name: str) -> None:
    """Run ``await job()`` every ``interval_s`` until cancelled; a database outage is one warning line, any
    other failure is logged with its traceback, and the loop goes on."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except PyMongoError as exc:
            log.warning("%s: database unavailable (%s)", name, type(exc).__name__)
        except Exception:
            log.exception("%s failed", name)
