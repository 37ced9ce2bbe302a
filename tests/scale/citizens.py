"""Scripted WhatsApp citizens for the multi-process tests: consent, then a whole report with buttons, list
picks and typed answers (no NLU needed). Each message goes to the next bot process in turn, as a load
balancer would spread them; a process that does not answer is skipped, and the same webhook (same wamid)
goes to the next one, as Meta retries."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json

import aiohttp
from pymongo import AsyncMongoClient

from bench.cluster import Cluster
from fakes.base import wait_until
from fakes.whatsapp.driver import WhatsAppDriver
from fakes.whatsapp.server import FakeGraph

DESCRIPTION = "Jalan berlubang besar di depan pasar Kupang sejak minggu lalu membahayakan pengendara"
LOCATION = "Jalan Sudirman depan pasar"


class Balancer:
    """Posts signed webhooks round-robin over the bot processes' URLs, failing over on connection errors."""

    def __init__(self, graph, urls: list[str], secret: str):
        self.graph, self.urls = graph, urls
        self.drivers = [WhatsAppDriver(graph, u, secret) for u in urls]
        self._rr = itertools.count()
        self._wamids = itertools.count(1)
        self.posted = 0  # webhooks acknowledged (200)
        self.acked_at: dict[str, float] = {}

    async def __aenter__(self):
        for d in self.drivers:
            await d.__aenter__()
        return self

    async def __aexit__(self, *exc):
        for d in self.drivers:
            await d.__aexit__(*exc)

    async def post(self, wa_id: str, mtype: str, body: dict) -> str:
        """Send one message as Meta does; returns its wamid once a process acknowledged it."""
        wamid = f"wamid.SC{next(self._wamids):08d}.{wa_id}"
        payload, _ = self.drivers[0].message(wa_id, mtype, body, wamid=wamid)
        raw = json.dumps(payload).encode()
        start = next(self._rr)
        for attempt in range(60):
            drv = self.drivers[(start + attempt) % len(self.drivers)]
            try:
                resp = await drv.post(payload, raw=raw)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)
                continue
            if resp.status == 200:
                self.posted += 1
                return wamid
            await asyncio.sleep(0.2)  # 5xx: not acknowledged, Meta tries again
        raise AssertionError("no bot process acknowledged the webhook")


def options(graph, wa_id: str) -> tuple[str, list[tuple[str, str]]]:
    """The interactive type and (id, title) options of the last message with options sent to ``wa_id``."""
    for m in reversed(graph.to(wa_id)):
        opts = graph.options(m)
        if opts:
            return m["interactive"]["type"], opts
    raise AssertionError("no buttons or list sent")


class Interrupted(Exception):
    """The reply this citizen waits for was being sent when its process was killed: it is never resent."""


class Citizen:
    def __init__(self, lb: Balancer, wa_id: str, reply_timeout_s: float = 180, interrupted=None):
        self.lb, self.g, self.wa_id = lb, lb.graph, wa_id
        self.expected = 0  # replies this citizen has waited for so far
        self.timeout = reply_timeout_s
        # async (wa_id, replies expected, replies received) -> bool: a reply this citizen waits for was cut off
        # mid-send by a killed process (marked interrupted, never resent, never arrived)
        self.interrupted_check = interrupted
        self.interrupted = False

    async def _say(self, mtype: str, body: dict, replies: int = 1) -> list[dict]:
        await self.lb.post(self.wa_id, mtype, body)
        self.expected += replies
        polls = 0

        async def answered():
            nonlocal polls
            polls += 1
            if len(self.g.to(self.wa_id)) >= self.expected:
                return True
            if self.interrupted_check is not None and polls % 40 == 0 and await self.interrupted_check(
                    self.wa_id, self.expected, len(self.g.to(self.wa_id))):
                self.interrupted = True
                raise Interrupted(self.wa_id)
            return False
        await wait_until(answered, self.timeout, interval=0.05)
        return self.g.to(self.wa_id)

    async def text(self, text: str, replies: int = 1):
        return await self._say("text", {"body": text}, replies)

    async def press(self, part: str | None = None, index: int = 1, replies: int = 1):
        kind, opts = options(self.g, self.wa_id)
        rid, title = next(o for o in opts if part in o[0]) if part else opts[index - 1]
        if kind == "list":
            return await self._say("interactive", {"type": "list_reply", "list_reply": {"id": rid, "title": title}},
                                   replies)
        return await self._say("interactive", {"type": "button_reply", "button_reply": {"id": rid, "title": title}},
                               replies)

    def has_option(self, part: str) -> bool:
        return any(part in o[0] for o in options(self.g, self.wa_id)[1])

    async def file_report(self) -> str | None:
        """Consent and one whole report; returns the text of the confirmation (it carries the tracking id),
        None when a reply was interrupted mid-send (the citizen cannot go on without it)."""
        try:
            return await self._file_report()
        except Interrupted:
            return None

    async def _file_report(self) -> str:
        await self.text("halo")
        await self.press("consent:ya", replies=2)
        await self.text("lapor")
        await self.press(index=1)  # report type
        await self.text(DESCRIPTION)
        await self.text(LOCATION)
        await self.press(index=1)
        await self.press(index=1)  # category (a list)
        await self.press(index=1)  # agency
        for _ in range(5):  # attachments, date, ... until the privacy question
            if self.has_option("rahasia"):
                break
            await self.press(index=1)
        await self.press("rahasia")
        sent = await self.press("confirm")
        return self.g.text_of(sent[-1])


@contextlib.asynccontextmanager
async def running_cluster(tmp_path, n: int, rate_per_s: int = 80, **env):
    """A fake Graph API enforcing ``rate_per_s`` and ``n`` bot processes on one ``laporbot db`` (``env``: their
    settings), started: ``async with running_cluster(...) as (graph, cluster, db)``. Everything is stopped on the
    way out; the processes' exit codes are then in ``cluster.exit_codes``."""
    graph = await FakeGraph(rate_per_s=rate_per_s).start()
    cluster = Cluster(tmp_path / "var", graph, n=n, **env)
    client = None
    try:
        await cluster.start()
        client = AsyncMongoClient(cluster.uri, tz_aware=True)
        yield graph, cluster, client["lapor"]
    finally:
        if client is not None:
            await client.close()
        cluster.exit_codes = await cluster.stop()
        await graph.stop()
