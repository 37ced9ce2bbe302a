"""Outbox: every outbound message is stored as ``queued`` first, then sent by its channel's sender.

One dispatcher per channel in this process:
- a priority queue in memory (replies 0 < notifications 5 < campaigns 9), fed right after a turn
  (fast path) and by a sweeper that picks up due messages from MongoDB (retries, other processes,
  restarts) while this process holds the channel's lease;
- rate limits in one place: a sliding one-second window per channel account (never more than the provider's
  per-second cap, replies first) and a minimum gap per chat;
- campaign traffic (priority 9) is claimed just in time in small batches and its results written in batches;
- retries with back-off for transient errors (timeouts, 5xx) and a pause of the channel when the provider
  throttles; a stopped contact (blocked the bot) is marked unreachable; a message is claimed before the
  provider call and never claimed twice (outcomes: ``bot.sending.Outcome``);
- one send-time check for campaign messages (``set_campaign_check``, registered by outreach): the last word
  on whether, and in which form, a campaign message goes out. Senders are never wrapped.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import math
import os
import time
from collections import deque
from typing import Protocol

from bot.messages import OutboundMessage
from bot.messages import utcnow
from bot.ratelimit import PerChatGap, WindowLimiter
from bot.sending import Outcome, SendResult
from bot.storage.rate_shares import RateShares

__all__ = ["Outbox", "Sender", "SendResult", "Outcome", "SendCheck", "MAX_ATTEMPTS", "mask_user"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# the sweep takes only messages due this long: a fresh one belongs to the process that queued it (and pushed it
# in memory); a sweeper in another process claiming it first could send a turn's second reply before its first
SWEEP_SETTLE_S = 5.0
# a message queued by another live process stays its own this long (it waits there for a rate slot before it is
# claimed); after that the sweep takes it anyway, in case that process lost track of it
LEFT_TO_QUEUER_S = 60.0


class Sender(Protocol):
    """A channel's way out. ``send`` receives the stored message document (see MessageStore.outbound_doc)."""

    channel: str
    rate_per_s: float
    per_chat_gap_s: float

    async def send(self, doc: dict) -> SendResult: ...


class SendCheck(Protocol):
    """The last check before a campaign message (``doc['campaign']`` set) reaches its channel's sender.

    ``before_send`` answers the document to send (possibly changed, e.g. switched to an approved template)
    or a ``SendResult`` that ends the message without a provider call (opted out, outside the window).
    ``prepare`` is offered each claimed batch first, so the check can read what it needs in one query."""

    async def prepare(self, channel: str, docs: list[dict]) -> None: ...

    async def before_send(self, channel: str, doc: dict) -> dict | SendResult: ...


def mask_user(user_id: str | None) -> str:
    """Logs never carry full phone numbers or chat ids: keep the last 3 characters."""
    if not user_id:
        return "-"
    return "*" * max(0, len(user_id) - 3) + user_id[-3:]


BULK_PRIORITY = 9  # campaign traffic and slower: claimed just in time in batches, results recorded in batches


class _BulkTiming:
    """Where the bulk path's time goes (``LAPOR_OUTBOX_TIMING=1``): logged every 5 s per channel."""

    def __init__(self, channel: str):
        self.channel, self.t0 = channel, time.monotonic()
        self.n = self.claims = self.claimed_n = self.starved = 0
        self.claim_s = self.wait_s = self.hold_s = self.hold_max = self.fed_late = 0.0

    def claimed(self, n: int, took: float, starved: bool) -> None:
        self.claims += 1
        self.claimed_n += n
        self.claim_s += took
        self.starved += starved * took
        self._maybe_log()

    def sent(self, waited: float, held: float) -> None:
        self.n += 1
        self.wait_s += waited
        self.hold_s += held
        self.hold_max = max(self.hold_max, held)
        self._maybe_log()

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self.t0 < 5 or not self.n or not self.claims:
            return
        log.info("bulk %s: %.1f/s sent; nothing queued %.2f s; claim %.0f ms avg (%d claims, %.1f per claim, "
                 "starved %.2f s); slot wait %.0f ms avg; permit held %.0f ms avg, %.0f ms max", self.channel,
                 self.n / (now - self.t0), self.fed_late, self.claim_s / self.claims * 1000, self.claims,
                 self.claimed_n / self.claims, self.starved, self.wait_s / self.n * 1000,
                 self.hold_s / self.n * 1000, self.hold_max * 1000)
        self.__init__(self.channel)


