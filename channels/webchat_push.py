"""Web chat pushes across bot processes: a message sent by one process reaches the visitor's socket on another.

Whichever process sends a web chat message (the outbox of the process that queued it, or the dispatcher's
sweep) pushes it to the sockets it holds itself and records who did in the message's ``provider_id``:
``webchat:<visitor>:<message id>:<process id>``, or ``…:stored`` when it held no socket of that visitor. Every
process that holds at least one web chat socket watches those updates on ``messages`` with a change stream (the
driver's standard ``watch``; the embedded database and a MongoDB replica set have them) and pushes the messages
another process sent to its own sockets of that visitor: the socket holder reads the message (one ``find_one``),
nobody else does. The stream runs only while this process holds sockets, and resumes after a database hiccup
from its last event. A MongoDB without change streams (a standalone server) is logged once; pushes then stay
within the process that sent, and the messages appear with the history on the next visit, as before.
"""
from __future__ import annotations

import asyncio
import logging

from pymongo.errors import OperationFailure, PyMongoError

from bot.storage.leases import PROCESS_ID

log = logging.getLogger(__name__)

PREFIX = "webchat:"
STORED = "stored"  # nobody held a socket when it was sent
PIPELINE = [{"$match": {"operationType": "update",
                        "updateDescription.updatedFields.provider_id": {"$regex": "^webchat:"}}}]
NO_STREAMS = (40573, 40324, 115)  # not a replica set / unknown stage / not supported


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
    """The change stream of one process's web chat channel (``chan``: its ``sockets`` and ``push``)."""

    def __init__(self, chan, retry_s: float = 1.0):
        self.chan = chan
        self.col = chan.runtime.stores.db["messages"]
        self.retry_s = retry_s
        self.task: asyncio.Task | None = None
        self.open = asyncio.Event()
        self.unavailable = False
        self.pushed = 0

    async def ensure(self, timeout_s: float = 5.0) -> None:
        """Start the stream if needed and wait (bounded) until it is open, so nothing sent after this is missed."""
        if self.unavailable:
            return
        if self.task is None or self.task.done():
            self.open.clear()
            self.task = asyncio.create_task(self._run())
        try:
            await asyncio.wait_for(asyncio.shield(self.open.wait()), timeout_s)
        except asyncio.TimeoutError:
            log.warning("webchat: change stream not open after %.0f s; pushes from other processes may wait",
                        timeout_s)

    async def idle(self) -> None:
        """No socket left in this process: stop watching."""
        await self.stop()

    async def stop(self) -> None:
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        token = None
        while True:
            try:
                async with await self.col.watch(PIPELINE, resume_after=token, max_await_time_ms=1000) as stream:
                    self.open.set()
                    while True:
                        event = await stream.try_next()
                        token = stream.resume_token or token
                        if event is not None:
                            await self._on(event)
            except OperationFailure as exc:
                if exc.code in NO_STREAMS:
                    self.unavailable = True
                    self.open.set()
                    log.warning("webchat: the database has no change streams (%s); pushes stay within the "
                                "process that sends", exc.code)
                    return
                log.warning("webchat change stream failed (%s); reopening", exc.code)
                token = None  # the resume point may be gone
            except PyMongoError as exc:
                log.warning("webchat change stream interrupted (%s); resuming", type(exc).__name__)
            except Exception:
                log.exception("webchat change stream handler failed; reopening")
            await asyncio.sleep(self.retry_s)

    async def _on(self, event: dict) -> None:
        fields = (event.get("updateDescription") or {}).get("updatedFields") or {}
        who = parse(fields.get("provider_id"))
        if who is None:
            return
        visitor, pushed_by = who
        if pushed_by == PROCESS_ID or visitor not in self.chan.sockets:
            return  # pushed here already, or not a visitor of this process
        doc = await self.col.find_one({"_id": event["documentKey"]["_id"]},
                                      {"text": 1, "choices": 1, "request_location": 1, "kind": 1})
        if doc is not None and await self.chan.push(visitor, self.chan.doc_frame(doc)):
            self.pushed += 1
