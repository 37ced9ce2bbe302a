"""SMS gateway: signed Twilio-style form posts, TwiML answers, REST notifications."""
import itertools
import xml.etree.ElementTree as ET

import aiohttp
import pytest

from channels.formatting import is_gsm7, sms_segment_count
from channels.sms import render_sms
from tests.channels.helpers import DESCRIPTION, notify_status
from tests.fixtures.fakes import form_body, twilio_signature, wait_until

PUBLIC = "https://lapor.example.id/webhooks/sms"
_sids = itertools.count(1)


@pytest.fixture
async def sms(fake_sms, make_runtime):
    rt = await make_runtime(http=True, sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token,
                            sms_from="1708", sms_api_base_url=fake_sms.base_url, sms_public_url=PUBLIC)
    async with aiohttp.ClientSession() as session:
        yield rt, fake_sms, session


async def post(rt, session, params, *, sign=True, path="/webhooks/sms", url=PUBLIC):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        headers["X-Twilio-Signature"] = twilio_signature(rt.settings.sms_auth_token, url, params)
    async with session.post(f"http://127.0.0.1:{rt.http_port}{path}", data=form_body(params),
                            headers=headers) as r:
        return r.status, await r.text()


async def text(rt, session, body, frm="0812-3456-7001"):
    params = {"MessageSid": f"SM{next(_sids):032d}", "From": frm, "To": "1708", "Body": body, "NumMedia": "0"}
    status, xml = await post(rt, session, params)
    assert status == 200, xml
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    return [m.text or "" for m in root.findall("Message")]


async def test_sms_files_a_report_by_numbers_and_gets_rest_notification(sms):
    rt, fake, s = sms
    msgs = await text(rt, s, "halo")
    assert "1. " in msgs[-1]
    await text(rt, s, "1")  # consent: ya
    assert (await rt.stores.contacts.find_by_identity("sms", "+6281234567001"))["consent"]["given"] is True
    await text(rt, s, "lapor")
    await text(rt, s, "1")  # pengaduan
    await text(rt, s, DESCRIPTION)
    await text(rt, s, "Jalan Sudirman depan pasar")
    await text(rt, s, "1")  # Kota Kupang
    await text(rt, s, "1")  # category
    await text(rt, s, "1")  # agency
    msgs = await text(rt, s, "lewati")
    for _ in range(3):
        if "rahasia" in msgs[-1].lower():
            break
        msgs = await text(rt, s, "1")
    msgs = await text(rt, s, "1")  # rahasia
    msgs = await text(rt, s, "1")  # confirm
    assert any("LPR-" in m for m in msgs)
    for m in msgs:
        assert sms_segment_count(m) <= 4
    report = await rt.stores.db.reports.find_one({})
    assert report["channel"] == "sms" and report["privacy"] == "rahasia"
    await notify_status(rt, report)
    await wait_until(lambda: fake.sent)
    assert fake.sent[-1]["To"] == "+6281234567001" and fake.sent[-1]["From"] == "1708"
    assert report["tracking_id"] in fake.sent[-1]["Body"]
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"kind": "notification"})
    assert doc["status"] == "sent" and doc["provider_id"] == fake.sent[-1]["sid"]
    # delivery callback
    cb = {"MessageSid": doc["provider_id"], "MessageStatus": "delivered"}
    status, _ = await post(rt, s, cb, path="/webhooks/sms/status", url=PUBLIC + "/status")
    assert status == 204
    assert (await rt.stores.messages.get(doc["_id"]))["status"] == "delivered"


async def test_sms_forged_signature_is_refused_and_nothing_stored(sms):
    rt, fake, s = sms
    params = {"MessageSid": "SMforged", "From": "+6281234567002", "To": "1708", "Body": "halo", "NumMedia": "0"}
    status, _ = await post(rt, s, params, sign=False)
    assert status == 403
    bad = dict(params, Body="halo!")  # signed for other content
    headers = {"X-Twilio-Signature": twilio_signature(rt.settings.sms_auth_token, PUBLIC, params),
               "Content-Type": "application/x-www-form-urlencoded"}
    async with s.post(f"http://127.0.0.1:{rt.http_port}/webhooks/sms", data=form_body(bad), headers=headers) as r:
        assert r.status == 403
    assert await rt.stores.db.messages.count_documents({}) == 0
    # duplicates of a signed post: answered once
    first = await text(rt, s, "halo", frm="+6281234567003")
    params = {"MessageSid": "SMdup", "From": "+6281234567003", "To": "1708", "Body": "bantuan", "NumMedia": "0"}
    assert (await post(rt, s, params))[0] == 200 and first
    status, xml = await post(rt, s, params)
    assert status == 200 and ET.fromstring(xml).findall("Message") == []


def test_sms_rendering_is_segment_aware_and_gsm_friendly():
    choices = [{"payload": f"p{i}", "label": f"Pilihan “{i}”"} for i in range(1, 4)]
    bodies = render_sms("Laporan Anda… sudah diterima – terima kasih. " * 20, choices, "Balas dengan angka.")
    assert all(is_gsm7(b) and sms_segment_count(b) <= 4 for b in bodies)
    assert "3. Pilihan \"3\"" in bodies[-1]
    emoji = render_sms("Terima kasih 🙏 " * 30, [], None)
    assert all(sms_segment_count(b) <= 4 for b in emoji) and len(emoji) >= 2


async def test_sms_database_outage_answers_failure_text(sms):
    from bot.engine import TurnFailed

    rt, fake, s = sms

    async def broken(inbound, inline=False):
        raise TurnFailed("db down")
    rt.engine.handle = broken
    msgs = await text(rt, s, "halo", frm="+6281234567009")
    assert msgs == [rt.engine.failure_text("id")]
