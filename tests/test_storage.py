"""Storage round-trips on a real MongoDB-wire server: indexes, duplicate inbound, optimistic versions, outbox claims."""
import asyncio

import pytest

from bot.messages import Identity, InboundMessage, OutboundMessage
from bot.storage.conversations import VersionConflict


async def test_every_store_creates_its_indexes(stores):
    names = {c: [i["name"] for i in await (await stores.db[c].list_indexes()).to_list()] for c in
             ("contacts", "messages", "reports")}
    assert any("channel" in n and "user_id" in n for n in names["contacts"])
    assert "conv_updated_at" in names["contacts"]  # the conversation state's retention
    assert "inbound_once" in names["messages"] and "retention" in names["messages"]
    assert "tracking_id_1" in names["reports"]
    info = await stores.db.messages.index_information()
    assert info["retention"]["expireAfterSeconds"] == 365 * 86400


async def test_contact_get_or_create_is_one_document_per_identity(stores):
    ident = Identity("telegram", "12345", "Budi")
    a, b = await asyncio.gather(stores.contacts.get_or_create(ident), stores.contacts.get_or_create(ident))
    assert a["_id"] == b["_id"]
    assert await stores.db.contacts.count_documents({"channel": "telegram", "user_id": "12345"}) == 1
    other = await stores.contacts.get_or_create(Identity("whatsapp", "12345"))
    assert other["_id"] != a["_id"] and other["language"] == "id"


async def test_duplicate_inbound_is_stored_once(stores):
    c = await stores.contacts.get_or_create(Identity("whatsapp", "62811"))
    msg = InboundMessage(Identity("whatsapp", "62811"), "wamid.ABC", text="halo")
    first = await stores.messages.store_inbound(msg, c["_id"])
    again = await stores.messages.store_inbound(msg, c["_id"])
    assert first is not None and again is None
    assert await stores.db.messages.count_documents({"channel_message_id": "wamid.ABC"}) == 1
    # the same id on another channel is a different message
    assert await stores.messages.store_inbound(
        InboundMessage(Identity("telegram", "1"), "wamid.ABC", text="x"), c["_id"]) is not None


async def test_conversation_optimistic_version(stores):
    c1 = (await stores.contacts.get_or_create(Identity("telegram", "c1")))["_id"]
    state = await stores.conversations.load(c1)
    stale = dict(state)
    state["slots"] = {"a": 1}
    await stores.conversations.save(state)
    assert state["version"] == 1
    with pytest.raises(VersionConflict):
        await stores.conversations.save(stale)  # another writer saved first
    fresh = await stores.conversations.load(c1)
    fresh["slots"]["b"] = 2
    await stores.conversations.save(fresh, {"language": "en"})  # the contact's changes in the same update
    assert (await stores.conversations.load(c1))["slots"] == {"a": 1, "b": 2}
    contact = await stores.contacts.get(c1)
    assert contact["language"] == "en" and "conv" not in contact  # plain reads leave the state out
    with pytest.raises(VersionConflict):  # a contact erased meanwhile: nothing is written back
        await stores.contacts.delete(c1)
        await stores.conversations.save(fresh)
    assert await stores.db.contacts.count_documents({"_id": c1}) == 0


async def test_outbox_message_is_claimed_once_and_never_moves_backwards(stores):
    msg = OutboundMessage(Identity("telegram", "9"), "hai")
    [doc] = await stores.messages.queue([msg])
    claims = await asyncio.gather(*(stores.messages.claim(doc["_id"]) for _ in range(5)))
    assert sum(1 for c in claims if c) == 1
    await stores.messages.mark_sent(doc["_id"], "p-1")
    await stores.messages.update_provider_status("p-1", "read")
    assert await stores.messages.update_provider_status("p-1", "delivered") is None  # late receipt
    assert (await stores.messages.get(doc["_id"]))["status"] == "read"


