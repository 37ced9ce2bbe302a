"""Live conversations (/staff/handoffs): a citizen on the WhatsApp fake asks for a person, an officer takes the
conversation in the console, the bot stays quiet, replies reach the citizen, the officer hands back."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from bot.messages import Identity, InboundMessage, utcnow
from bot.staff import handoff
from tests.backoffice.handoff_fixtures import signed_in, wa  # noqa: F401  (fixtures)
from tests.backoffice.handoff_helpers import AGENCY, WA, ask_for_a_person, post, say
from tests.fixtures.fakes import wait_until


async def list_items(client) -> list[dict]:
    r = await client.get("/staff/handoffs.json")
    assert r.status == 200
    return (await r.json())["items"]


async def transcript_texts(rt, hid) -> list[str]:
    doc = await rt.stores.handoffs.get(hid)
    return [e["text"] for e in doc.get("transcript") or [] if e["who"] == "citizen"]


async def test_live_conversation_end_to_end_on_whatsapp(wa, signed_in):
    rt, g, drv = wa
    officer = await signed_in(rt, "officer", AGENCY)
    assert await list_items(officer) == []
    h = await ask_for_a_person(rt, g, drv)
    hid = str(h["_id"])

    # the request appears in the live list (JSON polled by the page), without any channel identity
    items = await list_items(officer)
    assert [(i["id"], i["status"]) for i in items] == [(hid, "requested")]
    page = await (await officer.get("/staff/handoffs")).text()
    assert f"/staff/handoffs/{hid}" in page and WA not in page and "live.js" in page
    assert WA not in await (await officer.get("/staff/handoffs.json")).text()

    # the citizen's note to the officer lands in the transcript; the bot acknowledges it (not taken yet)
    sent = await say(g, drv, drv.text(WA, "jalan <b>rusak</b> <script>alert(1)</script>"))
    assert "catat" in g.text_of(sent[-1])

    # take: the citizen is told an officer joined
    n = len(g.to(WA))
    r = await post(officer, f"/staff/handoffs/{hid}/take")
    assert r.status == 303 and r.headers["Location"] == f"/staff/handoffs/{hid}"
    sent = await g.wait_sent(WA, n + 1)
    assert "bergabung" in g.text_of(sent[-1])
    assert (await list_items(officer))[0]["status"] == "taken"

    # the citizen's next messages reach the transcript; the bot does not answer them, not even commands
    n_out = await rt.stores.messages.col.count_documents({"direction": "out"})
    for text in ("halo pak, jalannya masih rusak", "menu"):
        status, _ = await drv.text(WA, text)
        assert status == 200
    await wait_until(lambda: _has(rt, h["_id"], "menu"))
    await rt.outbox.drain()
    assert await rt.stores.messages.col.count_documents({"direction": "out"}) == n_out
    assert len(g.to(WA)) == n + 1
    assert await transcript_texts(rt, h["_id"]) == ["jalan <b>rusak</b> <script>alert(1)</script>",
                                                    "halo pak, jalannya masih rusak", "menu"]

    # the page shows the transcript escaped, with the reply form (field "text") and the CSRF token
    page = await (await officer.get(f"/staff/handoffs/{hid}")).text()
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert 'name="text"' in page and f'value="{officer.csrf}"' in page and WA not in page
    live = await (await officer.get(f"/staff/handoffs/{hid}/transcript.json")).json()
    assert [e["text"] for e in live["transcript"] if e["who"] == "citizen"][-1] == "menu"

    # the officer's reply reaches the citizen on WhatsApp
    r = await post(officer, f"/staff/handoffs/{hid}/reply", text="Baik, kami cek ke lokasi besok pagi.")
    assert r.status == 303
    sent = await g.wait_sent(WA, n + 2)
    assert "Baik, kami cek ke lokasi besok pagi." in g.text_of(sent[-1])
    assert (await post(officer, f"/staff/handoffs/{hid}/reply", text="   ")).status == 400
    assert (await post(officer, f"/staff/handoffs/{hid}/reply")).status == 400

    # a form without the CSRF token is refused
    assert (await officer.post(f"/staff/handoffs/{hid}/close", allow_redirects=False)).status == 403

    # hand back: the citizen is told, and the bot answers again
    r = await post(officer, f"/staff/handoffs/{hid}/close")
    assert r.status == 303
    sent = await g.wait_sent(WA, n + 3)
    assert "kembali dilayani bot" in g.text_of(sent[-1])
    sent = await say(g, drv, drv.text(WA, "menu"))
    assert g.options(sent[-1])  # the menu, not a note for an officer
    assert await rt.stores.handoffs.active_for(h["contact_id"]) is None
    assert await list_items(officer) == []
    closed = (await (await officer.get("/staff/handoffs.json?status=closed")).json())["items"]
    assert [(i["id"], i["closed_reason"]) for i in closed] == [(hid, "handed_back")]
    actions = [a["action"] for a in await rt.staff.audit.for_target(hid)]
    assert actions == ["handoff_take", "handoff_reply", "handoff_close"]


async def _has(rt, hid, text) -> bool:
    return text in await transcript_texts(rt, hid)


async def test_idle_handoff_times_out_back_to_the_bot(wa, signed_in):
    rt, g, drv = wa
    officer = await signed_in(rt, "officer", AGENCY)
    h = await ask_for_a_person(rt, g, drv)
    n = len(g.to(WA))
    assert (await post(officer, f"/staff/handoffs/{h['_id']}/take")).status == 303
    await g.wait_sent(WA, n + 1)

    idle = timedelta(minutes=rt.settings.lapor_handoff_idle_minutes)
    sweeper = rt.staff.handoffs
    assert await sweeper.sweep(utcnow() + idle / 2) == 0  # not idle yet
    assert await sweeper.sweep(utcnow() + idle + timedelta(seconds=1)) == 1
    assert await sweeper.sweep(utcnow() + idle + timedelta(seconds=1)) == 0  # told once
    sent = await g.wait_sent(WA, n + 2)
    assert "lama tidak ada pesan" in g.text_of(sent[-1])
    doc = await rt.stores.handoffs.get(h["_id"])
    assert doc["status"] == "closed" and doc["closed_reason"] == "timeout"
    sent = await say(g, drv, drv.text(WA, "menu"))
    assert g.options(sent[-1])
    # the officer can no longer reply: a clear conflict, nothing sent
    r = await post(officer, f"/staff/handoffs/{h['_id']}/reply", text="masih di sana?")
    assert r.status == 409
    await rt.outbox.drain()
    assert len(g.to(WA)) == n + 3


async def test_two_officers_take_at_once_one_wins(wa, signed_in):
    rt, g, drv = wa
    a = await signed_in(rt, "officer", AGENCY, user_id="officer-a")
    b = await signed_in(rt, "officer", AGENCY, user_id="officer-b")
    h = await ask_for_a_person(rt, g, drv)
    assert (await post(a, f"/staff/handoffs/{h['_id']}/take")).status == 303
    r = await post(b, f"/staff/handoffs/{h['_id']}/take")
    assert r.status == 409 and "sudah diambil" in await r.text()
    r = await post(b, f"/staff/handoffs/{h['_id']}/reply", text="saya juga")
    assert r.status == 409
    assert (await post(b, f"/staff/handoffs/{h['_id']}/close")).status == 409
    assert (await rt.stores.handoffs.get(h["_id"]))["taken_by"] == str(a.user["_id"])


# ------------------------------------------------------------------------------------ scope and privacy
async def _citizen(rt, user_id: str, name: str) -> dict:
    return await rt.stores.contacts.get_or_create(Identity("whatsapp", user_id, name))


async def _report(rt, contact, agency, privacy="publik") -> dict:
    return await rt.stores.reports.create({
        "type": "pengaduan", "category": "infrastruktur", "description": "Jalan berlubang di depan sekolah dasar",
        "location": {"text": "Jl. Frans Seda"}, "privacy": privacy, "agency": agency, "channel": "whatsapp",
        "language": "id", "contact_id": contact["_id"], "reporter_name": contact.get("name")})


async def test_officer_scope_and_privacy(make_runtime, signed_in):
    rt = await make_runtime(http=True)
    mine = await _citizen(rt, "6281100000001", "Siti Publik")
    secret = await _citizen(rt, "6281100000002", "Budi Rahasia")
    other = await _citizen(rt, "6281100000003", "Ani Lain")
    general = await _citizen(rt, "6281100000004", "Dewi Umum")
    rep = await _report(rt, mine, AGENCY)
    await _report(rt, secret, AGENCY, privacy="rahasia")
    await _report(rt, other, "DINKES-53.71")
    hs = {c["name"]: await rt.stores.handoffs.open(c["_id"], "tolong") for c in (mine, secret, other, general)}

    officer = await signed_in(rt, "officer", AGENCY)
    items = {i["id"]: i for i in await list_items(officer)}
    assert set(items) == {str(hs[n]["_id"]) for n in ("Siti Publik", "Budi Rahasia", "Dewi Umum")}
    assert items[str(hs["Siti Publik"]["_id"])]["name"] == "Siti Publik"
    assert items[str(hs["Siti Publik"]["_id"])]["tracking_ids"] == [rep["tracking_id"]]
    assert items[str(hs["Budi Rahasia"]["_id"])]["name"] is None  # rahasia reporter stays hidden
    assert items[str(hs["Dewi Umum"]["_id"])]["general"] is True
    assert all(i["channel"] is None for i in items.values())
    page = await (await officer.get("/staff/handoffs")).text()
    assert "Budi Rahasia" not in page and "Ani Lain" not in page and "62811000000" not in page
    page = await (await officer.get(f"/staff/handoffs/{hs['Budi Rahasia']['_id']}")).text()
    assert "Budi Rahasia" not in page and "6281100000002" not in page

    # another agency's citizen: 404 on every route, and nothing happens
    hid = hs["Ani Lain"]["_id"]
    assert (await officer.get(f"/staff/handoffs/{hid}")).status == 404
    assert (await officer.get(f"/staff/handoffs/{hid}/transcript.json")).status == 404
    assert (await post(officer, f"/staff/handoffs/{hid}/take")).status == 404
    assert (await rt.stores.handoffs.get(hid))["status"] == "requested"
    assert (await officer.get("/staff/handoffs/0123456789abcdef01234567")).status == 404
    assert (await officer.get("/staff/handoffs/not-an-id")).status == 404

    admin = await signed_in(rt, "admin")
    items = {i["id"]: i for i in await list_items(admin)}
    assert len(items) == 4 and items[str(hid)]["name"] == "Ani Lain" and items[str(hid)]["channel"] == "whatsapp"
    assert all("6281100000" not in str(i) for i in items.values())

    campaign = await signed_in(rt, "campaign")
    assert (await campaign.get("/staff/handoffs")).status == 403
    assert (await campaign.get("/staff/handoffs.json")).status == 403


async def test_handoff_about_one_report_belongs_to_that_reports_agency(make_runtime, signed_in):
    rt = await make_runtime(http=True)
    c = await _citizen(rt, "6281100000005", "Eka")
    ours = await _report(rt, c, AGENCY)
    await _report(rt, c, "DINKES-53.71")
    h = await rt.stores.handoffs.open(c["_id"], "soal laporan ini", tracking_id=ours["tracking_id"])
    dinkes = await signed_in(rt, "officer", "DINKES-53.71")
    assert await list_items(dinkes) == []
    assert (await dinkes.get(f"/staff/handoffs/{h['_id']}")).status == 404
    officer = await signed_in(rt, "officer", AGENCY)
    assert [i["tracking_ids"] for i in await list_items(officer)] == [[ours["tracking_id"]]]


async def test_handoffs_stored_before_the_lifecycle_read_as_requested(make_runtime, signed_in):
    rt = await make_runtime(http=True)
    c = await _citizen(rt, "6281100000006", "Fajar")
    h = await rt.stores.handoffs.open(c["_id"], "halo")
    await rt.stores.handoffs.col.update_one({"_id": h["_id"]}, {"$set": {"status": "open"}})
    officer = await signed_in(rt, "officer", AGENCY)
    assert [i["status"] for i in await list_items(officer)] == ["requested"]
    assert (await post(officer, f"/staff/handoffs/{h['_id']}/take")).status == 303
    assert (await rt.stores.handoffs.get(h["_id"]))["status"] == "taken"


async def test_pages_render_in_english(make_runtime, signed_in):
    rt = await make_runtime(http=True)
    c = await _citizen(rt, "6281100000009", "Rina")
    h = await rt.stores.handoffs.open(c["_id"], "hello")
    officer = await signed_in(rt, "officer", AGENCY)
    page = await (await officer.get("/staff/handoffs?lang=en")).text()
    assert "Live conversations" in page and "Waiting for an officer" in page
    page = await (await officer.get(f"/staff/handoffs/{h['_id']}?lang=en")).text()
    assert "Take conversation" in page
    js = await officer.get("/staff/handoffs/live.js")
    assert js.status == 200 and ".innerHTML" not in await js.text()


# ------------------------------------------------------------------------------------ the quiet-mode hook
def _inbound(text: str, kind: str = "text") -> InboundMessage:
    return InboundMessage(identity=Identity("whatsapp", "6281100000077", "Tono"), text=text, kind=kind,
                          channel_message_id=f"m-{text}-{utcnow().timestamp()}")


async def _taken(rt, contact, staff_id="officer-x") -> dict:
    h = await rt.stores.handoffs.open(contact["_id"], None)
    return await rt.stores.handoffs.take(h["_id"], staff_id)


async def _fresh(rt, contact) -> dict:
    """The contact as the engine reads it for each message (markers and conversation state included)."""
    return await rt.stores.contacts.get_with_state(contact["_id"])


async def _outbound(rt, contact) -> list[dict]:
    return await rt.stores.messages.col.find({"contact_id": contact["_id"], "direction": "out"}).sort(
        "created_at", 1).to_list(100)


async def test_hook_lets_the_bot_answer_without_a_taken_handoff(make_runtime):
    rt = await make_runtime()
    c = await _citizen(rt, "6281100000077", "Tono")
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("halo")) is False
    await rt.stores.handoffs.open(c["_id"], "tolong")  # only requested: the menus keep working
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("halo")) is False


async def test_hook_keeps_the_bot_quiet_while_taken(make_runtime):
    rt = await make_runtime()
    c = await _citizen(rt, "6281100000077", "Tono")
    h = await _taken(rt, c)
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("ada kabar?")) is True
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("", kind="media")) is True
    doc = await rt.stores.handoffs.get(h["_id"])
    assert [(e["who"], e["text"], e["kind"]) for e in doc["transcript"] if e["who"] == "citizen"] == [
        ("citizen", "ada kabar?", "text"), ("citizen", "", "media")]
    assert await _outbound(rt, c) == []
    # through the engine: stored inbound, no reply; the WhatsApp window still counts from this message
    await rt.stores.conversations.note_inbound(c["_id"], utcnow() - timedelta(hours=30))
    msg = _inbound("bantuan")
    assert await rt.engine.handle(msg) == []
    assert await _outbound(rt, c) == []
    conv = await rt.stores.conversations.load(c["_id"])
    assert abs((conv["last_inbound_at"] - msg.received_at).total_seconds()) < 0.01
    assert await rt.stores.messages.col.count_documents({"contact_id": c["_id"], "direction": "in"}) == 1


async def test_hook_back_to_bot_keyword_ends_the_handoff(make_runtime):
    rt = await make_runtime()
    c = await _citizen(rt, "6281100000077", "Tono")
    h = await _taken(rt, c)
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("Kembali ke bot!")) is True
    doc = await rt.stores.handoffs.get(h["_id"])
    assert doc["status"] == "closed" and doc["closed_reason"] == "citizen"
    assert [m["template"] for m in await _outbound(rt, c)] == ["handoff/back_to_bot"]
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("halo")) is False


async def test_hook_idle_handoff_gives_the_message_to_the_bot(make_runtime):
    rt = await make_runtime(lapor_handoff_idle_minutes=5)
    c = await _citizen(rt, "6281100000077", "Tono")
    h = await _taken(rt, c)
    await rt.stores.handoffs.col.update_one({"_id": h["_id"]},
                                            {"$set": {"last_activity_at": utcnow() - timedelta(minutes=6)}})
    assert await handoff.intercept(rt.engine, await _fresh(rt, c), _inbound("halo?")) is False
    doc = await rt.stores.handoffs.get(h["_id"])
    assert doc["status"] == "closed" and doc["closed_reason"] == "timeout"
    # the runtime's sweeper may have closed it first and be telling the citizen right now: told exactly once
    await wait_until(lambda: _outbound(rt, c))
    await rt.staff.handoffs.sweep()
    assert [m["template"] for m in await _outbound(rt, c)] == ["handoff/timed_out"]


def test_idle_setting_is_configurable(monkeypatch):
    from bot.config import Settings

    monkeypatch.setenv("LAPOR_HANDOFF_IDLE_MINUTES", "12.5")
    assert handoff.idle_limit(Settings()) == timedelta(minutes=12.5)
    monkeypatch.setenv("LAPOR_HANDOFF_IDLE_MINUTES", "0")
    with pytest.raises(Exception):
        Settings()


def test_end_words_are_whole_messages():
    words = handoff.end_words()
    assert "kembali ke bot" in words and "back to bot" in words
    assert not any(re.fullmatch(r"\s*", w) for w in words)


def test_wording_exists_in_both_languages():
    import yaml

    from bot.templates import ROOT, Renderer

    catalogue = Renderer().catalogue
    for lang in ("id", "en"):
        assert sorted(k for k in catalogue.keys(lang) if k.startswith("handoff/")) == [
            "handoff/back_to_bot", "handoff/handed_back", "handoff/officer_reply", "handoff/taken",
            "handoff/timed_out"]
    keys = [set(yaml.safe_load((ROOT / "backoffice" / "i18n" / lang / "handoffs.yml").read_text()))
            for lang in ("id", "en")]
    assert keys[0] == keys[1]
