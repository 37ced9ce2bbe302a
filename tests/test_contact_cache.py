"""The cached contact (``bot/storage/contact_cache.py``): a turn of a process running alone skips the contact
read, and any write of the contact from elsewhere (another process, a CLI command) is still seen before the
turn's answer counts: the save matches on ``rev``, misses, and the inbound path starts again on what is stored.

"Another process" here is a second ``Stores`` on the same database: its own client and its own cache.
"""
from __future__ import annotations

import itertools

import pytest
from bson import ObjectId

from bot.messages import Identity, InboundMessage
from bot.storage import connect
from bot.storage.contact_cache import ContactCache
from tests.fixtures.fakes import whatsapp_bot
from tests.test_round_trips import counted, goes_to_the_officer, reads, writes

pytestmark = pytest.mark.timeout(120)

_ids = itertools.count(1)
SECRET = "wa-app-secret-cache"
WA = "6281234567411"


def said(user: str, text: str = "", payload: str | None = None, channel: str = "console") -> InboundMessage:
    return InboundMessage(Identity(channel, user), f"cc-{next(_ids)}", text=text, payload=payload,
                          kind="choice" if payload else "text")


@pytest.fixture
async def other_process(settings):
    stores = await connect(settings.mongodb_uri, settings.lapor_db)
    yield stores
    await stores.close()


async def consented(rt, user: str) -> dict:
    await rt.engine.handle(said(user, "halo"), inline=True)
    await rt.engine.handle(said(user, payload="consent:ya"), inline=True)
    return await rt.stores.contacts.find_by_identity("console", user)


def test_copies_are_independent_and_the_cache_is_bounded():
    cache = ContactCache(entries=2)
    a, b, c = ({"_id": ObjectId(), "channel": "console", "user_id": u, "conv": {"slots": {"x": 1}}, "rev": 1}
               for u in ("a", "b", "c"))
    cache.put(a)
    first = cache.get(Identity("console", "a"))
    first["conv"]["slots"]["x"] = 99  # a turn changes its copy
    assert cache.get(Identity("console", "a"))["conv"]["slots"] == {"x": 1}
    assert cache.get_by_id(a["_id"])["user_id"] == "a"
    cache.put(b)
    cache.get(Identity("console", "a"))  # a is used again: b is now the oldest
    cache.put(c)
    assert len(cache) == 2 and cache.get(Identity("console", "b")) is None
    assert cache.get_by_id(b["_id"]) is None
    cache.forget_identity("console", "a")
    cache.forget(c["_id"])
    assert len(cache) == 0 and cache.get_by_id(a["_id"]) is None


async def test_alone_a_turn_reads_no_contact_and_with_peers_it_reads_one(make_runtime):
    rt = await make_runtime(sweep_interval_s=0)
    await consented(rt, "cc-peers")
    replies, log = await counted(rt.engine, said("cc-peers", "lapor"), inline=True)
    assert replies and not reads(log, "contacts")
    assert "rev" in writes(log, "contacts")[0][2][0]  # the save is checked against the cached copy
    rt.outbox.shares.peers = 2  # another bot process is live: the copy is not used
    replies, log = await counted(rt.engine, said("cc-peers", payload="choice:pengaduan"), inline=True)
    assert [r.template for r in replies] == ["filing/ask_description"]
    assert len(reads(log, "contacts")) == 1 and "rev" not in writes(log, "contacts")[0][2][0]


