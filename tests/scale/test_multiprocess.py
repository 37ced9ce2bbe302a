"""Three ``laporbot run`` processes on one database (``laporbot db``), WhatsApp citizens spread round-robin over
them: every citizen gets every reply once, in order, and exactly one report; a process killed with SIGKILL in
the middle and restarted loses nothing acknowledged and answers nothing twice.

The number of citizens is ``LAPOR_SCALE_CITIZENS`` (default 50, kept small for a shared 2-core machine)."""
from __future__ import annotations

import asyncio
import os
import re

import pytest
from pymongo import AsyncMongoClient

from bench.cluster import APP_SECRET, Cluster
from fakes.base import wait_until
from fakes.whatsapp.server import FakeGraph
from tests.scale.citizens import Balancer, Citizen

CITIZENS = int(os.environ.get("LAPOR_SCALE_CITIZENS", "50"))


@pytest.fixture
async def graph():
    g = await FakeGraph(rate_per_s=80).start()
    yield g
    await g.stop()


@pytest.fixture
async def cluster(tmp_path, graph):
    c = Cluster(tmp_path / "var", graph, n=3)
    await c.start()
    yield c
    codes = await c.stop()
    assert all(code == 0 for code in codes), "bot processes must drain and exit cleanly"


def wa_ids(n: int, prefix: str) -> list[str]:
    return [f"62812{prefix}{i:05d}" for i in range(n)]


async def settled(db) -> None:
    """Nothing left queued or in flight in any process, and every inbox entry processed."""
    async def quiet():
        busy = await db.messages.count_documents({"direction": "out", "status": {"$in": ["queued", "sending"]}})
        pending = await db.whatsapp_inbox.count_documents({"status": {"$ne": "done"}})
        return busy == 0 and pending == 0
    await wait_until(quiet, 240, interval=0.5)


async def check_every_citizen(db, g, citizens: list[Citizen], confirmations: list[str | None]) -> None:
    for c, confirmation in zip(citizens, confirmations):
        sent = g.to(c.wa_id)
        if confirmation is None:  # a reply of theirs was cut off mid-send by the killed process
            await check_interrupted(db, g, c)
            continue
        # once: exactly the replies the script waited for, no more (the outboxes are idle)
        assert len(sent) == c.expected, (c.wa_id, len(sent), c.expected)
        contact = await db.contacts.find_one({"channel": "whatsapp", "user_id": c.wa_id})
        reports = await db.reports.find({"contact_id": contact["_id"]}).to_list(None)
        assert len(reports) == 1 and reports[0]["tracking_id"] in confirmation
        # in order: what the provider received is the order in which the turns stored the replies
        stored = await db.messages.find({"contact_id": contact["_id"], "direction": "out"}).sort(
            [("created_at", 1), ("_id", 1)]).to_list(None)
        assert [g.text_of(m) for m in sent] == [m["text"] for m in stored]
        # a reply whose send was cut off by the kill went out but stays marked failed/interrupted (it may not have)
        assert all(m["status"] in ("sent", "delivered", "read") or m.get("failure_reason") == "interrupted"
                   for m in stored)
    assert not [r for r in g.rejected if r["code"] != 130429]


async def check_interrupted(db, g, c: Citizen) -> None:
    """Sent at most once: what the provider got is the replies stored as sent, in order, plus those marked
    interrupted that had gone out before the kill; at least one interrupted reply never arrived (never resent)."""
    contact = await db.contacts.find_one({"channel": "whatsapp", "user_id": c.wa_id})
    stored = await db.messages.find({"contact_id": contact["_id"], "direction": "out"}).sort(
        [("created_at", 1), ("_id", 1)]).to_list(None)
    got = [g.text_of(m) for m in g.to(c.wa_id)]
    i, lost = 0, 0
    for m in stored:
        if m["status"] == "failed":
            assert m.get("failure_reason") == "interrupted"
            if i < len(got) and got[i] == m["text"]:  # it went out just before the kill
                i += 1
            else:
                lost += 1
            continue
        assert i < len(got) and got[i] == m["text"], (c.wa_id, m["text"][:40])
        i += 1
    assert i == len(got) and lost >= 1
    assert await db.reports.count_documents({"contact_id": contact["_id"]}) == 0


@pytest.mark.timeout(900)
async def test_three_processes_answer_every_citizen_once_in_order(cluster, graph):
    citizens = []
    async with Balancer(graph, cluster.urls(), APP_SECRET) as lb:
        citizens = [Citizen(lb, w) for w in wa_ids(CITIZENS, "1")]
        confirmations = await asyncio.gather(*(c.file_report() for c in citizens))
    assert all(re.search(r"LPR-", t) for t in confirmations)
    client = AsyncMongoClient(cluster.uri, tz_aware=True)
    try:
        db = client["lapor"]
        await settled(db)
        await check_every_citizen(db, graph, citizens, confirmations)
    finally:
        await client.close()


# A killed process's work is taken over once its heartbeat has expired (about 10 s; channels/inbox.py), and a turn
# saved just before the kill is answered from the replies saved with it (bot/engine.py): every citizen's wait is
# seconds. The reply wait (180 s) and the time limit are bounds for a loaded 2-core machine, not expectations.
@pytest.mark.timeout(600)
async def test_a_killed_process_loses_nothing_acknowledged_and_answers_nothing_twice(cluster, graph):
    client = AsyncMongoClient(cluster.uri, tz_aware=True)
    db = client["lapor"]

    async def interrupted(wa_id: str, expected: int, received: int) -> bool:
        """Every reply waited for exists and is settled, yet fewer arrived: one was cut off mid-send (an
        interrupted reply that did go out before the kill does not count)."""
        out = await db.messages.find({"direction": "out", "user_id": wa_id}, {"status": 1}).to_list(None)
        return (received < expected <= len(out) and any(m["status"] == "failed" for m in out)
                and not any(m["status"] in ("queued", "sending") for m in out))
    async with Balancer(graph, cluster.urls(), APP_SECRET) as lb:
        citizens = [Citizen(lb, w, interrupted=interrupted) for w in wa_ids(CITIZENS, "2")]
        run = asyncio.gather(*(c.file_report() for c in citizens))
        total = CITIZENS * 14
        await wait_until(lambda: lb.posted >= total // 3 or run.done(), 600, interval=0.05)
        cluster.kill(1)
        await cluster.bots[1].wait()
        await wait_until(lambda: lb.posted >= total // 2 or run.done(), 600, interval=0.05)
        await cluster.start_bot(1)
        confirmations = await run
    try:
        await settled(db)
        # every acknowledged webhook became exactly one stored, processed inbound message
        assert await db.messages.count_documents({"direction": "in"}) == lb.posted
        await check_every_citizen(db, graph, citizens, confirmations)
        # only replies in flight at the kill may be cut off (at most once), never most of the run
        assert sum(c is None for c in confirmations) <= max(3, CITIZENS // 4)
    finally:
        await client.close()
