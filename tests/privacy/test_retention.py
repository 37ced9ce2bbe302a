"""The retention sweep on the real database: what is old goes, what a kept report needs stays."""
from datetime import timedelta

from gridfs import AsyncGridFSBucket

from bot.messages import Identity, InboundMessage, utcnow
from bot.privacy.retention import RetentionWorker, sweep
from tests.privacy.photos import CLEAN_JPEG, gps_jpeg


async def _contact(rt, uid, name):
    return await rt.stores.contacts.get_or_create(Identity("telegram", uid, name))


async def test_sweep_enforces_every_retention(make_runtime):
    rt = await make_runtime()
    st, s = rt.stores, rt.settings
    db = st.db
    idle = await _contact(rt, "1001", "Idle Person")
    busy = await _contact(rt, "1002", "Busy Person")
    await st.conversations.save({**(await st.conversations.load(idle["_id"])), "flow": "filing",
                                 "slots": {"description": "draft text"}})
    await st.handoffs.open(idle["_id"], "please call me")
    kept_file = await st.files.store(gps_jpeg(), filename="a.jpg", mime_type="image/jpeg", channel="telegram",
                                     ref="r1", user_id="1002")
    draft_file = await st.files.store(gps_jpeg(), filename="b.jpg", mime_type="image/jpeg", channel="telegram",
                                      ref="r2", user_id="1001")
    settled = await st.reports.create({"contact_id": idle["_id"], "reporter_name": "Idle Person",
                                       "description": "x", "privacy": "publik", "supporters": [busy["_id"]]})
    await st.reports.col.update_one({"_id": settled["_id"]}, {"$set": {"status": "selesai"}})
    open_rep = await st.reports.create({"contact_id": busy["_id"], "reporter_name": "Busy Person",
                                        "description": "y", "attachments": [{"gridfs_id": kept_file}]})
    await db["notifications"].insert_one({"tracking_id": open_rep["tracking_id"], "contact_id": busy["_id"],
                                          "channel": "telegram", "at": utcnow()})

    # nothing is old yet
    assert set((await sweep(st, s)).values()) == {0}

    later = utcnow() + timedelta(days=max(s.lapor_reporter_retention_days, s.lapor_contact_retention_days) + 1)
    out = await sweep(st, s, now=later)
    assert out["conversations"] == 1 and out["handoffs"] == 1 and out["files"] == 1
    assert out["notifications"] == 1 and out["reporters"] == 1 and out["contacts"] == 1
    assert await st.contacts.get(idle["_id"]) is None            # idle, nothing open: erased
    assert await st.contacts.get(busy["_id"]) is not None        # an open report keeps the contact
    rep = await st.reports.get(settled["tracking_id"])
    assert rep["contact_id"] != idle["_id"] and "reporter_name" not in rep and rep["supporters"] == []
    assert (await st.reports.get(open_rep["tracking_id"]))["reporter_name"] == "Busy Person"
    stream = await AsyncGridFSBucket(db).open_download_stream(kept_file)
    assert await stream.read() == CLEAN_JPEG                     # attached: kept, and stored without EXIF
    assert await db["fs.files"].count_documents({"_id": draft_file}) == 0
    assert await db["audit"].count_documents({"actor": "retention", "action": "report_pseudonymise"}) == 1


async def test_messages_of_people_who_did_not_consent_go_after_four_days(make_runtime):
    rt = await make_runtime()
    st = rt.stores
    shy = await _contact(rt, "1003", "Never Answered")
    agreed = await _contact(rt, "1004", "Agreed")
    await st.contacts.update(agreed["_id"], {"consent": {"given": True}})
    await st.messages.store_inbound(InboundMessage(Identity("telegram", "1003"), "t1", text="LPR-AAAAAAA"),
                                    shy["_id"])
    await st.messages.store_inbound(InboundMessage(Identity("telegram", "1004"), "t2", text="hi"), agreed["_id"])
    assert (await sweep(st, rt.settings, now=utcnow() + timedelta(days=3)))["unconsented_messages"] == 0
    assert (await sweep(st, rt.settings, now=utcnow() + timedelta(days=5)))["unconsented_messages"] == 1
    assert await st.messages.col.count_documents({"contact_id": agreed["_id"]}) == 1


async def test_one_process_at_a_time(make_runtime):
    rt = await make_runtime()
    a, b = RetentionWorker(rt), RetentionWorker(rt)
    assert "skipped" not in await a.run_once()
    await rt.stores.leases.col.update_one({"_id": "privacy:retention"}, {"$set": {"owner": "other-process"}})
    assert await b.run_once() == {"skipped": True}
