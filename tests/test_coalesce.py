"""Group commit (bot/storage/coalesce.py): concurrent bookkeeping writes go out as one command, each caller gets
its own result or error, nothing is lost at stop or in an outage. Commands are counted by the bot's own command
listener (``stores.roundtrips``) on the real embedded database."""
import asyncio

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

from bot.messages import Identity, InboundMessage, OutboundMessage
from bot.storage.coalesce import Coalescer
from bot.storage.messages import MessageStore
from channels.inbox import Inbox


def cmds(stores, key: str) -> int:
    return stores.roundtrips.counts[key]


def inbound(i: int, mid: str | None = None) -> InboundMessage:
    return InboundMessage(Identity("whatsapp", f"62812000{i:04d}"), mid or f"wamid.C{i}", text="halo")


async def test_concurrent_inbound_inserts_and_marks_are_one_command_each(stores):
    n = 20
    before_ins, before_upd = cmds(stores, "insert messages"), cmds(stores, "update messages")
    ids = await asyncio.gather(*(stores.messages.store_inbound(inbound(i), ObjectId()) for i in range(n)))
    assert all(ids) and len(set(ids)) == n
    assert cmds(stores, "insert messages") - before_ins == 1  # one journaled insert for the 20 turns
    await asyncio.gather(*(stores.messages.mark_inbound(mid, "processed") for mid in ids))
    assert cmds(stores, "update messages") - before_upd == 1
    docs = await stores.messages.col.find({"_id": {"$in": ids}}).to_list(None)
    assert len(docs) == n and all(d["status"] == "processed" and "lease_until" not in d for d in docs)
    # idle afterwards: no task left running
    assert stores.messages._updates._task.done() and stores.messages._inserts._task.done()


async def test_a_lone_write_goes_out_at_once_as_its_own_command(stores):
    mid = await stores.messages.store_inbound(inbound(1), ObjectId())
    before = cmds(stores, "update messages")
    await stores.messages.mark_inbound(mid, "failed", error="Boom")
    assert cmds(stores, "update messages") - before == 1
    assert (await stores.messages.get(mid))["status"] == "failed"


async def test_a_duplicate_in_a_batch_fails_only_its_own_caller(stores):
    first = await stores.messages.store_inbound(inbound(0, "wamid.SAME"), ObjectId())
    await stores.messages.mark_inbound(first, "processed")
    before = cmds(stores, "insert messages")
    got = await asyncio.gather(*(stores.messages.store_inbound(inbound(i, "wamid.SAME" if i == 3 else None),
                                                               ObjectId()) for i in range(8)))
    assert cmds(stores, "insert messages") - before == 1
    assert got[3] is None  # seen and processed already: the engine stops there
    assert all(g is not None for i, g in enumerate(got) if i != 3)
    assert await stores.messages.col.count_documents({"direction": "in"}) == 8

    inbox = Inbox(stores.db, "test_inbox")
    await inbox.store({"n": 0}, key=42)
    stored = await asyncio.gather(*(inbox.store({"n": i}, key=40 + i) for i in range(5)))
    assert stored[2] is None and all(stored[i] for i in (0, 1, 3, 4))
    assert cmds(stores, "insert test_inbox") == 2
    await inbox.close()


async def test_claims_in_one_batch_never_claim_twice_and_need_no_read_back(stores):
    msgs = [OutboundMessage(Identity("whatsapp", f"62812{i:05d}"), f"balasan {i}") for i in range(6)]
    docs = await stores.messages.queue(msgs)
    upd, find = cmds(stores, "update messages"), cmds(stores, "find messages")
    # every claim held in memory and won: one conditional update, nothing read back
    got = await asyncio.gather(*(stores.messages.claim(d["_id"], doc=d) for d in docs[:4]))
    assert cmds(stores, "update messages") - upd == 1 and cmds(stores, "find messages") == find
    assert [g["_id"] for g in got] == [d["_id"] for d in docs[:4]]
    assert all(g["status"] == "sending" and g["attempts"] == 1 and g["text"] for g in got)
    stored = await stores.messages.col.find({"_id": {"$in": [d["_id"] for d in docs[:4]]}}).to_list(None)
    assert all(d["status"] == "sending" and d["attempts"] == 1 for d in stored)
    # the same id twice in a batch, and ids claimed already: each claimed at most once, read back once
    find = cmds(stores, "find messages")
    again = await asyncio.gather(stores.messages.claim(docs[4]["_id"]), stores.messages.claim(docs[4]["_id"]),
                                 stores.messages.claim(docs[0]["_id"], doc=docs[0]),
                                 stores.messages.claim(docs[5]["_id"], doc=docs[5]))
    assert again[0]["_id"] == docs[4]["_id"] and again[1] is None and again[2] is None
    assert again[3]["_id"] == docs[5]["_id"] and again[3]["status"] == "sending"
    assert cmds(stores, "find messages") - find == 1


