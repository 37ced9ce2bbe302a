"""subscription_events: every sign-up and opt-out, appended (attribution per code and venue); its only owner.

Appends are group-committed: events of concurrent turns that arrive while one ``insert_many`` is in flight go
out together in the next one (a booth's burst of sign-ups costs one command per batch, not one per sign-up).
Each ``append`` still returns only once its own event is stored, and raises if that write failed.
"""
from __future__ import annotations

import asyncio

from bot.messages import utcnow

MAX_BATCH = 500


class SubscriptionEvents:
    def __init__(self, db):
        self.col = db["subscription_events"]
        self._pending: list[tuple[dict, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("campaign", 1), ("event", 1)])

    async def append(self, contact: dict, event: str, fields: dict) -> None:
        doc = {"contact_id": contact["_id"], "channel": contact.get("channel"), "event": event, "at": utcnow(),
               **fields}
        done = asyncio.get_running_loop().create_future()
        self._pending.append((doc, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)  # a cancelled caller does not cancel the others' batch

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the turns finishing in this loop iteration join the batch
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                await self.col.insert_many([doc for doc, _ in batch], ordered=False)
            except Exception as exc:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                        fut.exception()  # a caller cancelled meanwhile leaves no "never retrieved" warning
            else:
                for _, fut in batch:
                    if not fut.done():
                        fut.set_result(None)

    def signups(self, campaign: str):
        """Sign-up events of a campaign, as an async cursor."""
        return self.col.find({"campaign": campaign, "event": "subscribed"})
