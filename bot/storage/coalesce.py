"""Group commit: small writes of concurrent callers go to the database as one command.

A caller ``await``s ``Coalescer.submit(item)``; one drain task takes every item waiting (up to ``max_items``),
calls ``run(items)`` once (one ``bulk_write``, ``insert_many`` or ``update_many``) and answers each caller with
its own result (``run`` returns one per item; an exception in that list is raised to its caller only). While a
batch is in flight the next callers queue up, so the batch size follows the load by itself: a lone caller's
write goes out at once (the drain yields to the event loop once, so callers ready in the same iteration join,
then sends: no timer), and under load one command carries the writes of every turn that finished meanwhile.
Nothing runs while nothing waits.

If ``run`` raises (the database is away), every caller of that batch gets the exception and the next batch is
tried afresh: nothing is dropped silently. A caller cancelled before its batch was taken is left out (a claim
or insert nobody waits for any more), unless ``keep_cancelled`` says otherwise (marks that record what already
happened, such as a message sent, are written anyway; it may be a predicate per item); once taken, its write
goes out like any other. ``stop()`` writes what is queued; a ``submit`` after it writes alone.
"""
from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Awaitable, Callable

from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

MAX_ITEMS = 128  # one command's worth; larger bursts go out as several commands back to back


class Coalescer:
    def __init__(self, run: Callable[[list], Awaitable[list]], *, max_items: int = MAX_ITEMS, window_s: float = 0.0,
                 name: str = "writes", keep_cancelled: bool | Callable[[Any], bool] = False):
        self._run = run
        self.max_items = max_items
        # > 0: wait this long for company before a batch that is not full. Default 0: with 2 ms, bench/scale.py
        # (2026-12-01) saved 0.6 commands per turn at 100 msg/s (webhook inbox inserts) but every write waited
        # the 2 ms even when alone (acknowledgement p50 at 20 msg/s: 5.3 ms, 3.6 ms in the run without); docs/deploy.md
        self.window_s = window_s
        self.name = name
        self.keep_cancelled = keep_cancelled
        self._waiting: deque = deque()
        self._task: asyncio.Task | None = None
        self._stopped = False
        self.batches = 0  # commands sent (tests, metrics)
        self.items = 0

    async def submit(self, item) -> Any:
        if self._stopped:
            return _unwrap((await self._run([item]))[0])
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiting.append((item, fut))
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._task = loop.create_task(self._drain(), name=f"coalesce {self.name}")
        return await fut

    async def _drain(self) -> None:
        while self._waiting:
            if self.window_s > 0 and len(self._waiting) < self.max_items:
                await asyncio.sleep(self.window_s)
            else:
                await asyncio.sleep(0)  # callers ready in this loop iteration join the batch
            batch = []
            while self._waiting and len(batch) < self.max_items:
                item, fut = self._waiting.popleft()
                keep = self.keep_cancelled(item) if callable(self.keep_cancelled) else self.keep_cancelled
                if keep or not fut.done():  # a caller cancelled before now is left out
                    batch.append((item, fut))
            if not batch:
                continue
            try:
                results = await self._run([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
            except asyncio.CancelledError:
                for _, fut in batch:
                    fut.cancel()
                for _, fut in self._waiting:
                    fut.cancel()
                self._waiting.clear()
                raise
            except Exception as exc:  # every caller of this batch hears it; the next batch tries again
                results = [exc] * len(batch)
            self.batches += 1
            self.items += len(batch)
            for (_, fut), res in zip(batch, results):
                if fut.done():
                    continue
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)

    async def stop(self) -> None:
        """Write what is queued; later ``submit``s write alone."""
        self._stopped = True
        task = self._task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.wait([task])


def _unwrap(res):
    if isinstance(res, BaseException):
        raise res
    return res


async def bulk(collection, ops: list) -> list:
    """``bulk_write(ops, ordered=False)`` (one command per run of same-kind operations) answering one entry per
    operation: None, or the error of that operation alone (``DuplicateKeyError``, ``WriteError``). Errors that
    concern the whole command (write concern, connection) are raised."""
    try:
        await collection.bulk_write(ops, ordered=False)
        return [None] * len(ops)
    except BulkWriteError as exc:
        if exc.details.get("writeConcernErrors"):
            raise
        return per_item_errors(len(ops), exc)


def per_item_errors(n: int, exc: BulkWriteError) -> list:
    """One entry per operation of a failed unordered bulk write: None or that operation's own error."""
    out: list = [None] * n
    for err in exc.details.get("writeErrors") or []:
        cls = DuplicateKeyError if err.get("code") == 11000 else WriteError
        idx = err.get("index")
        if isinstance(idx, int) and 0 <= idx < n:
            out[idx] = cls(err.get("errmsg") or "write error", err.get("code"), err)
    return out