async def test_marks_sent_and_receipts_are_batched_and_never_move_backwards(stores):
    msgs = [OutboundMessage(Identity("whatsapp", f"62813{i:05d}"), f"balasan {i}") for i in range(5)]
    docs = await stores.messages.queue(msgs)
    await asyncio.gather(*(stores.messages.claim(d["_id"], doc=d) for d in docs))
    upd = cmds(stores, "update messages")
    await asyncio.gather(*(stores.messages.mark_sent(d["_id"], f"wamid.S{i}") for i, d in enumerate(docs)))
    assert cmds(stores, "update messages") - upd == 1
    await stores.messages.mark_provider_status("wamid.S0", "read")
    upd, find = cmds(stores, "update messages"), cmds(stores, "find messages")
    known = await asyncio.gather(*(stores.messages.mark_provider_status(f"wamid.S{i}", "delivered") for i in range(5)),
                                 stores.messages.mark_provider_status("wamid.unknown", "delivered"))
    assert known == [True] * 5 + [False]  # S0 is known (read already), the unknown one is not
    assert cmds(stores, "update messages") - upd == 1 and cmds(stores, "find messages") - find == 1
    by = {d["provider_id"]: d["status"] for d in await stores.messages.col.find({"provider_id": {"$ne": None}})
          .to_list(None)}
    assert by == {"wamid.S0": "read", **{f"wamid.S{i}": "delivered" for i in range(1, 5)}}


async def test_stop_writes_what_is_queued_and_later_writes_go_alone(stores):
    ids = [await stores.messages.store_inbound(inbound(i), ObjectId()) for i in range(10)]
    tasks = [asyncio.create_task(stores.messages.mark_inbound(mid, "processed")) for mid in ids]
    await asyncio.sleep(0)  # submitted, not yet written
    await stores.messages.close()
    assert all(t.done() for t in tasks)
    assert await stores.messages.col.count_documents({"_id": {"$in": ids}, "status": "processed"}) == 10
    late = await stores.messages.store_inbound(inbound(99), ObjectId())
    await stores.messages.mark_inbound(late, "processed")
    assert (await stores.messages.get(late))["status"] == "processed"


async def test_database_away_every_caller_hears_it_and_nothing_is_dropped(mongo_server):
    dead = AsyncMongoClient("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300")
    try:
        store = MessageStore(dead["t_outage"])
        got = await asyncio.gather(*(store.mark_inbound(ObjectId(), "processed") for _ in range(6)),
                                   return_exceptions=True)
        assert len(got) == 6 and all(isinstance(g, PyMongoError) for g in got)
        assert store._updates._task.done()  # the drain ended; the next caller starts it again
        again = await asyncio.gather(store.mark_inbound(ObjectId(), "processed"), return_exceptions=True)
        assert isinstance(again[0], PyMongoError)
    finally:
        await dead.close()


