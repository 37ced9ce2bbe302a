"""The scheduler inside ``laporbot run`` and staff test sends."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.messages import utcnow
from outreach.campaigns import Campaign
from outreach.preview import NotStaff, send_test
from outreach.scheduler import tick
from tests.outreach.helpers import RecordingSender, add_contacts, contact_doc, with_sender


async def test_scheduler_runs_due_campaign_once(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=100)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("telegram", f"t{i}") for i in range(12)])
    out = rt.outreach
    await out.ensure_indexes()
    await out.campaigns.save(Campaign(name="terjadwal", template={"id": "Halo {{ contact.name }}"},
                                      schedule={"start": utcnow() - timedelta(minutes=1)}))
    await out.campaigns.save(Campaign(name="nanti", template={"id": "Nanti"},
                                      schedule={"start": utcnow() + timedelta(days=1)}))
    await out.campaigns.save(Campaign(name="manual", template={"id": "Manual"}))
    running: dict = {}
    assert await tick(rt, running) == ["terjadwal"]
    await asyncio.gather(*running.values())
    await rt.outbox.drain(10)
    assert len(snd.sent) == 12 and {d["campaign"] for d in snd.sent} == {"terjadwal"}
    assert (await out.campaigns.runs("terjadwal"))["terjadwal"]["status"] == "done"
    assert await tick(rt, {}) == []  # done: never again


async def test_staff_test_send_only_to_staff(make_runtime):
    rt = await make_runtime()
    snd = RecordingSender("telegram", rate_per_s=100)
    await with_sender(rt, snd)
    await add_contacts(rt, [contact_doc("telegram", "warga1"), contact_doc("telegram", "staf1", tags=["staff"],
                                                                             status="none")])
    c = Campaign(name="uji-staf", template={"id": "Halo {{ contact.name }}"})
    with pytest.raises(NotStaff):
        await send_test(rt, c, "telegram:warga1")
    r = await send_test(rt, c, "telegram:staf1")
    await rt.outbox.drain(5)
    assert r["sender"] and [d["user_id"] for d in snd.sent] == ["staf1"] and snd.sent[0]["text"] == "Halo Warga staf1"