class _ChannelWorker:
    """One channel's sender loop.

    Replies and notifications (priority < BULK_PRIORITY) take the individual path: per-chat gap, rate slot,
    claim, send, record — a few round-trips, lowest latency; one chat's messages one after the other, a
    throttled one retried in place before the next. Bulk messages (campaigns) are claimed just in time
    in small batches of about ``claim_ahead_s`` of the channel's rate (one ``update_many`` + one ``find``), and
    the next batch is claimed only when fewer than ``ahead()`` (what the limiter grants during one claim) are
    still waiting for their rate slot, so a killed process loses at most about one batch plus ``ahead()``; the
    send-time check runs before the rate slot, so a permit is held only for the provider call; sent results are
    written with one ``bulk_write`` every ``flush_s`` (or ``flush_n`` results), and the ``after_send`` hooks run
    once the result is stored.
    """

    def __init__(self, outbox: "Outbox", sender: Sender, concurrency: int = 64, claim_ahead_s: float = 0.1,
                 flush_s: float = 0.15, flush_n: int = 64):
        self.outbox, self.sender = outbox, sender
        self.limiter = WindowLimiter(sender.rate_per_s)
        self.gap = PerChatGap(sender.per_chat_gap_s)
        self.queue: asyncio.PriorityQueue = asyncio.PriorityQueue()
        self.pending: set = set()  # ids in memory or in flight, so the sweeper does not add them twice
        self.sem = asyncio.Semaphore(concurrency)
        self.tasks: set[asyncio.Task] = set()
        self.loop_task: asyncio.Task | None = None
        self.bulk_task: asyncio.Task | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        self.stats = {"sent": 0, "retry": 0, "failed": 0, "blocked": 0, "rate_limited": 0}
        self.last_by_chat: dict[str, asyncio.Task] = {}  # keeps messages to one chat in queue order
        self.bulk: deque = deque()  # (priority, id, chat) of bulk messages, in queue order
        self.bulk_ready = asyncio.Event()
        self.batch_n = max(1, min(100, round(sender.rate_per_s * claim_ahead_s)))
        self.claim_s = 0.03  # how long a claim takes (claim_many + the check's prepare), a moving average
        self.unslotted = 0  # claimed bulk messages still waiting for their rate slot
        self.slotted = asyncio.Event()
        self.flush_s, self.flush_n = flush_s, flush_n
        self.sent_buf: list[tuple] = []  # (doc, result, sent_at) not yet written
        self.flush_now = asyncio.Event()
        self.flush_task: asyncio.Task | None = None
        self.unsent: list = []  # claimed, cancelled by a stop before the provider call: unclaimed at stop
        self.fresh: dict = {}  # id -> document this process just queued: its claim needs no read back
        self.timing = _BulkTiming(sender.channel) if os.environ.get("LAPOR_OUTBOX_TIMING") else None

    def ahead(self) -> int:
        """Claimed messages to keep waiting for a rate slot: about what the limiter grants while the next claim
        runs (twice the average claim time), never more than one batch. Fewer claimed ahead, fewer lost when
        the process is killed (they end as 'interrupted', never resent)."""
        return max(1, min(self.batch_n, math.ceil(self.limiter.rate * self.claim_s * 2)))

    def push(self, priority: int, message_id, chat: str | None = None) -> None:
        if message_id in self.pending:
            return
        self.pending.add(message_id)
        self.idle.clear()
        if priority >= BULK_PRIORITY:
            self.bulk.append((priority, message_id, chat))
            self.bulk_ready.set()
        else:
            self.queue.put_nowait((priority, next(self.outbox._seq), message_id, chat))

    def _done(self, mid) -> None:
        self.pending.discard(mid)
        if not self.pending:
            self.idle.set()

    def _spawn(self, coro, chat: str | None) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if chat:
            self.last_by_chat[chat] = task
            task.add_done_callback(
                lambda t, c=chat: self.last_by_chat.pop(c, None) if self.last_by_chat.get(c) is t else None)
        return task

    async def run(self) -> None:
        while True:
            prio, _seq, mid, chat = await self.queue.get()
            await self.sem.acquire()
            prev = self.last_by_chat.get(chat) if chat else None
            self._spawn(self._deliver(mid, prio, prev, chat), chat)

    async def run_bulk(self) -> None:
        store = self.outbox.stores.messages
        while True:
            if not self.bulk:
                self.bulk_ready.clear()
                t_idle = time.monotonic()
                await self.bulk_ready.wait()
                if self.timing:
                    self.timing.fed_late += time.monotonic() - t_idle
                continue
            while self.unslotted >= self.ahead():  # just in time: the previous batch is nearly through
                self.slotted.clear()
                await self.slotted.wait()
            items = [self.bulk.popleft() for _ in range(min(self.batch_n, len(self.bulk)))]
            ids = [mid for _p, mid, _c in items]
            t_claim, starving = time.monotonic(), self.unslotted == 0
            try:
                docs = await store.claim_many(ids)
                check = self.outbox.campaign_check
                if docs and check is not None:
                    await check.prepare(self.sender.channel, [d for d in docs if d.get("campaign")])
                took = time.monotonic() - t_claim
                self.claim_s += 0.2 * (took - self.claim_s)
                if self.timing:
                    self.timing.claimed(len(docs), took, starving and self.unslotted == 0)
            except Exception as exc:  # database outage: the sweeper offers them again later
                log.warning("outbox bulk claim failed on %s: %s", self.sender.channel, type(exc).__name__)
                for mid in ids:
                    self._done(mid)
                await asyncio.sleep(1.0)
                continue
            claimed = {d["_id"] for d in docs}
            for mid in ids:
                if mid not in claimed:  # claimed elsewhere, cancelled, or no longer queued
                    self._done(mid)
            for doc in docs:
                chat = doc.get("user_id")
                prev = self.last_by_chat.get(chat) if chat else None
                self.unslotted += 1
                self._spawn(self._deliver_bulk(doc, prev), chat)

    async def _send(self, doc: dict, checked: bool = False) -> SendResult:
        try:
            check = self.outbox.campaign_check
            if check is not None and doc.get("campaign") and not checked:
                verdict = await check.before_send(self.sender.channel, doc)
                if isinstance(verdict, SendResult):
                    return verdict
                doc = verdict
            return await self.sender.send(doc)
        except Exception as exc:  # a sender bug or network error must not kill the dispatcher
            log.warning("send error on %s to %s: %s", self.sender.channel, mask_user(doc.get("user_id")),
                        type(exc).__name__)
            return SendResult(Outcome.RETRY, error=type(exc).__name__)

    async def _deliver_bulk(self, doc: dict, prev: asyncio.Task | None) -> None:
        slotted = False
        buffered = False
        try:
            if prev is not None and not prev.done():
                await asyncio.wait([prev])
            wait = self.gap.reserve(doc.get("user_id") or "")
            if wait > 0:
                await asyncio.sleep(wait)
            # the send-time check runs before the rate slot: a permit is held only for the provider call
            # (it comes back a second after the call ended, so time spent holding it is rate lost)
            check = self.outbox.campaign_check
            if check is not None and doc.get("campaign"):
                try:
                    verdict = await check.before_send(self.sender.channel, doc)
                except Exception as exc:  # as in ``_send``: a failing check is retried later, never crashes
                    verdict = SendResult(Outcome.RETRY, error=type(exc).__name__)
                if isinstance(verdict, SendResult):
                    slotted = True  # ended without a provider call: nothing to give back at a stop
                    self.unslotted -= 1
                    self.slotted.set()
                    await self._record(doc, verdict)
                    return
                doc = verdict
            t_wait = time.monotonic()
            await self.limiter.acquire(doc.get("priority", BULK_PRIORITY))
            slotted = True
            self.unslotted -= 1
            self.slotted.set()
            t_grant = time.monotonic()
            try:
                result = await self._send(doc, checked=True)
            finally:
                self.limiter.release()
                if self.timing:
                    self.timing.sent(t_grant - t_wait, time.monotonic() - t_grant)
            if result.outcome is Outcome.SENT:
                self._buffer_sent(doc, result)
                buffered = True
            else:
                await self._record(doc, result)
        except asyncio.CancelledError:  # stopping: not yet at the provider -> given back (issue 18)
            if not slotted:
                self.unsent.append(doc["_id"])
            raise
        except Exception:
            log.exception("outbox delivery crashed for message %s", doc.get("_id"))
        finally:
            if not slotted:
                self.unslotted -= 1
                self.slotted.set()
            if not buffered:
                self._done(doc["_id"])

    def _buffer_sent(self, doc: dict, result: SendResult) -> None:
        self.sent_buf.append((doc, result, utcnow()))
        self.stats["sent"] += 1
        if len(self.sent_buf) >= self.flush_n:
            self.flush_now.set()
        if self.flush_task is None:
            self.flush_task = asyncio.create_task(self._flusher())

    async def _flusher(self) -> None:
        try:
            while self.sent_buf:
                try:
                    await asyncio.wait_for(self.flush_now.wait(), self.flush_s)
                except asyncio.TimeoutError:
                    pass
                self.flush_now.clear()
                await self.flush()
        finally:
            self.flush_task = None

    async def flush(self) -> None:
        """Write buffered 'sent' results (one bulk write), then run the after_send hooks for them."""
        buf, self.sent_buf = self.sent_buf, []
        if not buf:
            return
        try:
            await self.outbox.stores.messages.mark_sent_many([(d["_id"], r.provider_id, at) for d, r, at in buf])
        except Exception as exc:  # they stay 'sending' and end as 'interrupted': never sent twice
            log.warning("outbox could not record %d sends on %s: %s", len(buf), self.sender.channel,
                        type(exc).__name__)
        for doc, result, _at in buf:
            try:
                for hook in self.outbox.after_send:
                    await hook(doc, result)
            except Exception:
                log.exception("after_send hook failed for message %s", doc.get("_id"))
            finally:
                self._done(doc["_id"])

    async def _deliver(self, mid, priority: int = 0, prev: asyncio.Task | None = None,
                       chat: str | None = None) -> None:
        store = self.outbox.stores.messages
        try:
            if prev is not None and not prev.done():  # one chat's messages go out one after the other
                await asyncio.wait([prev])
            # The chat gap and the rate slot come before the claim: a message is claimed only when it can be
            # sent at once, so a killed process leaves only its provider calls interrupted; the rest stays
            # queued (``queued_by`` this process, which the other processes' sweeps leave alone while it lives).
            fresh = self.fresh.pop(mid, None)
            while True:
                wait = self.gap.reserve(chat or "")
                if wait > 0:
                    await asyncio.sleep(wait)
                await self.limiter.acquire(priority)
                try:
                    doc = await store.claim(mid, doc=fresh)  # group-committed with other claims
                except BaseException:
                    self.limiter.refund()
                    raise
                if doc is None:  # already claimed by someone else, or no longer queued
                    self.limiter.refund()
                    return
                try:
                    result = await self._send(doc)
                finally:
                    self.limiter.release()
                # a retry waits here, so the chat's next message (waiting for this task) cannot overtake it
                delay = await self._record(doc, result, retry_here=True)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                fresh = None
        except Exception:
            log.exception("outbox delivery crashed for message %s", mid)
        finally:
            self.sem.release()
            self._done(mid)

    async def _record(self, doc: dict, result: SendResult, retry_here: bool = False) -> float | None:
        """Store the outcome. A retry is queued again after a delay; with ``retry_here`` the caller sends it
        again itself after the returned delay (the message stays with this process), else it is pushed then."""
        store = self.outbox.stores.messages
        again = None
        key = "retry" if result.retryable else result.outcome.value
        self.stats[key] = self.stats.get(key, 0) + 1
        if result.outcome is Outcome.SENT:
            await store.mark_sent(doc["_id"], result.provider_id)
        elif result.retryable and doc.get("attempts", 1) < MAX_ATTEMPTS:
            if result.throttled:
                self.stats["rate_limited"] += 1
                self.limiter.pause(result.retry_after or 1.0)
            delay = result.retry_after or min(60.0, 0.5 * 2 ** doc.get("attempts", 1))
            await store.requeue(doc["_id"], delay, result.error or "retry")
            if retry_here:
                again = delay
            else:
                asyncio.get_running_loop().call_later(delay, self.push, doc.get("priority", 0), doc["_id"],
                                                      doc.get("user_id"))
        elif result.outcome is Outcome.STOPPED:
            await store.mark_failed(doc["_id"], "blocked", result.error)
            if doc.get("contact_id") is not None:
                await self.outbox.stores.contacts.mark_unreachable(doc["contact_id"], result.error or "blocked")
        elif result.outcome is Outcome.HELD:  # parked by the sender until the person writes again (bot/held.py)
            pass
        else:
            await store.mark_failed(doc["_id"], result.error or "failed", result.error)
        for hook in self.outbox.after_send:
            await hook(doc, result)
        return again


