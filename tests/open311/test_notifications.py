"""A report filed through Open311 with the citizen's phone number reaches the citizen on WhatsApp when staff
move it (a template outside the 24-hour window, the text once they answer); without a phone channel the
status is only in Open311."""
from __future__ import annotations

import aiohttp
import pytest

from bot.open311.keys import ApiKeyStore
from tests.fixtures.fakes import wait_until
from tests.open311.conftest import PREFIX, advance, form

SECRET = "wa-app-secret-o311"
WA = "6281234567401"


@pytest.fixture
async def wa_rt(fake_graph, make_runtime):
    g = fake_graph
    rt = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                            whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                            whatsapp_api_base_url=g.base_url)
    return rt, g


async def _post(rt, data) -> str:
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        async with s.post(f"{PREFIX}/requests.json", data=data) as r:
            assert r.status == 201, await r.text()
            return (await r.json())[0]["service_request_id"]


async def test_phone_on_a_configured_channel_gets_status_changes(wa_rt):
    rt, g = wa_rt
    key, _ = await ApiKeyStore(rt.stores.db).issue("Aplikasi Warga")
    tid = await _post(rt, form(key, phone="0812-3456-7401", first_name="Rina",
                               **{"attribute[privacy]": "publik"}))
    report = await rt.stores.reports.get(tid)
    contact = await rt.stores.contacts.get(report["contact_id"])
    assert contact["channel"] == "whatsapp" and contact["user_id"] == WA
    await advance(rt, tid, "terverifikasi")
    await wait_until(lambda: len(g.to(WA)) >= 1, timeout=30)
    first = g.to(WA)[0]
    assert first["type"] == "template"  # outside the 24-hour window: the approved template
    assert tid in str(first)


async def test_without_a_phone_channel_the_report_has_no_contact(make_runtime):
    rt = await make_runtime(http=True)
    key, _ = await ApiKeyStore(rt.stores.db).issue("Aplikasi Warga")
    tid = await _post(rt, form(key, phone="081234567402"))
    report = await rt.stores.reports.get(tid)
    assert report["contact_id"] is None and "081234567402" not in str(report)
    assert await rt.stores.contacts.col.count_documents({}) == 0
