"""Issue 16, item 3: a steady turn reads the contact and its conversation state with ONE command (none at all
while the process runs alone: its cached copy, checked by the save) and writes the new state and the contact's
changes with ONE command; the live-conversation intercept and the WhatsApp held-message release cost nothing
for a contact with nothing handed off or held (markers on the contact).

Commands are counted with a pymongo CommandListener on the real embedded database, only those issued from the
task driving the turn (a context variable), so the runtime's background loops cannot blur the count. Other
per-turn writes (the inbound message, its processed mark, the replies) are not asserted here.
"""
from __future__ import annotations

import contextvars
import itertools
import time
from datetime import timedelta

import pytest
from pymongo import monitoring

from bot.messages import Identity, InboundMessage, utcnow
from tests.fixtures.fakes import wait_until, whatsapp_bot

_TURN: contextvars.ContextVar = contextvars.ContextVar("turn_commands", default=None)
_ids = itertools.count(1)
READS = ("find", "aggregate", "count", "distinct", "findAndModify")
WRITES = ("insert", "update", "delete", "findAndModify")
SECRET = "wa-app-secret-rt"
WA = "6281234567301"


class _Recorder(monitoring.CommandListener):
    """Appends (command, collection, filter) to the list in ``_TURN`` of the task issuing the command."""

    def started(self, event):
        log = _TURN.get()
        if log is None:
            return
        cmd = event.command
        coll = cmd.get(event.command_name)
        if event.command_name == "update":
            filters = [u.get("q") or {} for u in cmd.get("updates") or []]
        elif event.command_name == "delete":
            filters = [d.get("q") or {} for d in cmd.get("deletes") or []]
        else:
            filters = [cmd.get("filter") or cmd.get("query") or {}]
        log.append((event.command_name, coll if isinstance(coll, str) else None, filters))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


monitoring.register(_Recorder())  # inert outside a recorded turn; applies to clients made from now on


async def counted(engine, inbound: InboundMessage, **kw):
    """Run ``engine.handle`` and return (replies, the commands it issued)."""
    log: list = []
    token = _TURN.set(log)
    try:
        replies = await engine.handle(inbound, **kw)
    finally:
        _TURN.reset(token)
    return replies, log


def inbound(channel: str, user: str, text: str = "", payload: str | None = None) -> InboundMessage:
    return InboundMessage(Identity(channel, user), f"rt-{next(_ids)}", text=text, payload=payload,
                          kind="choice" if payload else "text")


def reads(log, coll):
    return [c for c in log if c[1] == coll and c[0] in READS]


def writes(log, coll):
    return [c for c in log if c[1] == coll and c[0] in WRITES]


def assert_steady(log, alone: bool = True):
    """One write of ``contacts`` and one read, none when the process runs alone (the write then matches on
    the cached copy's ``rev``); no other query for the state, a handoff or held messages."""
    assert len(reads(log, "contacts")) == (0 if alone else 1), log
    assert len(writes(log, "contacts")) == 1, log
    assert ("rev" in writes(log, "contacts")[0][2][0]) is alone, log
    for coll in ("conversations", "handoffs", "held_invites"):
        assert not [c for c in log if c[1] == coll], log
    held_queries = [c for c in log if c[1] == "messages" and any(f.get("status") == "held" for f in c[2])]
    assert not held_queries, log


async def test_a_steady_filing_turn_reads_and_writes_the_contact_once(make_runtime):
    rt = await make_runtime(sweep_interval_s=0)
    user = "rt-console"

    async def say(text="", payload=None):
        return await counted(rt.engine, inbound("console", user, text, payload), inline=True)

    replies, _ = await say("halo")
    assert [r.template for r in replies] == ["welcome/first_contact"]
    contact = await rt.stores.contacts.find_by_identity("console", user)
    assert "conv" not in contact  # plain reads leave the state out
    assert (await rt.stores.conversations.load(contact["_id"]))["version"] == 1  # saved inside the contact
    replies, log = await say(payload="consent:ya")
    assert_steady(log)  # the consent itself (a contact change) is in the same write as the state
    assert (await rt.stores.contacts.get(contact["_id"]))["consent"]["given"] is True
    await say("lapor")
    templates = []
    for step in ({"payload": "choice:pengaduan"},
                 {"text": "Jalan di depan SD Negeri 3 rusak parah dan berlubang besar sejak bulan lalu"}):
        replies, log = await say(**step)
        assert_steady(log)
        templates += [r.template for r in replies]
    assert templates == ["filing/ask_description", "filing/ask_location"]  # the turns really ran
    # a requested (not taken) handoff keeps the bot answering, and costs no query either (its marker's write
    # dropped the cached copy: one read, then cached again)
    await rt.stores.handoffs.open(contact["_id"], "tolong hubungi saya")
    replies, log = await say("batal")
    assert_steady(log, alone=False)
    assert replies
    replies, log = await say("halo")
    assert_steady(log)
    assert replies
    assert (await rt.stores.conversations.load(contact["_id"]))["version"] >= 5
    assert await rt.stores.db["conversations"].count_documents({}) == 0


