"""Rate limiting per channel account (token bucket) and per chat (minimum gap). One place, used by the
outbox for replies, notifications and campaigns alike."""
from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """``rate`` sends per second on average with bursts up to ``burst``. ``acquire`` waits its turn."""

    def __init__(self, rate: float, burst: float | None = None):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate / 10)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        """Provider said 'too many requests, retry after N': everyone waits."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        self.tokens = 0

    async def acquire(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                if now < self.paused_until:
                    await asyncio.sleep(self.paused_until - now)
                    continue
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


class PerChatGap:
    """At most one message per ``gap_s`` to the same chat (Telegram ~1/s per chat, WhatsApp pair limit)."""

    def __init__(self, gap_s: float):
        self.gap_s = gap_s
        self.next_ok: dict[str, float] = {}

    def wait_for(self, chat: str) -> float:
        return max(0.0, self.next_ok.get(chat, 0.0) - time.monotonic())

    def reserve(self, chat: str) -> float:
        """Reserve the next slot for this chat; returns how long the caller must wait first."""
        now = time.monotonic()
        slot = max(now, self.next_ok.get(chat, 0.0))
        self.next_ok[chat] = slot + self.gap_s
        if len(self.next_ok) > 50_000:  # forget chats whose slot has passed
            self.next_ok = {k: v for k, v in self.next_ok.items() if v > now}
        return slot - now
