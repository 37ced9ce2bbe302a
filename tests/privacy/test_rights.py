"""summary/erase on the real database: every role a person can have in a report, and the people around them."""
from bson import ObjectId

from bot.messages import Identity
from bot.privacy import rights
from tests.privacy.scan import traces

PHONE = "6281355566677"          # WhatsApp id of the person a volunteer filed for
TYPED = "0813-5556-6677"         # how the volunteer typed it


async def _c(rt, channel, uid, name):
    return await rt.stores.contacts.get_or_create(Identity(channel, uid, name))


async def test_every_role_is_summarised_then_removed_and_others_are_untouched(make_runtime):
    rt = await make_runtime()
    st = rt.stores
    me = await _c(rt, "whatsapp", PHONE, "Sari Wulandari")
    other = await _c(rt, "telegram", "5550001", "Andi Other")
    sms_me = await _c(rt, "sms", "+" + PHONE, "Sari Wulandari")  # made by the notifier for on_behalf
    own = await st.reports.create({"contact_id": me["_id"], "reporter_name": "Sari Wulandari",
                                   "description": "a", "privacy": "publik"})
    helped = await st.reports.create({"volunteer_id": me["_id"], "contact_id": None, "description": "b",
                                      "on_behalf": {"name": "Pak Budi", "phone": "081200001111", "consent": True}})
    supported = await st.reports.create({"contact_id": other["_id"], "reporter_name": "Andi Other",
                                         "description": "c"})
    await st.reports.add_supporter(supported["tracking_id"], me["_id"])
    filed_for = await st.reports.create({"volunteer_id": other["_id"], "contact_id": None, "description": "d",
                                         "on_behalf": {"name": "Sari Wulandari", "phone": TYPED, "consent": True}})
    await st.volunteers.col.insert_one({"contact_id": me["_id"], "invite_code": "X"})
    await st.handoffs.open(me["_id"], "tolong telepon Sari")

    inbox = st.db["whatsapp_inbox"]
    for uid, status in ((PHONE, "pending"), ("6281200009999", "pending"), (PHONE, "processing")):
        await inbox.insert_one({"status": status, "payload": {"entry": [{"changes": [{"value": {
            "contacts": [{"wa_id": uid, "profile": {"name": "x"}}], "messages": [{"from": uid}]}}]}]}})

    data = await rights.summary(st, me["_id"])
    roles = {r["tracking_id"]: r["role"] for r in data["reports"]}
    assert roles == {own["tracking_id"]: "reporter", helped["tracking_id"]: "volunteer",
                     supported["tracking_id"]: "supporter", filed_for["tracking_id"]: "filed_for"}
    assert data["volunteer"] is True and data["handoffs"] == 1 and PHONE not in str(data)

    counts = await rights.erase(st, me["_id"], "admin")
    assert counts["reports"] == 4 and counts["handoffs"] == 1
    assert await st.contacts.get(me["_id"]) is None and await st.contacts.get(sms_me["_id"]) is None
    # unprocessed webhooks from them go; someone else's stay, and so does the one being processed right now
    # (its payload is dropped when it is done)
    assert await inbox.count_documents({}) == 2
    assert await inbox.count_documents({"status": "processing"}) == 1
    await inbox.delete_many({"status": "processing"})
    assert not await traces(st.db, ["Sari", PHONE, TYPED, "55566677", str(me["_id"])], skip=("audit",))
    r = await st.reports.get(own["tracking_id"])
    assert isinstance(r["contact_id"], ObjectId) and "reporter_name" not in r
    r = await st.reports.get(helped["tracking_id"])
    assert r["volunteer_id"] != me["_id"] and r["on_behalf"]["name"] == "Pak Budi"  # the helped person's data
    r = await st.reports.get(supported["tracking_id"])
    assert r["supporters"] == [] and r["reporter_name"] == "Andi Other" and r["contact_id"] == other["_id"]
    r = await st.reports.get(filed_for["tracking_id"])
    assert r["on_behalf"]["phone"] is None and r["volunteer_id"] == other["_id"]
    assert await st.contacts.get(other["_id"]) is not None
    assert await rights.erase(st, me["_id"], "admin") is None
    assert await rights.summary(st, me["_id"]) is None


async def test_web_chat_uploads_go_unless_a_kept_report_uses_them(make_runtime):
    from tests.privacy.photos import gps_jpeg

    rt = await make_runtime()
    st = rt.stores
    visitor = "v-7f3a9c"
    me = await _c(rt, "webchat", visitor, None)
    files = []
    for name in ("sent.jpg", "never-sent.jpg"):
        fid = await st.files.store(gps_jpeg(), filename=name, mime_type="image/jpeg", channel="webchat",
                                   ref=name, user_id=visitor)
        await st.db["fs.files"].update_one({"_id": fid}, {"$set": {"metadata.visitor": visitor}})
        files.append(fid)
    rep = await st.reports.create({"contact_id": me["_id"], "description": "x",
                                   "attachments": [{"kind": "photo", "gridfs_id": files[0]}]})
    counts = await rights.erase(st, me["_id"], "warga")
    assert counts["files_deleted"] == 1
    assert await st.db["fs.files"].count_documents({"_id": files[1]}) == 0
    kept = await st.db["fs.files"].find_one({"_id": files[0]})
    assert kept is not None and "visitor" not in kept["metadata"] and "user" not in kept["metadata"]
    assert (await st.reports.get(rep["tracking_id"]))["attachments"][0]["gridfs_id"] == files[0]
    assert not await traces(st.db, [visitor], skip=("audit",))
