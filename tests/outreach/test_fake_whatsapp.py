"""Campaigns through the real WhatsApp channel sender against the fake Graph API (24-hour window, 131047)."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from bot.messages import utcnow
from outreach.campaigns import Campaign
from outreach.dispatch import Dispatcher
from tests.fixtures.fakes import FakeGraph
from tests.outreach.helpers import add_contacts, contact_doc


async def test_whatsapp_campaign_uses_template_outside_window(make_runtime):
    fake = await FakeGraph(templates=("lapor_status_update", "lapor_sosialisasi")).start()
    try:
        rt = await make_runtime(whatsapp_access_token=fake.token, whatsapp_app_secret="wa-app-secret-123456",
                                whatsapp_verify_token="verify-123", whatsapp_phone_number_id=fake.phone_number_id,
                                whatsapp_api_base_url=fake.base_url)
        assert rt.outbox.has_sender("whatsapp")
        inside, outside, stale = (contact_doc("whatsapp", "62811100", last_inbound_hours=None),
                                  contact_doc("whatsapp", "62811200", last_inbound_hours=None),
                                  contact_doc("whatsapp", "62811300", last_inbound_hours=None))
        await add_contacts(rt, [inside, outside, stale])
        for c, hours in ((inside, 1), (outside, 40),
                         (stale, 2)):  # stale: we believe the window is open, the provider knows better: 131047
            await rt.stores.db["contacts"].update_one(
                {"_id": c["_id"]}, {"$set": {"conv.last_inbound_at": utcnow() - timedelta(hours=hours)}})
        fake.last_inbound[inside["user_id"]] = time.time() - 3600
        c = Campaign(name="wa-uji", goal="Sosialisasi LAPOR!", template={"id": "Halo {{ contact.name }}!"},
                     audience={"channel": ["whatsapp"]},
                     whatsapp_template={"name": "lapor_sosialisasi", "params": ["{{ contact.name }}",
                                                                                 "{{ campaign.goal }}"]})
        final = await Dispatcher(rt, c, poll_s=0.05).run()
        await rt.outbox.drain(10)
        assert final["sent"] == 3 and final["failed"] == 0
        sent = {m["to"]: m for m in fake.sent}
        assert sent["62811100"]["type"] == "text" and sent["62811100"]["text"]["body"] == "Halo Warga 62811100!"
        for wa in ("62811200", "62811300"):
            assert sent[wa]["type"] == "template", sent[wa]
            assert FakeGraph.text_of(sent[wa]) == f"Warga {wa} Sosialisasi LAPOR!"
            assert sent[wa]["template"]["name"] == "lapor_sosialisasi"  # the campaign's approved template
        assert max(Counter(m["to"] for m in fake.sent).values()) == 1
    finally:
        await fake.stop()
