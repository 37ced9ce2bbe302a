"""Side effects happen once per inbound message, also when two processes race on one conversation.

Two runtimes (two engines, two database clients) share one real database. Process B's turn is held just
before its save until process A's turn on the same conversation has saved: B's save then hits a real
VersionConflict, B reloads and reruns. Whatever B's first attempt would have written must not be written.
"""
from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.messages import Identity, InboundMessage
from tests.staff.conftest import advance, citizen, make_report, outbox_for

_ids = itertools.count(1)
USER = "6285200001111"


@pytest.fixture
async def two(make_runtime):
    a = await make_runtime()
    b = await make_runtime()  # same settings, same database: another bot process
    return a, b


def inbound(text: str = "", payload: str | None = None) -> InboundMessage:
    return InboundMessage(Identity("telegram", USER), f"race-{next(_ids)}", text=text, payload=payload,
                          kind="choice" if payload else "text")


async def race(a, b, text_a: str, text_b: str):
    """B loads and runs first but saves only after A saved; returns (replies of A, replies of B)."""
    b_waiting, a_saved = asyncio.Event(), asyncio.Event()
    save_a, save_b = a.stores.conversations.save, b.stores.conversations.save
    calls = {"b": 0}

    async def a_save(state, contact_updates=None, **kw):
        await save_a(state, contact_updates, **kw)
        a_saved.set()

    async def b_save(state, contact_updates=None, **kw):
        calls["b"] += 1
        if calls["b"] == 1:
            b_waiting.set()
            await asyncio.wait_for(a_saved.wait(), 60)
        await save_b(state, contact_updates, **kw)

    a.stores.conversations.save, b.stores.conversations.save = a_save, b_save
    try:
        conflicts = lambda: b.engine.metrics["conflicts"] + b.engine.metrics["stale"]  # noqa: E731
        before = conflicts()
        task_b = asyncio.create_task(b.engine.handle(inbound(text_b), inline=True))
        await asyncio.wait_for(b_waiting.wait(), 60)
        replies_a = await a.engine.handle(inbound(text_a), inline=True)
        replies_b = await task_b
        assert conflicts() == before + 1  # the race really happened (B's save missed: a rerun or a restart)
    finally:
        a.stores.conversations.save, b.stores.conversations.save = save_a, save_b
    return replies_a, replies_b


async def setup(rt, status_steps=()):
    owner = await citizen(rt, USER)
    await rt.stores.contacts.update(owner["_id"], {"consent": {"given": True}})
    report = await make_report(rt, owner, privacy="rahasia")
    if status_steps:
        await advance(rt, report["tracking_id"], *status_steps)
    return owner, report["tracking_id"]


async def test_added_information_is_added_once(two):
    a, b = two
    owner, tid = await setup(a)
    await a.engine.handle(inbound(payload=f"addinfo:{tid}"), inline=True)
    replies_a, _ = await race(a, b, "Lubangnya makin lebar setelah hujan", "foto menyusul ya")
    assert [r.template for r in replies_a] == ["followup/added"]
    additions = (await a.stores.reports.get(tid))["additions"]
    assert [x["text"] for x in additions] == ["Lubangnya makin lebar setelah hujan"]


async def test_handoff_note_is_noted_once(two):
    a, b = two
    owner, _ = await setup(a)
    await a.engine.handle(inbound("bicara dengan petugas"), inline=True)
    await race(a, b, "Saya butuh bantuan soal laporan", "halo ada orang")
    handoffs = await a.stores.handoffs.col.find({"contact_id": owner["_id"]}).to_list(None)
    assert len(handoffs) == 1
    assert [n["text"] for n in handoffs[0]["notes"]] == ["Saya butuh bantuan soal laporan"]


async def test_objection_reopens_and_notifies_once(two):
    a, b = two
    owner, tid = await setup(a, ("terverifikasi", "diteruskan", "ditanggapi", "selesai"))
    supporter = await citizen(a, "6285200002222")
    await a.stores.reports.add_supporter(tid, supporter["_id"])
    await a.engine.handle(inbound(payload=f"rate:{tid}:1"), inline=True)
    await a.engine.handle(inbound(payload="objection:ya"), inline=True)
    replies_a, replies_b = await race(a, b, "Tambalannya rusak lagi setelah dua hari", "sudah ya")
    assert [r.template for r in replies_a] == ["rating/objection_sent"]
    report = await a.stores.reports.get(tid)
    assert [h["to"] for h in report["history"] if h["actor"] == "warga" and h["from"]] == ["diteruskan"]
    assert report["objection"]["reason"] == "Tambalannya rusak lagi setelah dua hari"
    assert report["rating"]["comment"] == "Tambalannya rusak lagi setelah dua hari"
    reopened = [m for m in await outbox_for(a, supporter["_id"]) if m["template"] == "notify/dibuka_kembali"]
    assert len(reopened) == 1
    assert await a.staff.audit.col.count_documents({"action": "objection", "target": tid}) == 1