class Outbox:
    def __init__(self, stores, sweep_interval_s: float = 2.0):
        self.stores = stores
        self.workers: dict[str, _ChannelWorker] = {}
        self.sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task | None = None
        self._seq = itertools.count()
        self.after_send: list = []  # async hooks (doc, SendResult) e.g. campaign delivery bookkeeping
        self.campaign_check: SendCheck | None = None
        # each process's share of a provider's per-account cap (bot/storage/rate_shares.py)
        self.shares = RateShares(stores.db) if getattr(stores, "db", None) is not None else None

    def set_campaign_check(self, check: SendCheck | None) -> None:
        """Outreach registers the send-time check for campaign messages (one; replaces any earlier one)."""
        self.campaign_check = check

    def register(self, sender: Sender) -> None:
        self.workers[sender.channel] = _ChannelWorker(self, sender)

    def has_sender(self, channel: str) -> bool:
        return channel in self.workers

    async def start(self) -> None:
        for w in self.workers.values():
            if w.loop_task is None:
                w.loop_task = asyncio.create_task(w.run())
            if w.bulk_task is None:
                w.bulk_task = asyncio.create_task(w.run_bulk())
        if self._sweeper is None and self.sweep_interval_s > 0:
            self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        for w in self.workers.values():
            if w.loop_task:
                w.loop_task.cancel()
            if w.bulk_task:
                w.bulk_task.cancel()
            for t in list(w.tasks):
                t.cancel()
            if w.flush_task:
                w.flush_task.cancel()
            try:  # sends already made are recorded, so they are not later counted as interrupted
                await w.flush()
            except Exception:
                pass
            try:  # claimed but never at the provider: queued again for the next process (issue 18)
                await asyncio.wait_for(asyncio.gather(*w.tasks, return_exceptions=True), 2)
                await self.stores.messages.unclaim(w.unsent)
                w.unsent.clear()
            except Exception:
                pass
        if self._sweeper:
            self._sweeper.cancel()
        try:  # the other processes take this one's share of the send rate (and what it left) at once
            if self.shares:
                await self.shares.leave()
        except Exception:
            pass
        self._sweeper = None

    async def enqueue(self, msgs: list[OutboundMessage], *, already_sent: bool = False) -> list[dict]:
        """Store messages; ``already_sent`` for replies a channel delivers itself (console, TwiML, web chat)."""
        if not msgs:
            return []
        docs = await self.stores.messages.queue(msgs, status="sent" if already_sent else "queued",
                                                pushed_here=() if already_sent else self.workers)
        if not already_sent:
            for d in docs:
                w = self.workers.get(d["channel"])
                if w:
                    if d["priority"] < BULK_PRIORITY and d["_id"] not in w.pending:
                        w.fresh[d["_id"]] = d
                    w.push(d["priority"], d["_id"], d.get("user_id"))
        return docs

    async def sweep_once(self) -> int:
        """Pick up due queued messages of every channel whose dispatcher lease this process holds."""
        if self.shares:
            await self.shares.beat(self.workers)
        # sends cut off by a crash end as interrupted: at once when their claimer is known dead (killed)
        await self.stores.messages.expire_leases(self.shares.dead if self.shares else ())
        n = 0
        for channel, w in self.workers.items():
            if not await self.stores.leases.acquire(f"dispatch:{channel}", ttl_s=max(10, 5 * self.sweep_interval_s)):
                continue
            others = self.shares.others if self.shares else ()
            for d in await self.stores.messages.due(channel, limit=500, settled_s=SWEEP_SETTLE_S, leave_to=others,
                                                    leave_s=LEFT_TO_QUEUER_S):
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

    async def finish(self, timeout_s: float) -> None:
        """Graceful stop, first half: no more sweeping, one last heartbeat (this process stays live for the
        others while it finishes), then up to ``timeout_s`` to send what this process holds in memory."""
        if self._sweeper:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
            if self.shares:
                await self.shares.beat(self.workers)
        try:
            await self.drain(timeout_s)
        except asyncio.TimeoutError:
            log.warning("stop: outbox not idle after %.0f s; the rest is sent by the other processes", timeout_s)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until nothing is pending in memory (tests, CLI commands that exit afterwards)."""
        async def _all_idle():
            while any(not w.idle.is_set() for w in self.workers.values()):
                await asyncio.gather(*(w.idle.wait() for w in self.workers.values()))
        await asyncio.wait_for(_all_idle(), timeout_s)

    def stats(self) -> dict:
        return {ch: dict(w.stats) for ch, w in self.workers.items()}
