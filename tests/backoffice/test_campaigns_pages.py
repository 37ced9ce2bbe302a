"""Campaign pages: create, preview, test send, start, pause, resume, finish (fake Telegram), cancel,
results with attribution and QR, form validation, roles."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from outreach.dispatch import install
from tests.chat import Chat
from tests.fixtures.fakes import wait_until
from tests.outreach.helpers import add_contacts, contact_doc

AUDIENCE = 60


@pytest.fixture
async def fake(fake_telegram):
    return fake_telegram


@pytest.fixture
async def rt(fake, make_runtime):  # the fake first: it stops after the runtime
    return await make_runtime(http=True, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)


def form(csrf: str, **fields) -> dict:
    base = {"csrf_token": csrf, "name": "uji-kampus", "goal": "Sosialisasi LAPOR! di kampus",
            "segment": "kampus", "channel": "telegram", "template_source": "inline",
            "text_id_default": "Halo {{ contact.name }}, laporkan masalah layanan publik ke LAPOR!",
            "text_en_default": "Hi {{ contact.name }}, report public service problems to LAPOR!",
            "cap_telegram": "5", "attribution_days": "30",
            "codes": "UJIKAMPUS1 | Stan Universitas Contoh | kampus | Universitas Contoh | 34.71"}
    base.update(fields)
    return base


async def progress(client, name: str) -> dict:
    r = await client.get(f"/staff/campaigns/{name}/progress.json")
    assert r.status == 200
    return await r.json()


async def post(client, path: str, **data):
    return await client.post(f"/staff{path}", data={"csrf_token": client.csrf, **data}, allow_redirects=False)


async def test_campaign_created_previewed_started_paused_resumed_finished(rt, fake, signed_in, monkeypatch):
    docs = await add_contacts(rt, [contact_doc("telegram", str(7000 + i)) for i in range(AUDIENCE)] +
                              [contact_doc("telegram", "8000", segment="sekolah"),
                               contact_doc("telegram", "9999", status="none", tags=[])])
    me = await signed_in("campaign")

    # preview before saving: audience count and the rendered message; nothing stored yet
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="preview"))
    html = await r.text()
    assert r.status == 200
    assert re.search(r"data-audience-total>\s*60\s*<", html)
    assert re.search(r"Halo Warga 70\d\d, laporkan masalah", html)
    assert await install(rt).campaigns.col.find_one({"_id": "uji-kampus"}) is None

    # save: same validation as `laporbot campaign preview`; the codes are created
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save"), allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/staff/campaigns/uji-kampus?done=saved"
    page = await (await me.get("/staff/campaigns/uji-kampus?done=saved")).text()
    assert "Kampanye disimpan" in page and 'data-status="never"' in page
    assert (await install(rt).codes.lookup("ujikampus1"))["campaign"] == "uji-kampus"

    # staff contacts: tag one, test send reaches it on the fake Telegram; untagged contacts are refused
    assert (await post(me, "/campaigns/_staff", action="tag", ref="telegram:9999")).status == 303
    staff_contact = await rt.stores.contacts.find_by_identity("telegram", "9999")
    assert "staff" in staff_contact["tags"]
    assert "Warga 9999" in await (await me.get("/staff/campaigns/uji-kampus")).text()
    r = await post(me, "/campaigns/uji-kampus/test", contact=str(staff_contact["_id"]))
    assert r.status == 303 and r.headers["Location"].endswith("done=test_sent")
    await fake.wait_sent("9999", 1)
    assert fake.last_to("9999")["text"].startswith("Halo Warga 9999")
    outsider = await rt.stores.contacts.find_by_identity("telegram", "8000")
    r = await post(me, "/campaigns/uji-kampus/test", contact=str(outsider["_id"]))
    assert r.status == 400 and "tidak bertanda staf" in await r.text()
    assert (await post(me, "/campaigns/_staff", action="untag", contact=str(staff_contact["_id"]))).status == 303
    assert "staff" not in (await rt.stores.contacts.get(staff_contact["_id"]))["tags"]

    # start; the progress JSON shows it moving
    r = await post(me, "/campaigns/uji-kampus/start")
    assert r.status == 303 and r.headers["Location"].endswith("done=started")
    assert (await post(me, "/campaigns/uji-kampus/start")).status == 409  # already running
    first = await wait_until(lambda: _moving(me), timeout=60)
    assert first["status"] == "running" and 0 < first["sent"] < AUDIENCE and first["audience"] == AUDIENCE
    page = await (await me.get("/staff/campaigns")).text()
    assert 'data-progress-url="/staff/campaigns/uji-kampus/progress.json" data-status="running"' in page

    # pause: the feeding stops; what was already queued drains, the rest stays pending
    r = await post(me, "/campaigns/uji-kampus/pause")
    assert r.status == 303 and r.headers["Location"].endswith("done=paused")
    paused = await progress(me, "uji-kampus")
    assert paused["status"] == "paused"
    msgs = rt.stores.messages.col
    await wait_until(lambda: _none_in_flight(msgs, "uji-kampus"), timeout=60)
    held = await install(rt).deliveries.col.count_documents({"run": "uji-kampus", "status": "pending"})
    sent_while_paused = len([s for s in fake.sent if s["text"].startswith("Halo Warga 70")])
    assert held > 0 and sent_while_paused < AUDIENCE
    assert (await progress(me, "uji-kampus"))["sent"] == sent_while_paused
    page = await (await me.get("/staff/campaigns/uji-kampus")).text()
    assert "/staff/campaigns/uji-kampus/resume" in page and "/staff/campaigns/uji-kampus/pause" not in page

    # resume: it finishes, nobody gets it twice
    r = await post(me, "/campaigns/uji-kampus/resume")
    assert r.status == 303 and r.headers["Location"].endswith("done=resumed")
    final = await wait_until(lambda: _finished(me, "uji-kampus"), timeout=90)
    assert final["sent"] == AUDIENCE and final["failed"] == 0 and final["pct_done"] == 100.0
    per_chat = Counter(s["chat_id"] for s in fake.sent if s["text"].startswith("Halo Warga 70"))
    assert len(per_chat) == AUDIENCE and max(per_chat.values()) == 1
    assert fake.rate_violations == []
    assert "8000" not in {str(s["chat_id"]) for s in fake.sent}
    audit = await rt.staff.audit.col.find({"actor": f"staff:{me.user['_id']}"}).to_list(None)
    actions = {a["action"] for a in audit}
    assert {"campaign_save", "campaign_start", "campaign_pause", "campaign_resume", "campaign_test_send"} <= actions

    # results: attribution per code (a sign-up through the real dialogue) and the QR download
    chat = Chat(rt, user="9100", channel="telegram")
    replies = await chat.send("halo")
    if any(c.payload.startswith("consent:") for rep in replies for c in rep.choices):
        await chat.send("setuju", payload="consent:ya")
    await chat.send("DAFTAR UJIKAMPUS1")
    html = await (await me.get("/staff/campaigns/uji-kampus/results")).text()
    row = re.search(r'<tr data-key="UJIKAMPUS1">.*?</tr>', html, re.S).group(0)
    assert 'data-field="signups">1<' in row and "Stan Universitas Contoh" in row
    assert "TELEGRAM_BOT_USERNAME" in html  # no bot name configured: no QR links yet
    assert (await me.get("/staff/campaigns/uji-kampus/qr/UJIKAMPUS1.svg")).status == 409
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "lapor_test_bot")
    html = await (await me.get("/staff/campaigns/uji-kampus/results")).text()
    assert "/staff/campaigns/uji-kampus/qr/UJIKAMPUS1.svg" in html
    r = await me.get("/staff/campaigns/uji-kampus/qr/UJIKAMPUS1.svg")
    assert r.status == 200 and "t.me/lapor_test_bot?start=UJIKAMPUS1" in await r.text()
    r = await me.get("/staff/campaigns/uji-kampus/qr/UJIKAMPUS1.png")
    assert r.status == 200 and (await r.read())[:8] == b"\x89PNG\r\n\x1a\n"
    assert (await me.get("/staff/campaigns/uji-kampus/qr/NOPE.svg")).status == 404
    assert docs  # the audience was real contacts


async def _moving(client) -> dict | None:
    p = await progress(client, "uji-kampus")
    return p if p["sent"] >= 3 else None


async def _none_in_flight(msgs, run: str) -> bool:
    return await msgs.count_documents({"campaign": run, "status": {"$in": ["queued", "sending"]}}) == 0


async def _finished(client, name: str) -> dict | None:
    p = await progress(client, name)
    return p if p["status"] == "done" and p["queued"] == 0 else None


async def test_cancel_stops_the_run_for_good(rt, signed_in):
    await add_contacts(rt, [contact_doc("telegram", str(7000 + i)) for i in range(40)])
    me = await signed_in("admin")
    assert (await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", cap_telegram="2"),
                          allow_redirects=False)).status == 303
    assert (await post(me, "/campaigns/uji-kampus/start")).status == 303
    await wait_until(lambda: _moving(me), timeout=60)
    r = await post(me, "/campaigns/uji-kampus/cancel")
    assert r.status == 303 and r.headers["Location"].endswith("done=cancelled")
    await wait_until(lambda: _none_in_flight(rt.stores.messages.col, "uji-kampus"), timeout=30)
    d = install(rt).deliveries.col
    assert await d.count_documents({"run": "uji-kampus", "status": "pending"}) == 0
    assert await d.count_documents({"run": "uji-kampus", "reason": "cancelled"}) > 0
    p = await progress(me, "uji-kampus")
    assert p["status"] == "cancelled" and p["sent"] < 40
    r = await post(me, "/campaigns/uji-kampus/start")
    assert r.status == 409 and "sudah dibatalkan" in await r.text()
    assert (await post(me, "/campaigns/uji-kampus/resume")).status == 409
    # the scheduler leaves a cancelled run alone too
    from outreach.scheduler import tick

    assert await tick(rt, {}) == []


async def test_form_validation_import_and_edit(rt, signed_in):
    await add_contacts(rt, [contact_doc("telegram", "7001")])
    me = await signed_in("campaign")
    # invalid name, no Indonesian text, unknown variable / broken template: shown, nothing saved
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", name="Bad Name!"))
    assert r.status == 400 and "name" in await r.text()
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", text_id_default=""))
    assert r.status == 400 and "Indonesian" in await r.text()
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", text_id_default="Halo {{ contact.name "))
    html = await r.text()
    assert r.status == 400 and "unexpected end of template" in html  # the syntax error, named
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", codes="x"))
    assert r.status == 400 and "line 1" in await r.text()
    r = await me.post("/staff/campaigns/_new", data=form(me.csrf, action="save", cap_telegram="-1"))
    assert r.status == 400 and "rate_caps" in await r.text()
    assert await install(rt).campaigns.col.find_one({"_id": "uji-kampus"}) is None
    # citizen-controlled text (a contact's name) is escaped in the preview
    await rt.stores.contacts.col.update_one({"user_id": "7001"}, {"$set": {"name": "<script>alert(1)</script>"}})
    html = await (await me.post("/staff/campaigns/_new", data=form(me.csrf, action="preview"))).text()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # a campaign file (YAML) fills the form and shows the preview, saves nothing
    spec = ("name: dari-berkas\ngoal: Dari berkas\naudience: {segment: kampus}\ntemplate: goes-to-campus\n"
            "schedule: {start: 2030-01-06T02:00:00Z, recurrence: weekly}\nrate_caps: {telegram: 3}\n")
    r = await me.post("/staff/campaigns/_new", data={"csrf_token": me.csrf, "action": "import", "spec_text": spec})
    html = await r.text()
    assert r.status == 200 and 'value="dari-berkas"' in html and 'value="2030-01-06T09:00"' in html
    assert 'id="preview"' in html and await install(rt).campaigns.col.find_one({"_id": "dari-berkas"}) is None
    r = await me.post("/staff/campaigns/_new", data={"csrf_token": me.csrf, "action": "import", "spec_text": "[1, 2"})
    assert r.status == 400 and "YAML" in await r.text()
    # save from the template file, edit it, the name cannot change
    data = form(me.csrf, action="save", name="dari-berkas", template_source="file", template_file="goes-to-campus",
                schedule_start="2030-01-06T09:00", schedule_recurrence="weekly")
    assert (await me.post("/staff/campaigns/_new", data=data, allow_redirects=False)).status == 303
    c = await install(rt).campaigns.get("dari-berkas")
    assert c.template == "goes-to-campus" and c.schedule.start.isoformat() == "2030-01-06T02:00:00+00:00"
    assert (await me.post("/staff/campaigns/_new", data=data)).status == 409  # exists
    html = await (await me.get("/staff/campaigns/dari-berkas/edit")).text()
    assert 'value="2030-01-06T09:00"' in html and "readonly" in html
    r = await me.post("/staff/campaigns/dari-berkas/edit", data={**data, "goal": "Tujuan baru"}, allow_redirects=False)
    assert r.status == 303
    assert (await install(rt).campaigns.get("dari-berkas")).goal == "Tujuan baru"
    r = await me.post("/staff/campaigns/dari-berkas/edit", data={**data, "name": "lain"})
    assert r.status == 400
    assert (await me.get("/staff/campaigns/tidak-ada")).status == 404
    assert (await me.get("/staff/campaigns?lang=en")).status == 200


async def test_roles(rt, signed_in):
    for role in ("officer", "coordinator"):
        client = await signed_in(role, agency="DPU-53.71" if role == "officer" else None)
        for path in ("/staff/campaigns", "/staff/campaigns/_new", "/staff/campaigns/_staff",
                     "/staff/campaigns/goes-to-campus", "/staff/campaigns/goes-to-campus/results",
                     "/staff/campaigns/goes-to-campus/progress.json"):
            assert (await client.get(path)).status == 403, (role, path)
        assert (await post(client, "/campaigns/goes-to-campus/start")).status == 403
        assert (await post(client, "/campaigns/_staff", action="tag", ref="telegram:1")).status == 403
    for role in ("campaign", "admin"):
        client = await signed_in(role)
        assert (await client.get("/staff/campaigns")).status == 200
