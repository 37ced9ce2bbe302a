"""Rate limiting per channel account (a one-second window limiter) and per chat (minimum gap). One place,
used by the outbox for replies, notifications and campaigns alike."""
from __future__ import annotations

import asyncio
import time


class PerChatGap:
    """At most one message per ``gap_s`` to the same chat (Telegram ~1/s per chat, WhatsApp pair limit)."""

    def __init__(self, gap_s: float):
        self.gap_s = gap_s
        self.next_ok: dict[str, float] = {}

    def reserve(self, chat: str) -> float:
        """Reserve the next slot for this chat; returns how long the caller must wait first."""
        now = time.monotonic()
        slot = max(now, self.next_ok.get(chat, 0.0))
        self.next_ok[chat] = slot + self.gap_s
        if len(self.next_ok) > 50_000:  # forget chats whose slot has passed
            self.next_ok = {k: v for k, v in self.next_ok.items() if v > now}
        return slot - now


class WindowLimiter:
    """At most ``rate`` sends in any one second as the provider counts them, granted highest priority first.

    Providers count sends per second strictly (more than N within one second is a 429), so a token bucket with
    a burst can overshoot, and even exact pacing on our side overshoots when requests reach the provider with
    uneven delays (a busy event loop). The provider sees a request at some moment between our grant and the
    response, so this limiter has ``rate`` permits and a permit comes back ``window_s`` after the send it was
    used for *completed* (``release``): grant k+N is always more than a second after the provider saw send k,
    whatever the jitter. Grants are also spaced by ``min_gap_s`` (a little under the average spacing) so sends
    are spread over the second; a stall is caught up without exceeding the window. Waiters are served by
    priority (a citizen reply, priority 0, takes the next slot before queued campaign messages, priority 9),
    then in arrival order. Every ``acquire`` must be followed by one ``release`` once the send is over."""

    def __init__(self, rate: float, margin_s: float = 0.001, spread: float = 0.85):
        import collections
        import itertools

        self.margin_s, self.spread = margin_s, spread
        self.resize(rate)
        self.inflight = 0
        self.released: collections.deque = collections.deque()  # completion times, oldest first
        self.last_grant = float("-inf")
        self.waiters: list = []
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self.paused_until = 0.0

    def resize(self, rate: float) -> None:
        """Change the cap (this process's share of the account's rate, bot/storage/rate_shares.py)."""
        self.rate = rate
        self.limit = max(1, int(rate))
        self.window_s = (1.0 if rate >= 1 else 1.0 / rate) + self.margin_s
        self.min_gap_s = self.spread * self.window_s / self.limit

    def pause(self, seconds: float) -> None:
        """Provider said 'too many requests, retry after N': everyone waits."""
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)
        self._kick()

    def release(self) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.released.append(time.monotonic())
        self._kick()

    def refund(self) -> None:
        """Give back a permit that was granted but not used for a send (the message was claimed elsewhere)."""
        self.inflight = max(0, self.inflight - 1)
        self._kick()

    def _next_slot(self, now: float) -> float | None:
        """When the next grant may happen (in the past when the event loop woke up late: the caller grants at
        once); None: only when an in-flight send completes."""
        while self.released and now - self.released[0] >= self.window_s:
            self.released.popleft()
        # not clamped to ``now``: a grant due while the loop was busy keeps its due time as the spacing
        # reference, so a late timer delays one grant, not every grant after it (clamped, each late wake-up
        # added its lateness to the spacing: 0.6-0.8 of the rate on a busy loop); from idle, ``acquire``
        # starts the spacing at the current time
        t = max(self.paused_until, self.last_grant + self.min_gap_s)
        busy = self.inflight + len(self.released)
        if busy >= self.limit:
            free_from = busy - self.limit  # this many more completions must age out first
            if free_from >= len(self.released):
                return None
            t = max(t, self.released[free_from] + self.window_s)
        return t

    def _kick(self) -> None:
        import heapq

        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self.waiters:
            if self.waiters[0][2].done():  # cancelled waiter: it never takes a permit
                heapq.heappop(self.waiters)
                continue
            now = time.monotonic()
            slot = self._next_slot(now)
            if slot is None:
                return  # a release will kick again
            if slot > now:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_at(loop.time() + (slot - now), self._kick)
                return
            _p, _s, fut = heapq.heappop(self.waiters)
            self.inflight += 1
            # spacing counts from the slot this grant was due, so the event loop's timer lateness does not add
            # up grant after grant (at most one gap is caught up; the permits keep the window safe anyway)
            self.last_grant = max(slot, now - self.min_gap_s)
            fut.set_result(None)

    async def acquire(self, priority: int = 0) -> None:
        import heapq

        fut = asyncio.get_running_loop().create_future()
        if not self.waiters:  # nobody was waiting: spacing starts now (only a late wake-up catches up a gap)
            self.last_grant = max(self.last_grant, time.monotonic() - self.min_gap_s)
        heapq.heappush(self.waiters, (priority, next(self._seq), fut))
        self._kick()
        await fut