async def test_a_steady_whatsapp_turn_costs_nothing_for_held_messages(make_runtime):
    rt = await make_runtime(sweep_interval_s=0)
    for step in ({"text": "halo"}, {"payload": "consent:ya"}, {"text": "lapor"}):
        await counted(rt.engine, inbound("whatsapp", WA, **step))
    replies, log = await counted(rt.engine, inbound("whatsapp", WA, payload="choice:pengaduan"))
    assert [r.template for r in replies] == ["filing/ask_description"]
    assert_steady(log)


async def test_a_version_conflict_rereads_contact_and_state_in_one_command(make_runtime):
    """Also: the rerun answers the message as received, though the lost attempt replaced it by the first
    message held while consent was asked."""
    rt = await make_runtime(sweep_interval_s=0)
    await counted(rt.engine, inbound("console", "rt-race", "halo"), inline=True)
    contact = await rt.stores.contacts.find_by_identity("console", "rt-race")
    convs, save = rt.stores.conversations, rt.stores.conversations.save

    async def another_process_first(state, contact_updates=None, **kw):
        convs.save = save
        await convs.col.update_one({"_id": contact["_id"]}, {"$inc": {"conv.version": 1, "rev": 1}})
        await save(state, contact_updates, **kw)

    convs.save = another_process_first
    stale = rt.engine.metrics["stale"]
    replies, log = await counted(rt.engine, inbound("console", "rt-race", payload="consent:ya"), inline=True)
    assert rt.engine.metrics["stale"] == stale + 1 and replies
    assert len(reads(log, "contacts")) == 1  # none for the cached copy, then the one re-read after the conflict
    assert len(writes(log, "contacts")) == 3  # the other process's, our lost save, our winning one
    assert (await rt.stores.contacts.get(contact["_id"]))["consent"]["given"] is True


async def test_two_messages_at_once_in_one_process_need_no_rerun(make_runtime):
    """The second turn waits for the contact's lock; its contact document was read before the first saved, so
    it re-reads (one find) instead of running into the version conflict and running twice."""
    import asyncio

    rt = await make_runtime(sweep_interval_s=0)
    for step in ({"text": "halo"}, {"payload": "consent:ya"}):
        await counted(rt.engine, inbound("console", "rt-twice", **step), inline=True)
    conflicts = rt.engine.metrics["conflicts"]
    results = await asyncio.gather(*(counted(rt.engine, inbound("console", "rt-twice", "lapor"), inline=True)
                                     for _ in range(2)))
    assert all(replies for replies, _ in results)
    assert rt.engine.metrics["conflicts"] == conflicts
    contact = await rt.stores.contacts.find_by_identity("console", "rt-twice")
    assert (await rt.stores.conversations.load(contact["_id"]))["version"] == 4


async def test_the_handoff_marker_follows_every_change(make_runtime):
    rt = await make_runtime(sweep_interval_s=0)
    st = rt.stores

    async def marker(c):
        return (await st.contacts.get(c["_id"])).get("handoff")

    async def taken(user):
        c = await st.contacts.get_or_create(Identity("telegram", user))
        h = await st.handoffs.open(c["_id"], "tolong")
        assert await marker(c) == {"id": h["_id"], "status": "requested"}
        await st.handoffs.take(h["_id"], "officer-1")
        assert await marker(c) == {"id": h["_id"], "status": "taken"}
        return c, h

    c, h = await taken("m-1")  # the officer hands back
    await st.handoffs.close(h["_id"], "handed_back", staff_id="officer-1")
    assert await marker(c) is None
    c, h = await taken("m-2")  # the idle sweeper
    later = utcnow() + timedelta(minutes=rt.settings.lapor_handoff_idle_minutes + 1)
    assert await rt.staff.handoffs.sweep(later) == 1
    assert await marker(c) is None
    c, h = await taken("m-3")  # a reply through the API that closes
    await st.handoffs.add_reply(h["_id"], "admin", "selesai", close=True)
    assert await marker(c) is None
    c, h = await taken("m-4")  # deleted by retention while still open
    assert await st.handoffs.delete_older_than(utcnow() + timedelta(days=1)) >= 1
    assert await marker(c) is None
    c, h = await taken("m-5")  # a stale marker (the handoff went without its marker): the intercept drops it
    await st.handoffs.col.delete_one({"_id": h["_id"]})
    from bot.staff import handoff
    assert await handoff.intercept(rt.engine, await st.contacts.get_with_state(c["_id"]),
                                   inbound("telegram", "m-5", "halo")) is False
    assert await marker(c) is None


