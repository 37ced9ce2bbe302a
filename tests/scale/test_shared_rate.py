"""Three processes sending on one WhatsApp account share its per-second cap through the database: a burst of
replies spread over the processes never exceeds the provider's cap (no 130429), and every reply arrives once."""
from __future__ import annotations

import asyncio

import pytest
from pymongo import AsyncMongoClient

from bench.cluster import APP_SECRET, Cluster
from fakes.base import wait_until
from fakes.whatsapp.server import FakeGraph
from tests.scale.citizens import Balancer

CAP = 6  # the account's messages per second, at the provider and in the bots' settings


@pytest.mark.timeout(400)
async def test_processes_share_the_accounts_send_rate(tmp_path):
    graph = await FakeGraph(rate_per_s=CAP).start()
    cluster = Cluster(tmp_path / "var", graph, n=3, WHATSAPP_RATE_PER_S=CAP)
    client = None
    try:
        await cluster.start()
        client = AsyncMongoClient(cluster.uri, tz_aware=True)
        db = client["lapor"]

        async def all_see_three():  # every process has sized its limiter to a third of the cap
            docs = await db.processes.find({}).to_list(None)
            return len(docs) == 3 and all(d.get("peers") == 3 for d in docs)
        await wait_until(all_see_three, 60, interval=0.2)
        citizens = [f"6281300{i:04d}" for i in range(4 * CAP)]
        async with Balancer(graph, cluster.urls(), APP_SECRET) as lb:
            await asyncio.gather(*(lb.post(w, "text", {"body": "halo"}) for w in citizens))
            await wait_until(lambda: all(len(graph.to(w)) >= 1 for w in citizens), 120, interval=0.1)
        assert not graph.rejected  # no 130429: the three processes together stayed under the cap
        assert all(len(graph.to(w)) == 1 for w in citizens)
    finally:
        if client is not None:
            await client.close()
        codes = await cluster.stop()
        await graph.stop()
    assert all(c == 0 for c in codes)
