"""Outbox: every outbound message is stored as ``queued`` first, then sent by its channel's sender.

One dispatcher per channel in this process:
- a priority queue in memory (replies 0 < notifications 5 < campaigns 9), fed right after a turn
  (fast path) and by a sweeper that picks up due messages from MongoDB (retries, other processes,
  restarts) while this process holds the channel's lease;
- rate limits in one place: a token bucket per channel account and a minimum gap per chat;
- retries with back-off for transient errors (timeouts, 5xx, 429); ``blocked`` marks the contact
  unreachable; a message is claimed before the provider call and never claimed twice.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass
from typing import Protocol

from bot.messages import OutboundMessage
from bot.ratelimit import PerChatGap, TokenBucket

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


@dataclass
class SendResult:
    status: str  # sent | retry | failed | blocked
    provider_id: str | None = None
    error: str | None = None
    retry_after: float | None = None


class Sender(Protocol):
    """A channel's way out. ``send`` receives the stored message document (see MessageStore.outbound_doc)."""

    channel: str
    rate_per_s: float
    per_chat_gap_s: float

    async def send(self, doc: dict) -> SendResult: ...


def mask_user(user_id: str | None) -> str:
    """Logs never carry full phone numbers or chat ids: keep the last 3 characters."""
    if not user_id:
        return "-"
    return "*" * max(0, len(user_id) - 3) + user_id[-3:]


class _ChannelWorker:
    def __init__(self, outbox: "Outbox", sender: Sender, concurrency: int = 64):
        self.outbox, self.sender = outbox, sender
        self.bucket = TokenBucket(sender.rate_per_s, burst=max(1.0, sender.rate_per_s / 10))
        self.gap = PerChatGap(sender.per_chat_gap_s)
        self.queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self.pending: set = set()  # ids in memory or in flight, so the sweeper does not add them twice
        self.sem = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task] = set()
        self.loop_task: asyncio.Task | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        self.stats = {"sent": 0, "retry": 0, "failed": 0, "blocked": 0, "rate_limited": 0}
        self.last_by_chat: dict[str, asyncio.Task] = {}  # keeps messages to one chat in queue order

    def push(self, priority: int, message_id, chat: str | None = None) -> None:
        if message_id in self.pending:
            return
        self.pending.add(message_id)
        self.idle.clear()
        self.queue.put_nowait((priority, next(self.outbox._seq), message_id, chat))

    async def run(self) -> None:
        while True:
            _prio, _seq, mid, chat = await self.queue.get()
            await self.sem.acquire()
            prev = self.last_by_chat.get(chat) if chat else None
            task = asyncio.create_task(self._deliver(mid, prev))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            if chat:
                self.last_by_chat[chat] = task
                task.add_done_callback(
                    lambda t, c=chat: self.last_by_chat.pop(c, None) if self.last_by_chat.get(c) is t else None)

    async def _deliver(self, mid, prev: asyncio.Task | None = None) -> None:
        store = self.outbox.stores.messages
        try:
            if prev is not None and not prev.done():  # claims run concurrently; sends to one chat do not
                await asyncio.wait([prev])
            doc = await store.claim(mid)
            if doc is None:  # already claimed by someone else, or no longer queued
                return
            wait = self.gap.reserve(doc.get("user_id") or "")
            if wait > 0:
                await asyncio.sleep(wait)
            await self.bucket.acquire()
            try:
                result = await self.sender.send(doc)
            except Exception as exc:  # a sender bug or network error must not kill the dispatcher
                log.warning("send error on %s to %s: %s", self.sender.channel, mask_user(doc.get("user_id")),
                            type(exc).__name__)
                result = SendResult("retry", error=type(exc).__name__)
            await self._record(doc, result)
        except Exception:
            log.exception("outbox delivery crashed for message %s", mid)
        finally:
            self.pending.discard(mid)
            self.sem.release()
            if not self.pending:
                self.idle.set()

    async def _record(self, doc: dict, result: SendResult) -> None:
        store = self.outbox.stores.messages
        self.stats[result.status] = self.stats.get(result.status, 0) + 1
        if result.status == "sent":
            await store.mark_sent(doc["_id"], result.provider_id)
        elif result.status == "retry" and doc.get("attempts", 1) < MAX_ATTEMPTS:
            if result.retry_after:
                self.stats["rate_limited"] += 1
                self.bucket.pause(result.retry_after)
            delay = result.retry_after or min(60.0, 0.5 * 2 ** doc.get("attempts", 1))
            await store.requeue(doc["_id"], delay, result.error or "retry")
            asyncio.get_running_loop().call_later(delay, self.push, doc.get("priority", 0), doc["_id"],
                                                  doc.get("user_id"))
        elif result.status == "blocked":
            await store.mark_failed(doc["_id"], "blocked", result.error)
            if doc.get("contact_id") is not None:
                await self.outbox.stores.contacts.mark_unreachable(doc["contact_id"], result.error or "blocked")
        else:
            await store.mark_failed(doc["_id"], result.error or "failed", result.error)
        for hook in self.outbox.after_send:
            await hook(doc, result)


class Outbox:
    def __init__(self, stores, sweep_interval_s: float = 2.0):
        self.stores = stores
        self.workers: dict[str, _ChannelWorker] = {}
        self.sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task | None = None
        self._seq = itertools.count()
        self.after_send: list = []  # async hooks (doc, SendResult) e.g. campaign delivery bookkeeping

    def register(self, sender: Sender) -> None:
        self.workers[sender.channel] = _ChannelWorker(self, sender)

    def has_sender(self, channel: str) -> bool:
        return channel in self.workers

    async def start(self) -> None:
        for w in self.workers.values():
            if w.loop_task is None:
                w.loop_task = asyncio.create_task(w.run())
        if self._sweeper is None and self.sweep_interval_s > 0:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        for w in self.workers.values():
            if w.loop_task:
                w.loop_task.cancel()
            for t in list(w.tasks):
                t.cancel()
        if self._sweeper:
            self._sweeper.cancel()
        self._sweeper = None

    async def enqueue(self, msgs: list[OutboundMessage], *, already_sent: bool = False) -> list[dict]:
        """Store messages; ``already_sent`` for replies a channel delivers itself (console, TwiML, web chat)."""
        if not msgs:
            return []
        docs = await self.stores.messages.queue(msgs, status="sent" if already_sent else "queued")
        if not already_sent:
            for d in docs:
                w = self.workers.get(d["channel"])
                if w:
                    w.push(d["priority"], d["_id"], d.get("user_id"))
        return docs

    async def sweep_once(self) -> int:
        """Pick up due queued messages of every channel whose dispatcher lease this process holds."""
        await self.stores.messages.expire_leases()
        n = 0
        for channel, w in self.workers.items():
            if not await self.stores.leases.acquire(f"dispatch:{channel}", ttl_s=max(10, 5 * self.sweep_interval_s)):
                continue
            for d in await self.stores.messages.due(channel, limit=500):
                if d["_id"] not in w.pending:
                    w.push(d.get("priority", 0), d["_id"], d.get("user_id"))
                    n += 1
        return n

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception as exc:  # database outage: keep trying, do not die
                log.warning("outbox sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(self.sweep_interval_s)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing is pending in memory (tests, CLI commands that exit afterwards)."""
        async def _all_idle():
            while any(not w.idle.is_set() for w in self.workers.values()):
                await asyncio.gather(*(w.idle.wait() for w in self.workers.values()))
        await asyncio.wait_for(_all_idle(), timeout_s)

    def stats(self) -> dict:
        return {ch: dict(w.stats) for ch, w in self.workers.items()}
