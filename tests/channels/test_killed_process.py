"""What another process's kill -9 leaves behind is taken over within seconds, and never answered twice or not at
all: inbound turns (the stored message is the inbox) of a process whose heartbeat expired, a turn saved just before the kill whose
replies were not queued yet, and sends it had claimed (in-process: the dead process is a heartbeat document)."""
import asyncio
from datetime import timedelta

from bot.messages import Identity, InboundMessage, utcnow
from bot.storage.leases import PROCESS_ID
from tests.channels.test_whatsapp import WA, chan, wa  # noqa: F401 (fixture)
from tests.fixtures.fakes import wait_until

DEAD = "host:4242:killed"


async def heartbeat(rt, owner: str, alive: bool) -> None:
    until = utcnow() + timedelta(seconds=10 if alive else -5)
    await rt.stores.db.processes.update_one({"_id": owner}, {"$set": {"until": until}}, upsert=True)


async def killed_mid_turn(rt, payload, wamid, owner: str = DEAD) -> None:
    """A message the other process stored (its inbox) and acknowledged, with a fresh lease, its turn not run."""
    contact = await rt.stores.contacts.get_or_create(Identity("whatsapp", WA), "id")
    await rt.stores.messages.store_inbound(InboundMessage(Identity("whatsapp", WA), wamid, text="halo"),
                                           contact["_id"])
    await rt.stores.db.messages.update_one({"channel_message_id": wamid}, {"$set": {"owner": owner}})


async def test_a_dead_process_s_entries_are_taken_over_before_their_leases_end(wa):
    rt, g, drv = wa
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    await killed_mid_turn(rt, payload, wamid)
    await heartbeat(rt, DEAD, alive=True)  # still beating: its leases are respected
    assert await chan(rt).recover_stored() == 0
    assert await rt.stores.messages.reclaim_inbound("whatsapp", wamid) is None
    await heartbeat(rt, DEAD, alive=False)  # killed: its heartbeat expired, its 60 s leases have not
    # this bot's recovery loop (every few seconds) takes it over by itself, no call from here
    await g.wait_sent(WA, 1, timeout=60)
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert doc["status"] == "processed" and doc["reclaimed"] == 1 and doc["owner"] == PROCESS_ID
    assert await chan(rt).recover_stored() == 0  # nothing left behind
    assert (await drv.post(payload)).status == 200  # Meta redelivers it: not answered again
    await chan(rt).idle()
    await rt.outbox.drain()
    assert len(g.to(WA)) == 1


async def test_a_turn_saved_just_before_the_kill_still_gets_its_replies_once(wa, monkeypatch):
    rt, g, drv = wa
    real_enqueue = rt.outbox.enqueue
    killed = asyncio.Event()

    async def die_before_queueing(msgs, **kw):  # the state is saved; the process dies before the insert
        if not killed.is_set():
            killed.set()
            raise asyncio.CancelledError
        return await real_enqueue(msgs, **kw)
    monkeypatch.setattr(rt.outbox, "enqueue", die_before_queueing)
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    assert (await drv.post(payload)).status == 200
    await killed.wait()
    await chan(rt).idle()
    inbound = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert inbound["status"] == "received" and not g.to(WA)
    # the process that ran it is now known dead (its id is this process's in-process: renamed to a dead one)
    await rt.stores.db.messages.update_one({"_id": inbound["_id"]}, {"$set": {"owner": DEAD}})
    await heartbeat(rt, DEAD, alive=False)
    await chan(rt).recover_stored()  # or the recovery loop, whichever comes first
    sent = await g.wait_sent(WA, 1)
    await rt.outbox.drain()
    state = await rt.stores.conversations.stored(inbound["contact_id"])
    assert [g.text_of(m) for m in sent] == [r["text"] for r in state["replied"]["out"]]
    assert (await rt.stores.db.messages.find_one({"_id": inbound["_id"]}))["status"] == "processed"
    assert await rt.stores.db.messages.count_documents({"direction": "out", "contact_id": inbound["contact_id"]}) \
        == len(state["replied"]["out"])
    await asyncio.sleep(0)
    assert len(g.to(WA)) == len(sent)


async def test_sends_claimed_by_a_dead_process_end_interrupted_at_once(wa):
    rt, g, drv = wa
    messages = rt.stores.db.messages
    now = utcnow()
    base = {"direction": "out", "channel": "whatsapp", "user_id": WA, "status": "sending", "text": "x",
            "lease_until": now + timedelta(seconds=60), "priority": 0}
    await messages.insert_many([{**base, "claimed_by": DEAD}, {**base, "claimed_by": "host:1:alive"}])
    await heartbeat(rt, DEAD, alive=False)
    await heartbeat(rt, "host:1:alive", alive=True)

    async def interrupted():
        return await messages.count_documents({"failure_reason": "interrupted"}) == 1
    await wait_until(interrupted, 30)  # the outbox sweep of this bot: no need to wait out the 60 s lease
    assert await messages.count_documents({"status": "sending", "claimed_by": "host:1:alive"}) == 1