async def test_a_failed_batch_does_not_stop_the_next_one():
    calls: list[list] = []

    async def run(items):
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("away")
        return [i * 10 for i in items]

    c = Coalescer(run)
    first = await asyncio.gather(*(c.submit(i) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in first)
    assert await asyncio.gather(*(c.submit(i) for i in range(3))) == [0, 10, 20]
    assert [len(b) for b in calls] == [3, 3]


async def test_an_item_error_reaches_only_its_caller_and_a_cancelled_caller_is_left_out():
    seen: list = []
    gate = asyncio.Event()

    async def run(items):
        seen.extend(items)
        await gate.wait()
        return [ValueError(i) if i == "bad" else i.upper() for i in items]

    c = Coalescer(run)
    first = asyncio.create_task(c.submit("a"))  # in flight: the next ones queue up behind it
    await asyncio.sleep(0.01)
    waiting = [asyncio.create_task(c.submit(x)) for x in ("b", "bad", "gone", "c")]
    await asyncio.sleep(0)
    waiting[2].cancel()
    gate.set()
    assert await first == "A"
    out = await asyncio.gather(*waiting, return_exceptions=True)
    assert out[0] == "B" and isinstance(out[1], ValueError) and out[3] == "C"
    assert "gone" not in seen and seen == ["a", "b", "bad", "c"]
    assert c.batches == 2


@pytest.mark.parametrize("n", [300])
async def test_a_burst_larger_than_one_command_goes_out_in_full_commands(stores, n):
    ids = await asyncio.gather(*(stores.messages.store_inbound(inbound(i), ObjectId()) for i in range(n)))
    before = cmds(stores, "update messages")
    await asyncio.gather(*(stores.messages.mark_inbound(mid, "processed") for mid in ids))
    assert cmds(stores, "update messages") - before == -(-n // stores.messages._updates.max_items)
    assert await stores.messages.col.count_documents({"status": "processed"}) == n


async def test_a_mark_whose_caller_was_cancelled_is_still_written(stores):
    """A 'sent' mark records what already happened: written even if its caller is cancelled (a stop)."""
    docs = await stores.messages.queue([OutboundMessage(Identity("whatsapp", "6281300000"), "balasan")])
    await stores.messages.claim(docs[0]["_id"], doc=docs[0])
    task = asyncio.create_task(stores.messages.mark_sent(docs[0]["_id"], "wamid.X"))
    await asyncio.sleep(0)
    task.cancel()
    await stores.messages.close()
    assert (await stores.messages.get(docs[0]["_id"]))["status"] == "sent"


async def test_replies_of_concurrent_turns_are_one_insert(stores):
    before = cmds(stores, "insert messages")
    turns = [[OutboundMessage(Identity("whatsapp", f"62814{t:05d}"), f"balasan {t}.{k}") for k in range(t % 3 + 1)]
             for t in range(10)]
    stored = await asyncio.gather(*(stores.messages.queue(msgs) for msgs in turns))
    assert cmds(stores, "insert messages") - before == 1
    assert [len(s) for s in stored] == [len(m) for m in turns]
    assert all(m.message_id == d["_id"] for msgs, docs in zip(turns, stored) for m, d in zip(msgs, docs))
    assert await stores.messages.col.count_documents({"direction": "out"}) == sum(len(m) for m in turns)


async def test_a_turns_processed_mark_and_its_replys_claim_share_one_command(stores):
    mid = await stores.messages.store_inbound(inbound(7), ObjectId())
    docs = await stores.messages.queue([OutboundMessage(Identity("whatsapp", "6281200007"), "balasan")])
    upd, find = cmds(stores, "update messages"), cmds(stores, "find messages")
    _, claimed = await asyncio.gather(stores.messages.mark_inbound(mid, "processed"),
                                      stores.messages.claim(docs[0]["_id"], doc=docs[0]))
    assert cmds(stores, "update messages") - upd == 1 and cmds(stores, "find messages") == find
    assert claimed["status"] == "sending" and (await stores.messages.get(mid))["status"] == "processed"
    # a mark that changes nothing (a message gone) makes the batch read its claims back: still exact
    more = await stores.messages.queue([OutboundMessage(Identity("whatsapp", "6281200008"), "lagi")])
    find = cmds(stores, "find messages")
    _, claimed = await asyncio.gather(stores.messages.mark_inbound(ObjectId(), "processed"),
                                      stores.messages.claim(more[0]["_id"], doc=more[0]))
    assert claimed["_id"] == more[0]["_id"] and claimed["attempts"] == 1
    assert cmds(stores, "find messages") - find == 1


async def test_inbound_messages_and_replies_stored_together_share_one_insert_and_keep_their_own_errors(stores):
    seen = await stores.messages.store_inbound(inbound(900, "wamid.seen"), ObjectId())
    before = cmds(stores, "insert messages")
    replies = [[OutboundMessage(Identity("whatsapp", f"62812000{i:04d}"), f"balasan {i}")] for i in range(5)]
    results = await asyncio.gather(
        *(stores.messages.store_inbound(inbound(i), ObjectId()) for i in range(5)),
        stores.messages.store_inbound(inbound(901, "wamid.seen"), ObjectId()),  # a redelivery: not stored again
        *(stores.messages.queue(r) for r in replies))
    assert cmds(stores, "insert messages") - before == 1  # one journaled insert for all of them
    stored, again, queued = results[:5], results[5], results[6:]
    assert all(stored) and again is None and seen  # the redelivery (its first turn is live) is not stored again
    assert await stores.messages.col.count_documents({"channel_message_id": "wamid.seen"}) == 1
    texts = {d["text"] for d in await stores.messages.col.find({"direction": "out"}).to_list(None)}
    assert texts == {f"balasan {i}" for i in range(5)} and all(len(q) == 1 for q in queued)
