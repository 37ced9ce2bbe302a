"""Three processes sending on one WhatsApp account share its per-second cap through the database: a burst of
replies spread over the processes never exceeds the provider's cap (no 130429), and every reply arrives once."""
from __future__ import annotations

import asyncio

import pytest

from bench.cluster import APP_SECRET
from fakes.base import wait_until
from tests.scale.citizens import Balancer, running_cluster

CAP = 6  # the account's messages per second, at the provider and in the bots' settings


@pytest.mark.timeout(400)
async def test_processes_share_the_accounts_send_rate(tmp_path):
    async with running_cluster(tmp_path, n=3, rate_per_s=CAP, WHATSAPP_RATE_PER_S=CAP) as (graph, cluster, db):

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
    assert all(c == 0 for c in cluster.exit_codes)
