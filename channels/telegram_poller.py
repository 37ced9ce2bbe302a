"""One Telegram poller among several bot processes: ``getUpdates`` under a lease, with failover.

Telegram allows one ``getUpdates`` consumer per bot (a second one gets 409 Conflict). Every process in polling
mode runs this loop: it takes or renews the lease ``telegram:poller`` every ``RENEW_S`` (held ``TTL_S``); the
holder polls, the others wait. When the holder stops it releases the lease; when it is killed the lease expires
and the next process to try takes it over within ``TTL_S + RENEW_S``. A holder that cannot renew (database
unreachable) stops polling, so two processes never poll at once for longer than one lease period.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

LEASE = "telegram:poller"
TTL_S = 15.0
RENEW_S = 3.0


class PollerLease:
    def __init__(self, channel, start_polling, stop_polling, *, ttl_s: float = TTL_S, renew_s: float = RENEW_S):
        self.channel = channel
        self.leases = channel.runtime.stores.leases
        self._start, self._stop = start_polling, stop_polling
        self.ttl_s, self.renew_s = ttl_s, renew_s
        self.polling = False
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                held = await self.leases.acquire(LEASE, ttl_s=self.ttl_s)
            except Exception as exc:  # cannot tell: stop polling rather than risk two pollers
                log.warning("telegram poller lease check failed: %s", type(exc).__name__)
                held = False
            if held and not self.polling:
                await self._start()
                self.polling = True
                log.info("telegram: this process polls (lease %s)", LEASE)
            elif not held and self.polling:
                await self._stop()
                self.polling = False
                log.info("telegram: lease lost; another process polls")
            await asyncio.sleep(self.renew_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.polling:
            try:
                await self._stop()
            finally:
                self.polling = False
        try:
            await self.leases.release(LEASE)
        except Exception:
            pass
