"""WhatsApp: nothing acknowledged is lost (per-message batches, recovery after a crash), bad bodies are 200-and-recorded."""
import asyncio
import json
from datetime import timedelta

from bot.messages import Identity, InboundMessage, utcnow
from tests.channels.test_whatsapp import WA, chan, wa  # noqa: F401 (fixture)

OTHER = "6281234567002"


def msgs(payload):
    return payload["entry"][0]["changes"][0]["value"]["messages"]


async def test_one_malformed_message_does_not_block_its_batch(wa):
    rt, g, drv = wa
    good, _ = drv.message(OTHER, "text", {"body": "halo"})
    bad_ts, _ = drv.message(WA, "text", {"body": "halo"})
    msgs(bad_ts)[0]["timestamp"] = "kemarin"  # not an integer: still processed, with the arrival time
    batch = msgs(good) + msgs(bad_ts) + [{"from": {"x": 1}, "id": "wamid.bad", "type": "text"}, "nonsense",
                                         {"from": "628123", "id": 12, "type": "text"},
                                         {"from": "6281234567003", "id": "wamid.odd", "type": "interactive",
                                          "interactive": {"button_reply": "not an object"}}]
    msgs(good)[:] = batch
    assert (await drv.post(good)).status == 200
    await chan(rt).idle()
    await rt.outbox.drain()
    assert g.to(OTHER) and g.to(WA) and g.to("6281234567003")
    entry = await rt.stores.db.whatsapp_inbox.find_one({})
    assert entry["status"] == "done" and "payload" not in entry
    assert len(entry["rejected"]) == 3  # the three items without a usable sender or id, recorded


async def test_signed_bodies_that_cannot_be_stored_are_answered_200_and_recorded(wa):
    rt, g, drv = wa
    bodies = [b'{"entry": [{"\\u0000k": 1}]}', b'{"entry": [], "x": "\\ud800"}', b'{"entry": [], "n": 123456789012345678901}',
              b"[" * 5000, b"{" * 40 + b"}" * 40, b"\xff\xfe{}", b"null", b'"x"']
    for raw in bodies:
        resp = await drv.post({}, raw=raw)
        assert resp.status == 200, raw[:30]
    await chan(rt).idle()
    # unparseable ones are recorded without their body; parseable ones are stored cleaned and processed
    rejected = await rt.stores.db.whatsapp_inbox.count_documents({"status": "rejected"})
    assert rejected == 5
    assert await rt.stores.db.whatsapp_inbox.count_documents({"status": "done"}) == 3
    # the same message with a lone surrogate and a huge number is still answered
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    raw = json.dumps(payload).replace('"halo"', '"halo \\ud800", "n": 123456789012345678901234').encode()
    assert (await drv.post(payload, raw=raw)).status == 200
    await g.wait_sent(WA, 1)
    stored = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert stored["text"] == "halo \ufffd" and stored["status"] == "processed"


async def crash_mid_turn(rt, payload, wamid, wa_id=WA):
    """What a kill -9 leaves behind: the body in the inbox (pending), the inbound stored, its turn not run."""
    contact = await rt.stores.contacts.get_or_create(Identity("whatsapp", wa_id), "id")
    await rt.stores.messages.store_inbound(InboundMessage(Identity("whatsapp", wa_id), wamid, text="halo"),
                                           contact["_id"])
    past = utcnow() - timedelta(minutes=5)
    await rt.stores.db.messages.update_one({"channel_message_id": wamid}, {"$set": {"lease_until": past}})
    await rt.stores.db.whatsapp_inbox.insert_one({"payload": payload, "status": "processing", "received_at": past,
                                                  "next_try_at": past, "attempts": 0})


async def test_recovery_runs_a_turn_that_died_after_its_message_was_stored(wa):
    rt, g, drv = wa
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    await crash_mid_turn(rt, payload, wamid)
    assert await chan(rt).recover_once() == 1
    await g.wait_sent(WA, 1)
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert doc["status"] == "processed"
    assert (await rt.stores.db.whatsapp_inbox.find_one({}))["status"] == "done"
    # Meta redelivers the same body later: not answered again
    assert (await drv.post(payload)).status == 200
    await chan(rt).idle()
    await rt.outbox.drain()
    assert len(g.to(WA)) == 1


async def test_recovery_never_answers_twice_when_the_turn_was_saved_before_the_crash(wa):
    rt, g, drv = wa
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    assert (await drv.post(payload)).status == 200
    await g.wait_sent(WA, 1)
    await chan(rt).idle()
    await rt.outbox.drain()
    # the crash came after the conversation was saved but before the inbound was marked processed
    past = utcnow() - timedelta(minutes=5)
    await rt.stores.db.messages.update_one({"channel_message_id": wamid},
                                           {"$set": {"status": "received", "lease_until": past}})
    assert await chan(rt).recover_once() == 1  # the stored message is the inbox: taken over and rerun
    await rt.outbox.drain()
    assert len(g.to(WA)) == 1
    assert (await rt.stores.db.messages.find_one({"channel_message_id": wamid}))["status"] == "processed"


async def test_a_message_another_live_turn_holds_runs_once_its_lease_is_over(wa):
    rt, g, drv = wa
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    contact = await rt.stores.contacts.get_or_create(Identity("whatsapp", WA), "id")
    await rt.stores.messages.store_inbound(InboundMessage(Identity("whatsapp", WA), wamid, text="halo"),
                                           contact["_id"])  # a live lease: another process runs this turn
    assert (await drv.post(payload)).status == 200  # the redelivery is acknowledged, not run a second time
    await chan(rt).idle()
    assert await chan(rt).recover_once() == 0  # the lease is live
    assert g.to(WA) == [] and await rt.stores.db.whatsapp_inbox.count_documents({}) == 0
    # that process died: once the lease is over, the recovery runs the turn
    past = utcnow() - timedelta(minutes=5)
    await rt.stores.db.messages.update_one({"channel_message_id": wamid}, {"$set": {"lease_until": past}})
    assert await chan(rt).recover_once() == 1
    await g.wait_sent(WA, 1)
    assert (await rt.stores.db.messages.find_one({"channel_message_id": wamid}))["status"] == "processed"


async def test_a_turn_waiting_here_past_its_lease_is_not_run_again_by_this_process_s_recovery(wa, monkeypatch):
    """A backlog longer than the lease: the message's own queued turn runs it, once; the recovery leaves it."""
    rt, g, drv = wa
    real_handle = rt.engine.handle
    may_run = asyncio.Event()

    async def slow_handle(inbound, **kw):
        await may_run.wait()
        return await real_handle(inbound, **kw)
    monkeypatch.setattr(rt.engine, "handle", slow_handle)
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    assert (await drv.post(payload)).status == 200
    past = utcnow() - timedelta(minutes=5)
    await rt.stores.db.messages.update_one({"channel_message_id": wamid}, {"$set": {"lease_until": past}})
    assert await chan(rt).recover_once() == 0
    may_run.set()
    await chan(rt).idle()
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert doc["status"] == "processed" and "reclaimed" not in doc
    assert len(g.to(WA)) == 1
