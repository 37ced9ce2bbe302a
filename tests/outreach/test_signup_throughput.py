"""What makes sign-ups and broadcasts cheap (issue 18): cached codes, group-committed sign-up events, a send-time
check outside the rate slot, and bulk claims no further ahead than the limiter needs."""
from __future__ import annotations

import asyncio

from outreach.dispatch import CampaignCheck, Dispatcher, install
from tests.chat import Chat
from tests.outreach.helpers import RecordingSender, add_contacts, contact_doc, with_sender
from tests.outreach.test_dispatch import camp


async def test_code_change_in_this_process_is_seen_at_once(make_runtime):
    rt = await make_runtime()
    out = install(rt)
    await out.ensure_indexes()
    await out.campaigns.sync_files(out.codes)  # as the scheduler does at start: the collection exists first
    codes = out.codes
    await codes.upsert("KAMPUS-UJI", "goes-to-campus", "Stan A", segment="kampus")
    assert (await codes.lookup("kampus-uji"))["venue"] == "Stan A"  # now cached
    await codes.upsert("KAMPUS-UJI", "goes-to-campus", "Stan B", segment="kampus")
    assert (await codes.lookup("KAMPUS-UJI"))["venue"] == "Stan B"
    found = await codes.lookup("KAMPUS-UJI")
    found["venue"] = "changed by a caller"  # a caller's copy never changes the cache
    assert (await codes.lookup("KAMPUS-UJI"))["venue"] == "Stan B"
    assert await codes.lookup("TIDAK-ADA") is None
    await codes.upsert("TIDAK-ADA", "goes-to-campus", "Stan C", segment="kampus")  # an unknown one, created
    assert (await codes.lookup("TIDAK-ADA"))["venue"] == "Stan C"


async def test_concurrent_sign_up_events_are_stored_in_fewer_writes(make_runtime):
    rt = await make_runtime()
    events = install(rt).events
    calls = []
    real = events.col.insert_many

    async def counting(docs, **kw):
        calls.append(len(docs))
        return await real(docs, **kw)

    events.col.insert_many = counting
    contacts = [{"_id": i, "channel": "whatsapp"} for i in range(40)]
    await asyncio.gather(*(events.append(c, "subscribed", {"code": "KAMPUS-UJI", "campaign": "uji"})
                           for c in contacts))
    stored = await events.col.find({"campaign": "uji"}).to_list(None)
    assert sorted(d["contact_id"] for d in stored) == list(range(40))  # each append returned once stored
    assert sum(calls) == 40 and len(calls) < 40


async def test_booth_sign_up_on_whatsapp_gets_one_thank_you(make_runtime):
    rt = await make_runtime()
    out = install(rt)
    await out.ensure_indexes()
    await out.campaigns.sync_files(out.codes)
    chat = Chat(rt, user="6281299", channel="whatsapp")
    first = await chat.send("DAFTAR KAMPUS-UNSRI")
    assert any(c.payload == "consent:ya" for r in first for c in r.choices)
    replies = await chat.send("setuju", payload="consent:ya")
    assert len(replies) == 1 and "berlangganan" in replies[0].text
    assert (await chat.contact())["subscription"]["code"] == "KAMPUS-UNSRI"
    # without a held sign-up the consent answer still thanks and shows the menu
    other = Chat(rt, user="6281298", channel="whatsapp")
    await other.send("halo")
    replies = await other.send("setuju", payload="consent:ya")
    assert replies[0].text == "Terima kasih!" and len(replies) >= 2


class _Check(CampaignCheck):
    """Outreach's send-time check, recording whether a rate permit was out when it ran."""

    def __init__(self, stores, worker):
        super().__init__(stores)
        self.worker, self.permits_out = worker, []

    async def before_send(self, channel, doc):
        self.permits_out.append(self.worker.limiter.inflight)
        return await super().before_send(channel, doc)


async def test_bulk_send_time_check_runs_outside_the_rate_slot_and_claims_stay_just_in_time(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=20)
    await with_sender(rt, snd)
    worker = rt.outbox.workers["telegram"]
    await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(60)])
    seen_sending: list[int] = []
    seen_waiting: list[int] = []
    check = _Check(rt.stores, worker)
    rt.outbox.set_campaign_check(check)
    task = asyncio.create_task(Dispatcher(rt, camp(), poll_s=0.05).run())
    msgs = rt.stores.messages.col
    while not task.done():
        seen_sending.append(await msgs.count_documents({"campaign": "uji", "status": "sending"}))
        seen_waiting.append(worker.unslotted)
        await asyncio.sleep(0.02)
    await task
    await rt.outbox.drain(10)
    assert len(snd.sent) == 60 and max(snd.per_user().values()) == 1
    # the check ran before its message took a permit, so a permit is held only for the provider call:
    # with one message checked at a time, none is out while the very first one is checked
    assert check.permits_out[0] == 0
    # claimed but not yet given a rate slot: never more than one batch plus what one claim takes to refill
    assert max(seen_waiting) <= worker.batch_n + worker.ahead()
    # sending = waiting for a slot + at the provider (at most the limiter's permits) + sent, result not yet stored
    assert max(seen_sending) <= worker.batch_n + worker.ahead() + worker.limiter.limit + worker.flush_n


async def test_a_late_wake_up_delays_one_grant_not_every_grant_after_it():
    """The broadcast limiter on a busy event loop: grants keep their due times as the spacing reference."""
    import time

    from bot.ratelimit import WindowLimiter

    lim = WindowLimiter(10)  # grants spaced by about 85 ms, 10 permits
    waiters = [asyncio.ensure_future(lim.acquire(9)) for _ in range(6)]
    await asyncio.sleep(0)
    before = sum(w.done() for w in waiters)
    assert 1 <= before <= 2  # from idle: the first at once (and at most one gap caught up)
    time.sleep(0.3)  # the event loop is busy well past the next due time (a turn, a claim, a render...)
    for _ in range(3):
        await asyncio.sleep(0)
    # the grant that was due, plus one gap caught up; with the spacing counted from the late wake-up it was
    # the due one only, and every late wake-up after it stretched the spacing again
    assert sum(w.done() for w in waiters) == before + 2
    assert lim.inflight == before + 2
    for w in waiters:
        w.cancel()
