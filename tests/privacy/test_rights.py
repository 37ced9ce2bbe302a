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

    data = await rights.summary(st, me["_id"])
    roles = {r["tracking_id"]: r["role"] for r in data["reports"]}
    assert roles == {own["tracking_id"]: "reporter", helped["tracking_id"]: "volunteer",
                     supported["tracking_id"]: "supporter", filed_for["tracking_id"]: "filed_for"}
    assert data["volunteer"] is True and data["handoffs"] == 1 and PHONE not in str(data)

    counts = await rights.erase(st, me["_id"], "admin")
    assert counts["reports"] == 4 and counts["handoffs"] == 1
    assert await st.contacts.get(me["_id"]) is None and await st.contacts.get(sms_me["_id"]) is None
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
