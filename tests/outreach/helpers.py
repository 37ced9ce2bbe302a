"""Outreach test helpers: a recording Sender that enforces its cap like a provider, and bulk contacts."""
from __future__ import annotations

import time
from collections import Counter, deque
from datetime import timedelta

from bson import ObjectId

from bot.messages import utcnow
from bot.outbox import SendResult


class RecordingSender:
    """Records every send; answers 429-style retry when more than ``cap`` sends arrive within one second."""

    def __init__(self, channel: str = "telegram", rate_per_s: float = 30, per_chat_gap_s: float = 0.0,
                 cap: float | None = None, latency_s: float = 0.0):
        self.channel, self.rate_per_s, self.per_chat_gap_s = channel, rate_per_s, per_chat_gap_s
        self.cap = cap if cap is not None else rate_per_s
        self.latency_s = latency_s
        self.sent: list[dict] = []
        self.times: list[float] = []
        self.window: deque = deque()
        self.limited = 0
        self.on_send = None

    async def send(self, doc: dict) -> SendResult:
        import asyncio

        now = time.monotonic()
        while self.window and now - self.window[0] > 1.0:
            self.window.popleft()
        if len(self.window) >= self.cap + 1:  # one token of burst tolerance
            self.limited += 1
            return SendResult("retry", error="429", retry_after=0.5)
        self.window.append(now)
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        self.sent.append(doc)
        self.times.append(now)
        if self.on_send:
            await self.on_send(doc)
        return SendResult("sent", provider_id=f"p{len(self.sent)}")

    def per_user(self) -> Counter:
        return Counter(d["user_id"] for d in self.sent)

    def max_per_second(self) -> int:
        best, j = 0, 0
        for i, t in enumerate(self.times):
            while t - self.times[j] >= 1.0:
                j += 1
            best = max(best, i - j + 1)
        return best


def contact_doc(channel: str, user_id: str, *, segment: str = "kampus", language: str = "id", status="subscribed",
                code: str | None = None, campaign: str | None = None, last_inbound_hours: float | None = 1,
                tags=(), institution="Universitas Contoh", region="16.71") -> dict:
    now = utcnow()
    return {"_id": ObjectId(), "channel": channel, "user_id": user_id, "name": f"Warga {user_id}",
            "language": language, "consent": {"given": True, "at": now}, "tags": list(tags), "created_at": now,
            "reachable": True,
            "last_inbound_at": now - timedelta(hours=last_inbound_hours) if last_inbound_hours is not None else None,
            "subscription": {"status": status, "since": now - timedelta(days=3), "segment": segment, "code": code,
                             "campaign": campaign, "institution": institution, "region": region, "venue": None}}


async def add_contacts(stores_or_rt, docs: list[dict]) -> list[dict]:
    stores = getattr(stores_or_rt, "stores", stores_or_rt)
    for i in range(0, len(docs), 1000):
        await stores.contacts.col.insert_many(docs[i:i + 1000], ordered=False)
    return docs


async def with_sender(rt, sender) -> None:
    from outreach.dispatch import install

    rt.outbox.register(sender)
    await rt.outbox.start()
    install(rt)
