"""A killed bot process on the same machine is known dead at once (its pid is gone), not only when its heartbeat
runs out: its share of the send rate comes back and its leases can be taken over right after a restart."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import timedelta

from bot.messages import utcnow
from bot.storage import rate_shares
from bot.storage.rate_shares import PLACE, RateShares, dead_owners, is_dead


class _Limiter:
    def __init__(self):
        self.rate = None

    def resize(self, rate):
        self.rate = rate


class _Worker:
    def __init__(self, rate):
        self.sender = type("S", (), {"rate_per_s": rate})()
        self.limiter = _Limiter()


async def _heartbeat_of(db, proc: subprocess.Popen, tag: str) -> str:
    """A fresh (unexpired) heartbeat document for ``proc``, as that process would have written it."""
    state = rate_shares._stat(proc.pid)
    assert state is not None
    owner = f"host:{proc.pid}:{tag}"
    await db["processes"].insert_one({"_id": owner, "until": utcnow() + timedelta(seconds=60), "place": PLACE,
                                      "started": state[1]})
    return owner


async def test_a_killed_process_is_dead_at_once_and_a_live_one_is_not(stores):
    db = stores.db
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    doomed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live_id = await _heartbeat_of(db, live, "live")
        doomed_id = await _heartbeat_of(db, doomed, "doomed")
        shares = RateShares(db)
        worker = _Worker(30)
        assert await shares.beat({"telegram": worker}) == 3  # this process and both others
        assert worker.limiter.rate == 10
        assert not await is_dead(db, doomed_id)

        doomed.kill()
        await asyncio.to_thread(doomed.wait)
        # heartbeat still 60 s from running out, yet the process is gone: dead now
        assert await is_dead(db, doomed_id)
        assert doomed_id in await dead_owners(db)
        assert live_id not in await dead_owners(db)
        assert not await is_dead(db, live_id)
        assert await shares.beat({"telegram": worker}) == 2
        assert worker.limiter.rate == 15
        assert doomed_id in shares.dead and live_id not in shares.dead
    finally:
        for p in (live, doomed):
            p.kill()
            p.wait()


async def test_a_heartbeat_from_elsewhere_waits_for_its_ttl(stores):
    """Another machine's (or container's) pid means nothing here: only the heartbeat's expiry counts."""
    db = stores.db
    owner = "other-host:1:abc"
    await db["processes"].insert_one({"_id": owner, "until": utcnow() + timedelta(seconds=60),
                                      "place": "another-boot:123", "started": "1"})
    assert not await is_dead(db, owner)
    await db["processes"].update_one({"_id": owner}, {"$set": {"until": utcnow() - timedelta(seconds=1)}})
    assert await is_dead(db, owner)
