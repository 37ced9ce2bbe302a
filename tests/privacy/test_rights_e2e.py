"""Data rights end to end over WhatsApp (signed webhooks, fake Graph API) and the staff API:
"data saya" lists the reports; "hapus data saya" is confirmed, then nothing of the person is left anywhere in
the database while the agency still sees the report, without reporter; declining consent stores nothing
personal; a photo's GPS EXIF never reaches the agency."""
import aiohttp
import pytest

from tests.channels.helpers import DESCRIPTION
from tests.fixtures.fakes import wait_until, whatsapp_bot
from tests.privacy.photos import CLEAN_JPEG, MODEL, gps_jpeg
from tests.privacy.scan import traces
from tests.staff.conftest import ADMIN, advance, agency_headers

SECRET = "wa-app-secret-123"
WA = "6281399887766"
LOCAL = "081399887766"
NAME = "Rudi Hartono"
AGENCY = "DPU-53.71"


@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv), \
            aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as api:
        yield rt, fake_graph, drv, api


async def say(g, coro, wa_id=WA, count=1):
    n = len(g.to(wa_id))
    status, _ = await coro
    assert status == 200
    return await g.wait_sent(wa_id, n + count)


def pick(g, wa_id, part=None, index=None):
    opts = g.last_options(wa_id)
    if index is not None:
        return opts[index - 1]
    return next(o for o in opts if part in o[0] or part.lower() in o[1].lower())


async def file_report(g, drv, wa_id=WA, name=NAME) -> str:
    """The filing script of tests/channels/test_whatsapp.py, with a phone photo carrying GPS EXIF; publik."""
    await say(g, drv.text(wa_id, "halo", name=name), wa_id)
    await say(g, drv.button(wa_id, *pick(g, wa_id, "consent:ya")), wa_id, count=2)
    await say(g, drv.text(wa_id, "lapor", name=name), wa_id)
    await say(g, drv.button(wa_id, *pick(g, wa_id, index=1)), wa_id)
    await say(g, drv.text(wa_id, DESCRIPTION, name=name), wa_id)
    await say(g, drv.text(wa_id, "Jalan Sudirman depan pasar", name=name), wa_id)
    await say(g, drv.button(wa_id, *pick(g, wa_id, index=1)), wa_id)
    await say(g, drv.list_pick(wa_id, *pick(g, wa_id, index=1)), wa_id)
    await say(g, drv.button(wa_id, *pick(g, wa_id, index=1)), wa_id)
    media_id = g.add_media(gps_jpeg(), "image/jpeg")
    await say(g, drv.send(wa_id, "image", {"id": media_id, "mime_type": "image/jpeg"}, name=name), wa_id)
    for _ in range(4):
        if any("publik" in o[0] for o in g.last_options(wa_id)):
            break
        await say(g, drv.button(wa_id, *pick(g, wa_id, index=1)), wa_id)
    await say(g, drv.button(wa_id, *pick(g, wa_id, "publik")), wa_id)
    sent = await say(g, drv.list_pick(wa_id, *pick(g, wa_id, "confirm")) if len(g.last_options(wa_id)) > 3
                     else drv.button(wa_id, *pick(g, wa_id, "confirm")), wa_id)
    text = g.text_of(sent[-1])
    return text[text.index("LPR-"):text.index("LPR-") + 11]


async def test_erase_leaves_no_trace_and_the_agency_keeps_the_report(wa):
    rt, g, drv, api = wa
    tid = await file_report(g, drv)
    report = await rt.stores.reports.get(tid)
    assert report["reporter_name"] == NAME and report["attachments"][0]["gridfs_id"] is not None
    await advance(rt, tid, "terverifikasi", "diteruskan", agency=AGENCY)
    await rt.outbox.drain(60)  # the status notifications are out before we count what "data saya" gets back
    agency = await agency_headers(rt, AGENCY)
    before = await (await api.get(f"/api/v1/reports/{tid}", headers=agency)).json()
    assert before["reporter"]["name"] == NAME and "channel" not in before

    # the photo reached the agency without its GPS position and phone model
    r = await api.get(f"/api/v1/reports/{tid}/attachments/0", headers=agency)
    photo = await r.read()
    assert r.status == 200 and photo == CLEAN_JPEG and MODEL not in photo and b"Exif" not in photo

    # "data saya": what is stored, with the report
    sent = await say(g, drv.text(WA, "data saya", name=NAME))
    mine = g.text_of(sent[-1])
    assert tid in mine and NAME in mine and WA not in mine

    # "hapus data saya": asked first; "tidak" keeps everything
    sent = await say(g, drv.text(WA, "hapus data saya", name=NAME))
    assert [o[0] for o in g.last_options(WA)] == ["erase:ya", "erase:tidak"]
    await say(g, drv.button(WA, *pick(g, WA, "erase:tidak")))
    assert await rt.stores.contacts.find_by_identity("whatsapp", WA) is not None
    await say(g, drv.text(WA, "hapus data saya", name=NAME))
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    sent = await say(g, drv.button(WA, *pick(g, WA, "erase:ya")))
    assert "terakhir" in g.text_of(sent[-1])

    # nothing of the person anywhere (WhatsApp receipts for the last reply included), once it was sent
    await drv.status(sent[-1]["id"], "delivered", WA)
    needles = [WA, LOCAL[1:], NAME, "Rudi", "hapus data saya", "data saya", str(contact["_id"])]

    async def clean():
        left = await traces(rt.stores.db, needles, skip=("audit",))
        pending = await rt.stores.db["whatsapp_inbox"].count_documents({"status": {"$ne": "done"}})
        return not left and not pending

    try:
        await wait_until(clean, timeout=60, interval=0.2)
    finally:
        print(await traces(rt.stores.db, needles, skip=("audit",)))
    # the audit names the erasure (an id nothing else refers to any more), never the person
    audit = await rt.stores.db["audit"].find({"action": {"$in": ["contact_erase", "report_pseudonymise"]}}).to_list(10)
    assert {a["action"] for a in audit} == {"contact_erase", "report_pseudonymise"}
    assert not await traces(rt.stores.db, needles[:-1])

    # the agency still has the report, without reporter; its photo is still there
    body = await (await api.get(f"/api/v1/reports/{tid}", headers=agency)).json()
    assert body["description"] == DESCRIPTION and body["status"] == "diteruskan" and "reporter" not in body
    r = await api.get(f"/api/v1/reports/{tid}/attachments/0", headers=agency)
    assert r.status == 200 and await r.read() == CLEAN_JPEG
    admin = await (await api.get(f"/api/v1/reports/{tid}", headers=ADMIN)).json()
    assert admin["reporter"]["name"] is None and admin["reporter"]["contact_id"] != str(contact["_id"])

    # the next message starts over as a new contact (asked for consent again)
    sent = await say(g, drv.text(WA, "halo", name=NAME))
    assert any("consent:ya" == o[0] for o in g.last_options(WA))
    again = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    assert again["_id"] != contact["_id"] and again["consent"] is None


