"""Several processes in Telegram polling mode: exactly one polls (a lease in the database); when it is killed,
another takes over and the citizen is still answered."""
from __future__ import annotations

import pytest
from pymongo import AsyncMongoClient

from bench.cluster import Cluster
from fakes.base import wait_until
from fakes.telegram.server import FakeTelegram
from fakes.whatsapp.server import FakeGraph
from channels.telegram_poller import LEASE


@pytest.mark.timeout(400)
async def test_one_telegram_poller_with_failover(tmp_path):
    tg, graph = await FakeTelegram().start(), await FakeGraph().start()
    cluster = Cluster(tmp_path / "var", graph, n=2, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_BASE_URL=tg.base_url)
    client = None
    try:
        await cluster.start()
        client = AsyncMongoClient(cluster.uri, tz_aware=True)
        leases = client["lapor"]["leases"]
        holder = await wait_until(lambda: leases.find_one({"_id": LEASE}), 60, interval=0.2)
        tg.text(1001, "halo")
        await tg.wait_sent(1001, 1, timeout=60)
        pids = [b.pid for b in cluster.bots]
        polling = next(i for i, pid in enumerate(pids) if f":{pid}:" in holder["owner"])
        cluster.kill(polling)
        await cluster.bots[polling].wait()
        tg.text(1002, "halo")  # answered once the other process has taken the lease over
        await tg.wait_sent(1002, 1, timeout=90)
        now = await leases.find_one({"_id": LEASE})
        assert f":{pids[1 - polling]}:" in now["owner"]
        assert tg.poll_conflicts == 0  # never two pollers at once
        assert len(tg.to_chat(1001)) == 1 and len(tg.to_chat(1002)) == 1
    finally:
        if client is not None:
            await client.close()
        await cluster.stop()
        await tg.stop()
        await graph.stop()