async def test_start_up_moves_old_conversations_into_the_contacts(make_runtime, settings):
    from bot.storage import connect

    stores = await connect(settings.mongodb_uri, settings.lapor_db)
    try:
        a = await stores.contacts.get_or_create(Identity("telegram", "old-1"))
        await stores.contacts.col.update_one({"_id": a["_id"]}, {"$unset": {"conv": ""}})  # as written before
        await stores.db["conversations"].insert_many([
            {"_id": a["_id"], "version": 7, "flow": "filing", "step": "description", "slots": {"type": "pengaduan"},
             "pending": None, "back": [], "window": {}, "updated_at": utcnow(), "last_inbound_at": utcnow()},
            {"_id": "no-such-contact", "version": 2, "flow": None}])
        h = await stores.handoffs.open(a["_id"], None)
        await stores.handoffs.take(h["_id"], "officer-1")
        await stores.contacts.col.update_one({"_id": a["_id"]}, {"$unset": {"handoff": ""}})  # as before markers
    finally:
        await stores.close()
    rt = await make_runtime(sweep_interval_s=0)
    state = await rt.stores.conversations.load(a["_id"])
    assert (state["version"], state["flow"], state["slots"]) == (7, "filing", {"type": "pengaduan"})
    assert await rt.stores.db["conversations"].count_documents({}) == 0
    assert (await rt.stores.contacts.get(a["_id"]))["handoff"] == {"id": h["_id"], "status": "taken"}
    # a second start finds nothing to move and changes nothing
    from bot.storage.migrations import run
    assert await run(rt.stores.db) == {"conversations": 0, "handoff_markers": 0, "held_markers": 0}
    assert (await rt.stores.conversations.load(a["_id"]))["version"] == 7


# ------------------------------------------------------------------ end to end through the WhatsApp channel
@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv):
        yield rt, fake_graph, drv


async def consented(rt, g, drv) -> dict:
    await drv.text(WA, "halo")
    await g.wait_sent(WA, 1)
    consent = next(o for o in g.last_options(WA) if o[0] == "consent:ya")
    await drv.button(WA, *consent)
    await g.wait_sent(WA, 2)
    await rt.outbox.drain()
    return await rt.stores.contacts.find_by_identity("whatsapp", WA)


async def goes_to_the_officer(rt, g, drv, handoff: dict, text: str, wa: str = WA) -> None:
    """``text`` from the citizen reaches the handoff's transcript, and the bot says nothing."""
    n = len(g.to(wa))
    status, _ = await drv.text(wa, text)
    assert status == 200

    async def in_transcript():
        doc = await rt.stores.handoffs.get(handoff["_id"])
        return any(e["who"] == "citizen" and e["text"] == text for e in doc["transcript"])
    await wait_until(in_transcript)
    await rt.outbox.drain()
    assert len(g.to(wa)) == n  # the bot stayed quiet


async def test_a_taken_handoff_is_still_intercepted_through_the_channel(wa):
    rt, g, drv = wa
    contact = await consented(rt, g, drv)
    h = await rt.stores.handoffs.open(contact["_id"], None)
    await rt.stores.handoffs.take(h["_id"], "officer-1")
    await wait_until(lambda: len(g.to(WA)) >= 2)
    n = len(g.to(WA))
    await goes_to_the_officer(rt, g, drv, h, "ada kabar soal jalan rusak?")
    # the citizen takes the bot back: the handoff ends, the marker goes, the bot answers again
    await drv.text(WA, "kembali ke bot")
    await wait_until(lambda: len(g.to(WA)) > n)
    assert (await rt.stores.handoffs.get(h["_id"]))["status"] == "closed"
    assert "handoff" not in await rt.stores.contacts.get(contact["_id"])
    m = len(g.to(WA))
    await drv.text(WA, "lapor")
    await g.wait_sent(WA, m + 1)


async def test_held_whatsapp_messages_are_released_when_the_person_writes(wa):
    rt, g, drv = wa
    contact = await consented(rt, g, drv)
    await rt.stores.contacts.col.update_one(
        {"_id": contact["_id"]}, {"$set": {"conv.last_inbound_at": utcnow() - timedelta(days=2)}})
    g.last_inbound[WA] = time.time() - 2 * 86400
    await rt.engine.notify(contact, "notify/staff_reply", text="pesan yang tertahan")
    await wait_until(lambda: any(m["type"] == "template" for m in g.to(WA)))  # the invitation
    held = await rt.stores.messages.col.find({"contact_id": contact["_id"], "status": "held"}).to_list(None)
    assert len(held) == 1
    assert (await rt.stores.contacts.get(contact["_id"])).get("has_held") is True
    n = len(g.to(WA))
    await drv.text(WA, "halo lagi")
    await wait_until(lambda: any("pesan yang tertahan" in g.text_of(m) for m in g.to(WA)[n:]))
    assert await rt.stores.messages.col.count_documents({"contact_id": contact["_id"], "status": "held"}) == 0
    assert "has_held" not in await rt.stores.contacts.get(contact["_id"])