async def test_a_handoff_taken_by_another_process_silences_the_bot_at_once(make_runtime, other_process):
    rt = await make_runtime(sweep_interval_s=0)
    contact = await consented(rt, "cc-handoff")
    await rt.engine.handle(said("cc-handoff", "lapor"), inline=True)  # cached as this turn saved it
    h = await other_process.handoffs.open(contact["_id"], None)
    await other_process.handoffs.take(h["_id"], "officer-1")
    stale = rt.engine.metrics["stale"]
    version = (await rt.stores.conversations.load(contact["_id"]))["version"]
    replies = await rt.engine.handle(said("cc-handoff", "halo? ada petugas?"), inline=True)
    assert replies == []  # the officer holds the conversation
    assert rt.engine.metrics["stale"] == stale + 1  # the cached copy ran first, and its save missed
    transcript = (await rt.stores.handoffs.get(h["_id"]))["transcript"]
    assert [e["text"] for e in transcript if e["who"] == "citizen"] == ["halo? ada petugas?"]
    # the turn that ran on the old copy left nothing: no state saved, no reply stored
    assert (await rt.stores.conversations.load(contact["_id"]))["version"] == version
    inbound = await rt.stores.messages.col.find_one({"contact_id": contact["_id"], "text": "halo? ada petugas?"})
    assert not await rt.stores.messages.col.count_documents({"contact_id": contact["_id"], "direction": "out",
                                                             "created_at": {"$gte": inbound["created_at"]}})


async def test_a_contact_erased_by_another_process_starts_over_as_new(make_runtime, other_process):
    from bot.privacy import rights

    rt = await make_runtime(sweep_interval_s=0)
    old = await consented(rt, "cc-erased")
    await rights.erase(other_process, old["_id"], "admin")
    msg = said("cc-erased", "halo")
    replies = await rt.engine.handle(msg, inline=True)
    assert [r.template for r in replies] == ["welcome/first_contact"]  # not the old conversation
    new = await rt.stores.contacts.find_by_identity("console", "cc-erased")
    assert new["_id"] != old["_id"] and new.get("consent") is None
    stored = await rt.stores.messages.col.find_one({"channel": "console", "channel_message_id": msg.channel_message_id})
    assert stored["contact_id"] == new["_id"]  # stored under the old id first, then moved
    assert rt.engine.metrics["stale"] == 1
    assert await rt.stores.messages.col.count_documents({"contact_id": old["_id"]}) == 0


async def test_a_write_in_this_process_drops_the_copy(make_runtime):
    rt = await make_runtime(sweep_interval_s=0)
    contact = await consented(rt, "cc-local")
    assert rt.stores.contacts.cache.get_by_id(contact["_id"]) is not None
    await rt.stores.contacts.update(contact["_id"], {"language": "en"})
    assert rt.stores.contacts.cache.get_by_id(contact["_id"]) is None
    replies, log = await counted(rt.engine, said("cc-local", "hello"), inline=True)
    assert len(reads(log, "contacts")) == 1 and replies
    assert rt.stores.contacts.cache.get_by_id(contact["_id"])["language"] == "en"
    assert rt.stores.conversations.cache is rt.stores.contacts.cache  # the state's writes drop the same copy
    await rt.stores.conversations.remember_choices(contact["_id"], ["choice:a", "choice:b"])
    assert rt.stores.contacts.cache.get_by_id(contact["_id"]) is None


# ------------------------------------------------------------------ end to end through the WhatsApp channel
@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv):
        yield rt, fake_graph, drv


async def test_through_whatsapp_a_handoff_taken_elsewhere_is_honoured_and_steady_turns_read_nothing(
        wa, other_process):
    rt, g, drv = wa
    await drv.text(WA, "halo")
    await g.wait_sent(WA, 1)
    consent = next(o for o in g.last_options(WA) if o[0] == "consent:ya")
    await drv.button(WA, *consent)
    await g.wait_sent(WA, 2)
    hits = rt.stores.contacts.cache.hits
    await drv.text(WA, "lapor")
    await g.wait_sent(WA, 3)
    assert rt.stores.contacts.cache.hits > hits  # the webhook's turn started from the cached copy
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    h = await other_process.handoffs.open(contact["_id"], None)
    await other_process.handoffs.take(h["_id"], "officer-1")
    await rt.outbox.drain()
    await goes_to_the_officer(rt, g, drv, h, "masih menunggu petugas", WA)
