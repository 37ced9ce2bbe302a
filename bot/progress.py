"""Start-up progress a person can follow: ``[2/5] database … ready (0.4 s)``, with a ticker for long steps."""
from __future__ import annotations

import asyncio
import sys
import time
from typing import Awaitable, TextIO, TypeVar

T = TypeVar("T")
QUIET_S = 0.5


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.stream, self.n = total, stream or sys.stderr, 0

    def line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    async def step(self, label: str, work: Awaitable[T], *, note: str = "", tick_s: float = 15.0,
                   result=lambda value: "ready") -> T:
        """Run one step, printing its start, a line every ``tick_s`` while it runs, and how it ended."""
        self.n += 1
        head = f"[{self.n}/{self.total}] {label}"
        t0 = time.monotonic()
        task = asyncio.ensure_future(work)
        done, _ = await asyncio.wait({task}, timeout=QUIET_S)  # a quick step gets one line, not two
        if not done:
            self.line(f"{head} … {note}".rstrip())
        while not done:
            done, _ = await asyncio.wait({task}, timeout=tick_s)
            if not done:
                self.line(f"{head} … still working ({time.monotonic() - t0:.0f} s)")
        try:
            value = task.result()
        except BaseException:
            self.line(f"{head} … failed after {time.monotonic() - t0:.1f} s")
            raise
        self.line(f"{head} … {result(value)} ({time.monotonic() - t0:.1f} s)")
        return value

    def skip(self, label: str, why: str) -> None:
        self.n += 1
        self.line(f"[{self.n}/{self.total}] {label} … {why}")


class Silent(Progress):
    """Progress for tests and library use: runs the steps, prints nothing."""

    def __init__(self):
        super().__init__(0)

    def line(self, text: str) -> None:
        pass
