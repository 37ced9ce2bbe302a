"""A graceful stop gives up the leases, so a new runtime resumes a running campaign within seconds (issue 18)."""
from __future__ import annotations

from collections import Counter

from outreach import control
from outreach.campaigns import Campaign
from tests.fixtures.fakes import wait_until
from tests.outreach.helpers import add_contacts, contact_doc

N = 300


async def test_graceful_stop_then_a_new_runtime_resumes_the_run_within_10_s(fake_telegram, make_runtime):
    fake = fake_telegram
    fake.chat_gap_s = 0
    kw = {"telegram_bot_token": fake.token, "telegram_api_base_url": fake.base_url}
    rt1 = await make_runtime(**kw)
    await add_contacts(rt1, [contact_doc("telegram", str(9100000 + i)) for i in range(N)])
    out = rt1.outreach
    await out.ensure_indexes()
    campaign = Campaign(name="booth-resume", template={"id": "Halo {{ contact.name }}"},
                        audience={"segment": ["kampus"]})
    await out.campaigns.save(campaign)  # started by hand (no schedule): the scheduler must still resume it
    await control.start(rt1, campaign)
    await wait_until(lambda: len(fake.sent) >= 45, timeout=60)
    await rt1.stop()
    at_stop = len(fake.sent)
    assert at_stop < N
    rt2 = await make_runtime(**kw)
    await wait_until(lambda: len(fake.sent) > at_stop, timeout=10)  # resumed within 10 s of the restart
    msgs = rt2.stores.db["messages"]

    async def settled():
        left = await msgs.count_documents({"campaign": "booth-resume", "status": {"$in": ["queued", "sending"]}})
        pending = await rt2.stores.db["campaign_deliveries"].count_documents({"run": "booth-resume",
                                                                              "status": "pending"})
        return left == 0 and pending == 0
    await wait_until(settled, timeout=90)
    per_chat = Counter(str(m["chat_id"]) for m in fake.sent)
    assert max(per_chat.values()) == 1  # nobody twice
    lost = await msgs.count_documents({"campaign": "booth-resume", "status": {"$nin": ["sent"]}})
    assert len(per_chat) + lost == N and lost <= 2  # a graceful stop loses nothing but what was in flight
    assert fake.rate_violations == []