async def test_the_sweep_leaves_a_message_to_the_live_process_that_queued_it(stores):
    """A message this process's outbox sends from memory names it (``queued_by``); another process's sweep
    skips it while this one lives (``leave_to``), unless it has waited ``leave_s``. Others go to the sweep."""
    from datetime import timedelta

    from bot.messages import utcnow
    from bot.storage.leases import PROCESS_ID

    [mine] = await stores.messages.queue([OutboundMessage(Identity("telegram", "7"), "a")], pushed_here={"telegram"})
    [loose] = await stores.messages.queue([OutboundMessage(Identity("telegram", "8"), "b")], pushed_here={"sms"})
    assert mine["queued_by"] == PROCESS_ID and "queued_by" not in loose
    due = {d["_id"] for d in await stores.messages.due("telegram", leave_to=[PROCESS_ID])}
    assert due == {loose["_id"]}  # as a peer's sweep sees it while this process lives
    assert {d["_id"] for d in await stores.messages.due("telegram")} == {mine["_id"], loose["_id"]}
    await stores.messages.col.update_one({"_id": mine["_id"]},
                                         {"$set": {"next_attempt_at": utcnow() - timedelta(seconds=61)}})
    due = {d["_id"] for d in await stores.messages.due("telegram", leave_to=[PROCESS_ID], leave_s=60)}
    assert due == {mine["_id"], loose["_id"]}  # waited too long: taken anyway


async def test_report_create_is_idempotent_per_draft(stores):
    a = await stores.reports.create({"draft_id": "d1", "description": "x"})
    b = await stores.reports.create({"draft_id": "d1", "description": "x"})
    assert a["tracking_id"] == b["tracking_id"]
    assert await stores.db.reports.count_documents({}) == 1


async def test_leases_allow_one_holder(stores):
    assert await stores.leases.acquire("dispatch:x", owner="p1")
    assert not await stores.leases.acquire("dispatch:x", owner="p2")
    assert await stores.leases.acquire("dispatch:x", owner="p1")  # renew
    await stores.leases.release("dispatch:x", owner="p1")
    assert await stores.leases.acquire("dispatch:x", owner="p2")


async def test_batch_claims_never_overlap_and_results_are_written_in_one_bulk(stores):
    msgs = [OutboundMessage(Identity("telegram", f"b{i}"), "hai", priority=9) for i in range(30)]
    docs = await stores.messages.queue(msgs)
    ids = [d["_id"] for d in docs]
    claims = await asyncio.gather(*(stores.messages.claim_many(ids[k:k + 20]) for k in (0, 5, 10)),
                                  stores.messages.claim(ids[3]))
    got = [d["_id"] for c in claims[:3] for d in c] + ([ids[3]] if claims[3] else [])
    assert sorted(got) == sorted(ids)  # every message claimed exactly once across the racing batches
    assert all(d["status"] == "sending" and d["attempts"] == 1 for c in claims[:3] for d in c)
    assert await stores.messages.claim_many(ids) == []  # nothing left in 'queued'
    from bot.messages import utcnow

    await stores.messages.mark_sent_many([(i, f"p{k}", utcnow()) for k, i in enumerate(ids[:10])])
    assert await stores.messages.col.count_documents({"_id": {"$in": ids}, "status": "sent"}) == 10
    assert (await stores.messages.get(ids[4]))["provider_id"] == "p4"


async def test_window_limiter_never_exceeds_the_cap_in_any_second_and_serves_replies_first():
    import time

    from bot.ratelimit import WindowLimiter

    lim = WindowLimiter(20)
    grants: list[tuple[float, int]] = []

    async def one(prio):
        await lim.acquire(prio)
        grants.append((time.monotonic(), prio))
        await asyncio.sleep(0.01)  # the provider call
        lim.release()

    tasks = [asyncio.create_task(one(9)) for _ in range(45)]
    await asyncio.sleep(0.3)
    tasks.append(asyncio.create_task(one(0)))
    await asyncio.gather(*tasks)
    times = [t for t, _ in grants]
    assert all(sum(1 for u in times if t <= u < t + 1.0) <= 20 for t in times)
    assert (times[-1] - times[0]) < 45 / 20 * 1.15  # about the cap, not far below
    reply_at = next(i for i, (_, p) in enumerate(grants) if p == 0)
    assert reply_at <= 8  # the reply took the next free slot, not the 46th


