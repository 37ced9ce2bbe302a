"""Dispatch through the shared outbox: idempotent deliveries, rate caps, opt-out mid-run, WhatsApp window."""
from __future__ import annotations

import asyncio
import time

from outreach.campaigns import Campaign
from outreach.dispatch import Dispatcher, create_deliveries
from tests.chat import Chat
from tests.outreach.helpers import RecordingSender, add_contacts, contact_doc, with_sender

WA_TEMPLATE = {"name": "lapor_sosialisasi", "params": ["{{ contact.name }}", "{{ campaign.goal }}"]}


def camp(**kw) -> Campaign:
    base = dict(name="uji", goal="Uji kampanye", template={"id": "Halo {{ contact.name }} dari {{ contact.institution }}",
                                                          "en": "Hi {{ contact.name }}"},
                audience={"segment": ["kampus"]}, whatsapp_template=WA_TEMPLATE)
    base.update(kw)
    return Campaign(**base)


async def test_delivery_creation_is_idempotent(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=200)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(300)] +
                       [contact_doc("telegram", f"s{i}", segment="sekolah") for i in range(20)] +
                       [contact_doc("telegram", f"o{i}", status="opted_out") for i in range(10)])
    c = camp()
    first = await create_deliveries(rt, c, c.name)
    again = await create_deliveries(rt, c, c.name)
    assert first == {"created": 300, "total": 300} and again == {"created": 0, "total": 300}
    d = Dispatcher(rt, c, poll_s=0.05)
    await d.materialize(await rt.outreach.deliveries.col.find({"run": "uji"}).limit(50).to_list(None))
    # crash between message insert and delivery update: the same deliveries materialize again, no new messages
    await rt.outreach.deliveries.col.update_many({"run": "uji"}, {"$set": {"status": "pending"}})
    final = await d.run()
    await rt.outbox.drain(10)
    assert await rt.stores.messages.col.count_documents({"campaign": "uji"}) == 300
    assert final["sent"] == 300 and len(snd.sent) == 300
    assert max(snd.per_user().values()) == 1
    # running the whole campaign again sends nothing
    await Dispatcher(rt, c, poll_s=0.05).run()
    await rt.outbox.drain(5)
    assert len(snd.sent) == 300
    assert all(m["priority"] == 9 and m["kind"] == "campaign" for m in snd.sent)


async def test_rate_cap_respected_and_replies_go_first(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=30, cap=30)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(150)])
    c = camp(rate_caps={"telegram": 20})
    t0 = time.monotonic()
    task = asyncio.create_task(Dispatcher(rt, c, poll_s=0.05).run())
    await asyncio.sleep(2.0)
    # a citizen writes during the broadcast: the reply (priority 0) overtakes the queued campaign messages
    from bot.messages import Identity, OutboundMessage

    sent_before = len(snd.sent)
    reply = OutboundMessage(Identity("telegram", "citizen-1"), "Balasan untuk warga", priority=0)
    t_reply = time.monotonic()
    await rt.outbox.enqueue([reply])
    while not any(d["user_id"] == "citizen-1" for d in snd.sent):
        await asyncio.sleep(0.01)
    latency = time.monotonic() - t_reply
    await task
    await rt.outbox.drain(10)
    elapsed = time.monotonic() - t0
    assert len([d for d in snd.sent if d.get("campaign")]) == 150
    # the account cap (30/s) is strict in every one-second window; the campaign's own cap (20/s) is an
    # average (its feeder catches up after a stall on a loaded machine, within the account cap)
    assert snd.max_per_second() <= 30
    assert snd.limited == 0
    assert 150 / elapsed <= 21, elapsed
    # the reply overtook the queue: it went out within the next few sends (those already claimed or in flight)
    reply_at = next(i for i, d in enumerate(snd.sent) if d["user_id"] == "citizen-1")
    assert reply_at - sent_before <= 12, (reply_at, sent_before, latency)
    assert sent_before < 150


