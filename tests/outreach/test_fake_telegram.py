"""The same dispatch through the real Telegram channel sender against the fake Bot API (30/s, 1/s per chat)."""
from __future__ import annotations

from collections import Counter

from outreach.campaigns import Campaign
from outreach.dispatch import Dispatcher
from tests.fixtures.fakes import FakeTelegram
from tests.outreach.helpers import add_contacts, contact_doc


async def test_campaign_through_fake_telegram_respects_limits(make_runtime):
    fake = await FakeTelegram().start()
    try:
        rt = await make_runtime(telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)
        assert rt.outbox.has_sender("telegram")
        docs = await add_contacts(rt, [contact_doc("telegram", str(5000 + i)) for i in range(90)])
        fake.blocked.add(docs[0]["user_id"])
        c = Campaign(name="tg-fake", template={"id": "Halo {{ contact.name }}, ada info LAPOR!"},
                     audience={"segment": ["kampus"], "channel": ["telegram"]})
        final = await Dispatcher(rt, c, poll_s=0.05).run()
        await rt.outbox.drain(10)
        per_chat = Counter(s["chat_id"] for s in fake.sent if s["text"].startswith("Halo"))
        assert len(per_chat) == 89 and max(per_chat.values()) == 1
        assert fake.rate_violations == []
        assert final["sent"] == 89 and final["failed"] == 1
        blocked = await rt.stores.contacts.get(docs[0]["_id"])
        assert blocked["reachable"] is False and blocked["subscription"]["status"] == "opted_out"
    finally:
        await fake.stop()