async def test_stale_inbound_finds_expired_leases_and_dead_owners_oldest_first_and_one_process_takes_each(stores):
    from datetime import timedelta

    from bot.messages import utcnow

    msgs = stores.messages
    contact = await stores.contacts.get_or_create(Identity("whatsapp", "628111"), "id")
    now = utcnow()
    ids = {}
    for name, minutes_ago in (("live", 1), ("expired", 3), ("dead", 2), ("older_expired", 4)):
        m = InboundMessage(Identity("whatsapp", "628111"), f"wamid.{name}", text=name,
                           received_at=now - timedelta(minutes=minutes_ago))
        ids[name] = await msgs.store_inbound(m, contact["_id"])
    past = now - timedelta(seconds=1)
    await msgs.col.update_many({"_id": {"$in": [ids["expired"], ids["older_expired"]]}},
                               {"$set": {"lease_until": past}})
    await msgs.col.update_one({"_id": ids["dead"]}, {"$set": {"owner": "host:1:dead"}})
    assert [d["text"] for d in await msgs.stale_inbound("whatsapp", [])] == ["older_expired", "expired"]
    found = await msgs.stale_inbound("whatsapp", ["host:1:dead"])
    assert [d["text"] for d in found] == ["older_expired", "expired", "dead"]
    assert await msgs.stale_inbound("telegram", ["host:1:dead"]) == []
    assert [await msgs.take_over(d) for d in found] == [True, True, True]
    assert [await msgs.take_over(d) for d in found] == [False, False, False]  # one taker each
    assert await msgs.stale_inbound("whatsapp", ["host:1:dead"]) == []
    rebuilt = msgs.inbound_from_doc(found[0], Identity("whatsapp", "628111"))
    assert (rebuilt.text, rebuilt.channel_message_id, rebuilt.received_at) == (
        "older_expired", "wamid.older_expired", found[0]["created_at"])


async def test_earlier_in_flight_sees_the_contacts_running_messages_of_the_last_two_minutes(stores):
    from datetime import timedelta

    from bot.messages import utcnow

    msgs, who = stores.messages, Identity("whatsapp", "628222")
    contact = await stores.contacts.get_or_create(who, "id")
    now = utcnow().replace(microsecond=500_400)  # stored as .500 (milliseconds)

    async def stored(name: str, at) -> object:
        return await msgs.store_inbound(InboundMessage(who, f"wamid.{name}", text=name, received_at=at), contact["_id"])

    await stored("old", now - timedelta(minutes=5))  # still running, but older than the window
    first = await stored("first", now - timedelta(seconds=3))
    same_ms_a = await stored("a", now)
    same_ms_b = await stored("b", now.replace(microsecond=500_900))  # same stored millisecond, later id
    assert await msgs.earlier_in_flight(contact["_id"], first, now - timedelta(seconds=3)) is False
    assert await msgs.earlier_in_flight(contact["_id"], same_ms_a, now) is True  # "first" still runs
    await msgs.mark_inbound(first, "processed")
    # same millisecond: ordered by id, whichever microseconds each process holds in memory (no mutual wait)
    assert await msgs.earlier_in_flight(contact["_id"], same_ms_a, now) is False
    assert await msgs.earlier_in_flight(contact["_id"], same_ms_b, now.replace(microsecond=500_900)) is True
    await msgs.col.update_one({"_id": same_ms_a}, {"$set": {"lease_until": utcnow() - timedelta(seconds=1)}})
    assert await msgs.earlier_in_flight(contact["_id"], same_ms_b, now) is False  # its process is gone


async def test_the_old_in_flight_index_is_dropped_at_start(stores):
    await stores.messages.col.create_index([("contact_id", 1), ("created_at", 1)], name="inbound_in_flight",
                                           partialFilterExpression={"direction": "in", "status": "received"})
    await stores.messages.ensure_indexes()
    await stores.messages.ensure_indexes()  # idempotent
    assert "inbound_in_flight" not in await stores.messages.col.index_information()
