"""SIGTERM to one of two ``laporbot run`` processes in the middle of a WhatsApp burst: it stops taking webhooks
(503 + Retry-After, then its port closes; the load balancer and the provider retry elsewhere), finishes the turns
it acknowledged, sends what it queued, and exits 0; nothing acknowledged is lost, nothing is answered twice, no
reply is cut off mid-send (that only a kill may do)."""
from __future__ import annotations

import asyncio
import signal

import pytest

from bench.cluster import APP_SECRET
from bot.messages import utcnow
from fakes.base import wait_until
from tests.scale.citizens import Balancer, Citizen, running_cluster
from tests.scale.test_multiprocess import settled

CITIZENS = 40


async def short_script(c: Citizen) -> None:
    """Three turns per citizen, so conversations cross the stop."""
    await c.text("halo")
    await c.press("consent:ya", replies=2)
    await c.text("lapor")


@pytest.mark.timeout(600)
async def test_sigterm_mid_burst_drains_and_exits_cleanly(tmp_path):
    async with running_cluster(tmp_path, n=2) as (graph, cluster, db):
        async with Balancer(graph, cluster.urls(), APP_SECRET) as lb:
            citizens = [Citizen(lb, f"628135{i:05d}") for i in range(CITIZENS)]
            run = asyncio.gather(*(short_script(c) for c in citizens))
            total = CITIZENS * 3  # webhooks in the whole run
            await wait_until(lambda: lb.posted >= total // 2 or run.done(), 300, interval=0.05)
            assert not run.done()
            stopping = cluster.bots[0]
            stopping.send_signal(signal.SIGTERM)
            await asyncio.wait_for(stopping.wait(), 120)  # bounded drain (the bot's own bounds are far below)
            assert stopping.returncode == 0
            await run
        await settled(db)
        # every acknowledged webhook became exactly one stored, processed inbound message
        assert await db.messages.count_documents({"direction": "in"}) == lb.posted
        assert await db.messages.count_documents({"direction": "in", "status": {"$ne": "processed"}}) == 0
        for c in citizens:  # every reply once, in the order stored
            sent = graph.to(c.wa_id)
            assert len(sent) == c.expected, (c.wa_id, len(sent), c.expected)
            contact = await db.contacts.find_one({"channel": "whatsapp", "user_id": c.wa_id})
            stored = await db.messages.find({"contact_id": contact["_id"], "direction": "out"}).sort(
                [("created_at", 1), ("_id", 1)]).to_list(None)
            assert [graph.text_of(m) for m in sent] == [m["text"] for m in stored]
        assert await db.messages.count_documents({"failure_reason": "interrupted"}) == 0
        # the stopped process gave up its leases and ended its heartbeat
        pid = f":{stopping.pid}:"
        assert not [x for x in await db.leases.find({}).to_list(None) if pid in x["owner"]]
        beats = [b for b in await db.processes.find({}).to_list(None) if pid in b["_id"]]
        assert len(beats) == 1 and beats[0]["until"] < utcnow()
