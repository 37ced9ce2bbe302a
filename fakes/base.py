"""What every fake provider shares: serving on a loopback port, a throughput window, polling, recorded payloads."""
from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from pathlib import Path

from aiohttp import web

PACKAGE = Path(__file__).resolve().parent


def recorded(provider: str, name: str) -> dict:
    """A recorded payload: ``fakes/<provider>/testdata/<name>.json`` (a fresh copy each call)."""
    return json.loads((PACKAGE / provider / "testdata" / f"{name}.json").read_text(encoding="utf-8"))


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start ``app`` on 127.0.0.1 and a free port; returns the runner (for cleanup) and the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


async def wait_until(pred, timeout: float = 30.0, interval: float = 0.02):
    """Poll ``pred`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        val = pred()
        if asyncio.iscoroutine(val):
            val = await val
        if val:
            return val
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


class Window:
    """Counts events in the last second (for throughput limits)."""

    def __init__(self, limit: float):
        self.limit, self.times = limit, deque()

    def hit(self) -> bool:
        now = time.monotonic()
        while self.times and now - self.times[0] > 1.0:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True
