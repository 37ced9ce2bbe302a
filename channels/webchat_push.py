"""Web chat pushes across bot processes: a message sent by one process reaches the visitor's socket on another.

Whichever process sends a web chat message (the outbox of the process that queued it, or the dispatcher's
sweep) pushes it to the sockets it holds itself and records who did in the message's ``provider_id``:
``webchat:<visitor>:<message id>:<process id>``, or ``…:stored`` when it held no socket of that visitor.
A process that holds web chat sockets while other bot processes are live (their heartbeats) polls every
``POLL_S`` for the messages of its connected visitors that another process sent since they connected, and
pushes them: one ``find`` on the ``{contact_id, created_at}`` index per poll, whatever the traffic. One process
alone polls nothing (its sender reaches its own sockets).

Why not change streams: the embedded database supports them through the driver's standard ``watch``, but
measured on it, two open streams tripled the database CPU of every update on ``messages`` (0.61 -> 1.93 ms);
the poll costs the same at any message rate, about one small read per second per process holding sockets.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from pymongo.errors import PyMongoError

from bot.messages import utcnow
from bot.storage.leases import PROCESS_ID

log = logging.getLogger(__name__)

PREFIX = "webchat:"
STORED = "stored"  # nobody held a socket when it was sent
POLL_S = 1.0
WINDOW_S = 600.0  # messages created this long ago at most are looked at (web chat sends at once)


def provider_id(visitor: str, message_id, pushed: bool) -> str:
    """What a send records: the visitor, the message and who pushed it (this process, or nobody)."""
    return f"{PREFIX}{visitor}:{message_id}:{PROCESS_ID if pushed else STORED}"


def parse(pid: str) -> tuple[str, str] | None:
    """(visitor, pushed by) of a web chat provider id; None for another shape."""
    if not isinstance(pid, str) or not pid.startswith(PREFIX):
        return None
    parts = pid[len(PREFIX):].split(":", 2)
    return (parts[0], parts[2]) if len(parts) == 3 else None


class CrossProcessPush:
    """The poller of one process's web chat channel (``chan``: its ``sockets``, ``push`` and ``doc_frame``)."""

    def __init__(self, chan, poll_s: float = POLL_S):
        self.chan = chan
        self.runtime = chan.runtime
        self.poll_s = poll_s
        self.visitors: dict[str, dict] = {}  # visitor -> {"since": connected at, "contact_id": id or None}
        self.seen: dict = {}  # message id -> when pushed here (kept for the window)
        self.task: asyncio.Task | None = None
        self.pushed = 0

    def connected(self, visitor: str, contact_id=None) -> None:
        """A socket of ``visitor`` opened (``contact_id`` when known already); starts the poller if needed."""
        entry = self.visitors.setdefault(visitor, {"since": utcnow(), "contact_id": None})
        entry["contact_id"] = entry["contact_id"] or contact_id
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._run())

    def known(self, visitor: str, contact_id) -> None:
        """The visitor's contact, once it exists (after their first message)."""
        if visitor in self.visitors and contact_id is not None:
            self.visitors[visitor]["contact_id"] = contact_id

    def gone(self, visitor: str) -> None:
        """The visitor's last socket in this process closed."""
        self.visitors.pop(visitor, None)

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _alone(self) -> bool:
        shares = getattr(self.runtime.outbox, "shares", None)
        return shares is None or shares.peers <= 1

    async def _run(self) -> None:
        while self.visitors:
            await asyncio.sleep(self.poll_s)
            if self._alone():
                continue
            try:
                await self.poll_once()
            except PyMongoError as exc:
                log.warning("webchat push poll: database unavailable (%s)", type(exc).__name__)
            except Exception:
                log.exception("webchat push poll failed")

    async def poll_once(self) -> int:
        """Push to this process's sockets what other processes sent to its visitors; returns how many."""
        by_contact = {v["contact_id"]: (visitor, v["since"]) for visitor, v in self.visitors.items()
                      if v["contact_id"] is not None}
        if not by_contact:
            return 0
        now = utcnow()
        for mid, at in list(self.seen.items()):
            if (now - at).total_seconds() > WINDOW_S:
                del self.seen[mid]
        docs = await self.runtime.stores.messages.outbound_since(list(by_contact), now - timedelta(seconds=WINDOW_S))
        n = 0
        for doc in docs:
            who = parse(doc.get("provider_id"))
            visitor, since = by_contact[doc["contact_id"]]
            if who is None or who[1] == PROCESS_ID or doc["_id"] in self.seen:
                continue  # not sent yet, sent inline or pushed here, or already pushed by this poller
            if doc.get("sent_at") is None or doc["sent_at"] < since:
                continue  # before the socket opened: it came with the history
            self.seen[doc["_id"]] = now
            if visitor in self.chan.sockets and await self.chan.push(visitor, self.chan.doc_frame(doc)):
                n += 1
        self.pushed += n
        return n