async def test_opt_out_mid_campaign_is_respected(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=10)
    await with_sender(rt, snd)
    docs = await add_contacts(rt, [contact_doc("telegram", f"t{i:03d}") for i in range(40)])
    leaver = docs[-1]
    c = camp()
    task = asyncio.create_task(Dispatcher(rt, c, poll_s=0.05).run())
    while len(snd.sent) < 5:
        await asyncio.sleep(0.05)
    chat = Chat(rt, user=leaver["user_id"], channel="telegram")
    await chat.send("BERHENTI")
    await chat.send("ya")
    contact = await chat.contact()
    assert contact["subscription"]["status"] == "opted_out"
    await task
    await rt.outbox.drain(10)
    campaign_sends = [d for d in snd.sent if d.get("campaign")]
    assert leaver["user_id"] not in {d["user_id"] for d in campaign_sends}
    assert len(campaign_sends) == 39
    from outreach.stats import campaign_stats

    st = await campaign_stats(rt, c)
    assert st["failed_by_reason"].get("opted_out") == 1 and st["sent"] == 39


async def test_opt_out_after_queueing_dropped_at_send_time(make_runtime):
    # no background pick-up: the messages must still be queued (not already sent) when the opt-out lands,
    # however slow the machine is
    rt = await make_runtime(sweep_interval_s=0)
    snd = RecordingSender("telegram", rate_per_s=50)
    await with_sender(rt, snd)
    docs = await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(5)])
    c = camp()
    d = Dispatcher(rt, c)
    await create_deliveries(rt, c, c.name)
    batch = await rt.outreach.deliveries.col.find({"run": "uji"}).to_list(None)
    msgs = await d.materialize(batch)  # queued, not pushed
    await rt.stores.contacts.update(docs[0]["_id"], {"subscription.status": "opted_out"})
    for m in msgs:
        rt.outbox.workers["telegram"].push(9, m["_id"])
    await rt.outbox.drain(5)
    assert {x["user_id"] for x in snd.sent} == {"t1", "t2", "t3", "t4"}
    m0 = await rt.stores.messages.col.find_one({"contact_id": docs[0]["_id"]})
    assert m0["status"] == "failed" and m0["failure_reason"] == "opted_out"


async def test_whatsapp_template_outside_24h_window(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("whatsapp", rate_per_s=80)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("whatsapp", "628111", last_inbound_hours=2),
                            contact_doc("whatsapp", "628222", last_inbound_hours=30),
                            contact_doc("whatsapp", "628333", last_inbound_hours=None)])
    c = camp()
    await Dispatcher(rt, c, poll_s=0.05).run()
    await rt.outbox.drain(5)
    by = {d["user_id"]: d for d in snd.sent}
    assert by["628111"]["use_template"] is False and by["628111"]["text"].startswith("Halo Warga 628111")
    for u in ("628222", "628333"):
        assert by[u]["use_template"] is True and by[u]["template"] == "lapor_sosialisasi"
        assert by[u]["template_params"] == [f"Warga {u}", "Uji kampanye"] and by[u]["template_language"] == "id"
    # without an approved template, contacts outside the window are skipped and recorded, never sent
    snd.sent.clear()
    c2 = camp(name="uji-tanpa", whatsapp_template=None)
    await Dispatcher(rt, c2, poll_s=0.05).run()
    await rt.outbox.drain(5)
    assert [d["user_id"] for d in snd.sent] == ["628111"]
    from outreach.stats import campaign_stats

    st = await campaign_stats(rt, c2)
    assert st["failed_by_reason"] == {"outside_24h_window": 2}


async def test_blocked_recorded_never_retried(make_runtime):
    from bot.outbox import SendResult

    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=50)
    calls = []

    class Blocking(RecordingSender):
        async def send(self, doc):
            calls.append(doc["user_id"])
            if doc["user_id"] == "t0":
                return SendResult("blocked", error="Forbidden: bot was blocked by the user")
            if doc["user_id"] == "t1" and calls.count("t1") == 1:
                return SendResult("retry", error="timeout")
            return await super().send(doc)

    snd = Blocking("telegram", rate_per_s=50)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(3)])
    c = camp()
    await Dispatcher(rt, c, poll_s=0.05).run()
    await rt.outbox.drain(10)
    assert calls.count("t0") == 1 and calls.count("t1") == 2
    assert sorted(d["user_id"] for d in snd.sent) == ["t1", "t2"]
    from outreach.stats import campaign_stats

    st = await campaign_stats(rt, c)
    assert st["failed_by_reason"] == {"blocked": 1} and st["sent"] == 2 and st["opted_out"] == 1
    # a new campaign skips the blocked contact altogether
    await Dispatcher(rt, camp(name="uji-2"), poll_s=0.05).run()
    assert calls.count("t0") == 1