async def test_declining_consent_stores_nothing_but_the_opt_out(wa):
    rt, g, drv, api = wa
    wa_id, name = "6281311122233", "Sari Wulandari"
    first = "Jalan Flamboyan rusak parah"
    media_id = g.add_media(gps_jpeg(), "image/jpeg")
    await say(g, drv.send(wa_id, "image", {"id": media_id, "mime_type": "image/jpeg", "caption": first},
                          name=name), wa_id)
    assert any(o[0] == "consent:tidak" for o in g.last_options(wa_id))
    await say(g, drv.button(wa_id, *pick(g, wa_id, "consent:tidak")), wa_id)

    async def clean():
        pending = await rt.stores.db["whatsapp_inbox"].count_documents({"status": {"$ne": "done"}})
        return not pending and not await traces(rt.stores.db, [name, "Sari", first, "Flamboyan"])

    try:
        await wait_until(clean, timeout=30, interval=0.2)
    finally:
        print(await traces(rt.stores.db, [name, "Sari", first, "Flamboyan"]))
    assert await rt.stores.db["fs.files"].count_documents({}) == 0
    assert await rt.stores.messages.col.count_documents({"direction": "in"}) == 0
    contact = await rt.stores.contacts.find_by_identity("whatsapp", wa_id)
    assert contact["consent"]["given"] is False and contact.get("name") is None
    state = await rt.stores.conversations.load(contact["_id"])
    assert not state.get("held") and not state.get("slots")


async def test_admin_api_shows_and_erases_a_contact_with_audit(wa):
    rt, g, drv, api = wa
    tid = await file_report(g, drv)
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    cid = str(contact["_id"])
    agency = await agency_headers(rt, AGENCY)
    assert (await api.get(f"/api/v1/contacts/{cid}/data")).status == 401
    assert (await api.get(f"/api/v1/contacts/{cid}/data", headers=agency)).status == 403
    assert (await api.post(f"/api/v1/contacts/{cid}/erase", headers=agency)).status == 403
    assert (await api.get("/api/v1/contacts/not-an-id/data", headers=ADMIN)).status == 404
    r = await api.get(f"/api/v1/contacts/{cid}/data", headers=ADMIN)
    data = await r.json()
    assert r.status == 200 and WA not in str(data)
    assert data["contact"]["name"] == NAME and data["messages"]["received"] >= 10
    assert [x["tracking_id"] for x in data["reports"]] == [tid] and data["reports"][0]["role"] == "reporter"
    r = await api.post(f"/api/v1/contacts/{cid}/erase", headers=ADMIN)
    counts = await r.json()
    assert r.status == 200 and counts["erased"] is True and counts["reports"] == 1 and counts["messages"] > 0
    assert (await api.get(f"/api/v1/contacts/{cid}/data", headers=ADMIN)).status == 404
    assert (await api.post(f"/api/v1/contacts/{cid}/erase", headers=ADMIN)).status == 404
    assert not await traces(rt.stores.db, [WA, LOCAL[1:], NAME, cid], skip=("audit",))
    actions = {(a["actor"], a["action"]) for a in await rt.stores.db["audit"].find({}).to_list(100)}
    assert {("admin", "contact_data_view"), ("admin", "contact_erase"), ("admin", "report_pseudonymise")} <= actions
    assert (await rt.stores.reports.get(tid))["description"] == DESCRIPTION
