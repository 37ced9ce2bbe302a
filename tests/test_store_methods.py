"""Store methods that replaced raw collection access outside bot/storage (real embedded database)."""
from bson import ObjectId

from bot.messages import Identity, OutboundMessage, utcnow


async def test_contacts_many_attribution_once_and_counts(stores):
    a = await stores.contacts.get_or_create(Identity("telegram", "1"))
    b = await stores.contacts.get_or_create(Identity("sms", "+628111"))
    assert set(await stores.contacts.get_many([a["_id"], b["_id"], None])) == {a["_id"], b["_id"]}
    await stores.contacts.record_attribution("telegram", "1", {"code": "KAMPUS"})
    await stores.contacts.record_attribution("telegram", "1", {"code": "LAIN"})
    assert (await stores.contacts.get(a["_id"]))["attribution"]["code"] == "KAMPUS"
    assert await stores.contacts.count({"channel": "sms"}) == 1
    assert (await stores.contacts.count_by_channel_language({}))[("telegram", "id")] == 1


async def test_conversation_last_inbound_and_remembered_choices(stores):
    c = await stores.contacts.get_or_create(Identity("sms", "+628222"))
    await stores.conversations.remember_choices(c["_id"], ["rate:X:1", "rate:X:2"])  # no turn saved yet
    state = await stores.conversations.load(c["_id"])
    assert state["last_choices"] == ["rate:X:1", "rate:X:2"] and state["version"] == 0
    await stores.conversations.delete(c["_id"])  # no state at all (retention): a fresh one holds them
    await stores.conversations.remember_choices(c["_id"], ["rate:X:3"])
    state = await stores.conversations.load(c["_id"])
    assert state["last_choices"] == ["rate:X:3"] and state["version"] == 0 and state["flow"] is None
    state["last_inbound_at"] = utcnow()
    await stores.conversations.save(state)
    await stores.conversations.remember_choices(c["_id"], ["a"])
    assert (await stores.conversations.load(c["_id"]))["last_choices"] == ["a"]
    assert (await stores.conversations.last_inbound([c["_id"]]))[c["_id"]] is not None


async def test_outbound_insert_keeps_a_preallocated_id_once(stores):
    c = await stores.contacts.get_or_create(Identity("telegram", "9"))
    msg = OutboundMessage(Identity("telegram", "9"), "halo", kind="campaign", contact_id=c["_id"],
                          message_id=ObjectId(), campaign="uji")
    doc = stores.messages.outbound_doc(msg)
    assert await stores.messages.insert_outbound([doc]) == 1
    assert await stores.messages.insert_outbound([dict(doc)]) == 0
    assert await stores.messages.campaign_ids("uji", "telegram", "queued") == [doc["_id"]]
    assert await stores.messages.cancel_queued_campaign(c["_id"]) == 1
    assert (await stores.messages.statuses([doc["_id"]]))[doc["_id"]]["failure_reason"] == "opted_out"


async def test_files_store_read_and_visitor_scope(stores):
    fid = await stores.files.store(b"%PDF-1.4 x", filename="a.pdf", mime_type="application/pdf", channel="webchat",
                                   ref="a.pdf", user_id="visitor-123", visitor="visitor-123")
    assert await stores.files.read(fid) == b"%PDF-1.4 x"
    assert await stores.files.read(ObjectId()) is None
    assert (await stores.files.visitor_upload(fid, "visitor-123"))["metadata"]["user"] == "123"
    assert await stores.files.visitor_upload(fid, "someone-else") is None


async def test_volunteer_summary(stores):
    vid = ObjectId()
    for _ in range(3):
        await stores.reports.create({"volunteer_id": vid, "category": "jalan", "description": "rusak"})
    total, settled, rows = await stores.reports.volunteer_summary(vid, limit=2)
    assert (total, settled, len(rows)) == (3, 0, 2)
