"""Issue 12: the person a volunteer filed for sees and tracks those reports from their own phone. WhatsApp and SMS
prove the number; on the web chat (as on Telegram) an SMS code sent to the number proves it first."""
import json
import re

import aiohttp
import pytest

from bot.dialogue import behalf
from tests.channels.test_payload_trust import close, visit
from tests.fixtures.fakes import wait_until, whatsapp_bot
from tests.staff.conftest import citizen, make_report

SECRET = "wa-app-secret-behalf"
WA = "6281234567301"  # the number the volunteer gave
SECRET_TEXT = "Bidan desa meminta bayaran untuk surat keterangan lahir anak saya"


async def filed_for(rt, phone="+6281234567301") -> dict:
    volunteer = await citizen(rt, "555000111")
    return await make_report(rt, volunteer, privacy="rahasia", description=SECRET_TEXT, contact_id=None,
                             volunteer_id=volunteer["_id"],
                             on_behalf={"name": "Ibu Warsini", "phone": phone, "consent": True})


@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv):
        yield rt, fake_graph, drv


async def consented(rt, g, drv, wa_id) -> None:
    await drv.text(wa_id, "halo")
    await g.wait_sent(wa_id, 1)
    await drv.button(wa_id, *next(o for o in g.last_options(wa_id) if o[0] == "consent:ya"))
    await g.wait_sent(wa_id, 2)
    await settle(rt)


async def settle(rt) -> None:
    """Every inbound message handled and every reply sent."""
    await next(c for c in rt.channels if c.name == "whatsapp").idle()
    await rt.outbox.drain()


async def say(rt, g, drv, wa_id, text=None, *, button=None) -> str:
    """Send one message and return everything the bot answered to it (as one string)."""
    n = len(g.to(wa_id))
    if button:
        await drv.button(wa_id, button, "x")
    else:
        await drv.text(wa_id, text)
    await g.wait_sent(wa_id, n + 1)
    await settle(rt)
    return json.dumps(g.to(wa_id)[n:], ensure_ascii=False)


async def test_the_person_filed_for_sees_and_tracks_the_report_on_whatsapp_a_stranger_does_not(wa):
    rt, g, drv = wa
    report = await filed_for(rt)
    tid = report["tracking_id"]
    await consented(rt, g, drv, WA)
    assert tid in await say(rt, g, drv, WA, "laporan saya")
    status = await say(rt, g, drv, WA, f"status {tid}")
    assert SECRET_TEXT[:30] in status
    # entitled without having been offered the button: their own complaint, so they may add information
    assert "addinfo" in status
    await say(rt, g, drv, WA, button=f"addinfo:{tid}")
    await say(rt, g, drv, WA, "Bidannya bernama Ibu R, kejadian tanggal 3")
    await wait_until(lambda: rt.stores.reports.col.find_one({"tracking_id": tid, "additions.0": {"$exists": True}}))

    other = "6281234567302"
    await consented(rt, g, drv, other)
    mine = await say(rt, g, drv, other, "laporan saya")
    assert tid not in mine
    seen = await say(rt, g, drv, other, f"status {tid}")
    assert SECRET_TEXT[:30] not in seen and "Ibu R" not in seen


@pytest.fixture
async def web_sms(fake_sms, make_runtime):
    rt = await make_runtime(http=True, sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token,
                            sms_from="1708", sms_api_base_url=fake_sms.base_url,
                            sms_public_url="https://lapor.example.id/webhooks/sms")
    return rt, fake_sms


async def test_web_chat_visitor_proves_the_number_with_an_sms_code_then_tracks(web_sms):
    rt, fake = web_sms
    report = await filed_for(rt)
    tid = report["tracking_id"]
    v = await visit(f"http://127.0.0.1:{rt.http_port}")
    try:
        # before proving anything: not theirs
        assert tid not in (await v.say("laporan saya"))[0]["text"]
        assert SECRET_TEXT[:30] not in (await v.say(f"status {tid}"))[0]["text"]

        listed = await v.say("laporan saya")  # the list offers to verify the number
        assert "cmd:verify_phone" in [c["payload"] for c in listed[0]["choices"]]
        await v.press("cmd:verify_phone", "Verifikasi nomor")
        await v.say("0812-3456-7301")
        sms = await wait_until(lambda: [m for m in fake.sent if m["To"] == "+6281234567301"])
        code = re.search(r"\b(\d{6})\b", sms[-1]["Body"]).group(1)
        wrong = "000000" if code != "000000" else "111111"
        assert "2" in (await v.say(wrong))[0]["text"]  # two tries left
        frames = await v.say(code, n=2)  # verified, then the list
        assert tid in frames[1]["text"]
        contact = await rt.stores.db.contacts.find_one({"channel": "webchat"})
        assert contact["verified_phone"] == "+6281234567301"
        assert SECRET_TEXT[:30] in (await v.say(f"status {tid}"))[0]["text"]
        assert tid in (await v.say("data saya"))[0]["text"]  # their data rights cover the proved number too
    finally:
        await close(v)


async def test_no_code_goes_to_a_number_nobody_filed_for_and_tries_are_limited(web_sms):
    rt, fake = web_sms
    await filed_for(rt)
    v = await visit(f"http://127.0.0.1:{rt.http_port}")
    try:
        await v.say("verifikasi nomor")
        same = (await v.say("0813-1111-2222"))[0]["text"]  # no report for it: the same answer, no SMS
        await v.say("verifikasi nomor")
        await v.say("0812-3456-7301")
        sms = await wait_until(lambda: [m for m in fake.sent if m["To"] == "+6281234567301"])
        assert not [m for m in fake.sent if m["To"] == "+6281311112222"]
        assert same.split("(")[0] in (await rt.stores.db.messages.find_one(
            {"direction": "out", "template": "behalf/code_sent"}, sort=[("created_at", -1)]))["text"]
        code = re.search(r"\b(\d{6})\b", sms[-1]["Body"]).group(1)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(behalf.CODE_TRIES):
            last = await v.say(wrong)
        assert "verifikasi nomor" in last[0]["text"]  # locked: a new code is needed
        await v.say(code)  # the right code after the lock is no answer to anything
        contact = await rt.stores.db.contacts.find_one({"channel": "webchat"})
        assert not contact.get("verified_phone")
    finally:
        await close(v)


async def test_a_number_gets_at_most_three_codes_a_day_whatever_the_visits(web_sms):
    rt, fake = web_sms
    await filed_for(rt)
    for _ in range(behalf.CODES_PER_DAY + 1):
        v = await visit(f"http://127.0.0.1:{rt.http_port}")  # each visit is a new contact
        try:
            await v.say("verifikasi nomor")
            await v.say("0812-3456-7301")
        finally:
            await close(v)
    await rt.outbox.drain()
    assert await rt.stores.db.messages.count_documents(
        {"channel": "sms", "user_id": "+6281234567301", "template": "behalf/code_sms"}) == behalf.CODES_PER_DAY
