"""rate_shares: a provider's per-account send cap split between the bot processes that share the account.

Each process sending on a channel account keeps a heartbeat document in ``processes`` (renewed on every outbox
sweep, expiring ``TTL_S`` after the last one) and sizes its own one-second window limiter to
``cap / live processes``. The sum of the processes' windows never exceeds the provider's cap, without a database
round-trip per send. A process that stops ends its heartbeat (sets it expired), so the others take its share on their
next sweep; a killed process's share comes back once its heartbeat expires. A process that has not yet seen the
others (the first seconds after start) may use more than its share until its next sweep.

The same heartbeats say which processes are known dead (``dead_owners``): a heartbeat that exists but expired
belongs to a killed process, whose leases (inbox entries, inbound turns, claimed sends, all stamped with the
owner's ``PROCESS_ID``) others may take over at once instead of waiting for them to run out. A gracefully
stopped process ends its heartbeat the same way once it has finished what it could. A process without a heartbeat
document (not yet beating, or a command that never sends) is not known dead: its leases simply run out.

On one machine a killed process is known dead at once, without waiting for ``TTL_S``: each heartbeat carries
where its process runs (``PLACE``: boot id and pid namespace) and when it started; a heartbeat from this same
place whose process is gone (no ``/proc/<pid>``, a zombie, or another process that reused the pid) counts as
expired. So a restarted bot does not share the cap with its dead predecessor for the first seconds.
"""
from __future__ import annotations

import os
from datetime import timedelta

from bot.messages import utcnow
from bot.storage.leases import PROCESS_ID

TTL_S = 10.0
REMEMBER_DEAD_S = 3600.0  # an expired heartbeat counts as a dead process this long (then it is only unknown)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None when it does not exist."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    fields = raw[raw.rfind(")") + 2:].split()  # after "pid (comm) ": state is field 3, start time field 22
    return fields[0], fields[19]


def _place() -> str | None:
    """This machine boot and pid namespace: pids are comparable only between processes of the same place."""
    boot = _read("/proc/sys/kernel/random/boot_id")
    try:
        ns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return None
    return f"{boot.strip()}:{ns}" if boot else None


PLACE = _place()
_me = _stat(os.getpid())
STARTED = _me[1] if _me else None


def gone(doc: dict) -> bool:
    """The heartbeat's process ran in this place and no longer exists (killed, or its pid reused since)."""
    if PLACE is None or doc.get("place") != PLACE or not doc.get("started"):
        return False
    try:
        pid = int(str(doc["_id"]).split(":")[1])
    except (IndexError, ValueError):
        return False
    now = _stat(pid)
    return now is None or now[0] == "Z" or now[1] != doc["started"]


def _expired(doc: dict, now) -> bool:
    return doc["until"] < now or gone(doc)


async def dead_owners(db) -> list[str]:
    """Process ids whose heartbeat expired (killed processes), from the last ``REMEMBER_DEAD_S``."""
    now = utcnow()
    docs = await db["processes"].find({"until": {"$gt": now - timedelta(seconds=REMEMBER_DEAD_S)}},
                                      {"until": 1, "place": 1, "started": 1}).to_list(None)
    # never this process (it may be stopping)
    return [d["_id"] for d in docs if d["_id"] != PROCESS_ID and _expired(d, now)]


async def is_dead(db, owner: str | None) -> bool:
    """``owner``'s heartbeat exists and expired."""
    if not owner or owner == PROCESS_ID:
        return False
    doc = await db["processes"].find_one({"_id": owner}, {"until": 1, "place": 1, "started": 1})
    return doc is not None and _expired(doc, utcnow())


class RateShares:
    def __init__(self, db, owner: str = PROCESS_ID):
        self.col = db["processes"]
        self.owner = owner
        self.peers = 1  # live processes seen at the last beat, this one included
        self.dead: list[str] = []  # processes known dead at the last beat (``dead_owners``)
        self.others: list[str] = []  # the other live processes at the last beat

    async def beat(self, workers: dict) -> int:
        """Renew this process's heartbeat, count the live processes, resize each channel's limiter."""
        now = utcnow()
        await self.col.update_one({"_id": self.owner}, {"$set": {
            "until": now + timedelta(seconds=TTL_S), "channels": sorted(workers), "peers": self.peers,
            "place": PLACE, "started": STARTED}}, upsert=True)
        beats = await self.col.find({"until": {"$gt": now - timedelta(seconds=REMEMBER_DEAD_S)}},
                                    {"until": 1, "place": 1, "started": 1}).to_list(None)
        live = [b for b in beats if b["_id"] == self.owner or not _expired(b, now)]
        self.peers = max(1, len(live))
        self.others = [b["_id"] for b in live if b["_id"] != self.owner]
        self.dead = [b["_id"] for b in beats if b["_id"] != PROCESS_ID and _expired(b, now)]
        for w in workers.values():
            w.limiter.resize(w.sender.rate_per_s / self.peers)
        return self.peers

    async def leave(self) -> None:
        """Stopping: the heartbeat ends now (not deleted: whatever this process still leases is taken over by
        the others at once, as after a kill)."""
        await self.col.update_one({"_id": self.owner}, {"$set": {"until": utcnow() - timedelta(seconds=1)}})
