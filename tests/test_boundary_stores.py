"""Store modules and methods added so no code outside the stores reaches a collection (real embedded database)."""
from datetime import timedelta

from bson import ObjectId

from bot.messages import Identity, utcnow
from bot.storage.erasures import ErasureStore
from bot.storage.forwarding_jobs import ForwardingJobStore
from bot.storage.open311_posts import Open311PostStore


async def test_forwarding_job_is_queued_once_leased_once_and_retried_on_demand(stores):
    jobs = ForwardingJobStore(stores.db)
    await jobs.ensure_indexes()
    await jobs.enqueue("LPR-1", "dinas")
    await jobs.enqueue("LPR-1", "dinas")
    assert await jobs.exists("LPR-1", "dinas") and not await jobs.exists("LPR-1", "lain")
    assert [j["tracking_id"] for j in await jobs.pending()] == ["LPR-1"]
    job = await jobs.claim(60)
    assert job["state"] == "sending" and await jobs.claim(60) is None  # leased: nobody else gets it
    await jobs.finish(job["_id"], "queued", next_at=utcnow() + timedelta(hours=1))
    assert await jobs.claim(60) is None  # not due yet
    assert (await jobs.retry_now(job["_id"]))["tracking_id"] == "LPR-1"
    job = await jobs.claim(60)
    await jobs.finish(job["_id"], "sent", sent_at=utcnow())
    assert await jobs.pending() == [] and [j["_id"] for j in await jobs.recently_sent()] == [job["_id"]]
    assert await jobs.retry_now(job["_id"]) is None  # only a queued job


async def test_open311_post_claim_repeats_within_the_window_and_renews_after_it(stores):
    posts = Open311PostStore(stores.db)
    first, fresh = await posts.claim("client:abc", timedelta(minutes=10))
    assert fresh
    assert await posts.claim("client:abc", timedelta(minutes=10)) == (first, False)
    renewed, fresh = await posts.claim("client:abc", timedelta(0))
    assert fresh and renewed != first


async def test_erasure_record_and_the_writes_into_outreach_collections(stores):
    erasures = ErasureStore(stores.db)
    cid, other = ObjectId(), ObjectId()
    await erasures.begin(cid, utcnow() - timedelta(hours=1))
    assert [e["_id"] async for e in erasures.overdue(utcnow(), 10)] == [cid]
    await erasures.finish(cid)
    assert [e async for e in erasures.overdue(utcnow(), 10)] == []

    await stores.db["campaign_deliveries"].insert_many([{"run": "r", "contact_id": cid},
                                                        {"run": "s", "contact_id": cid},
                                                        {"run": "r", "contact_id": other}])
    await stores.db["subscription_events"].insert_one({"contact_id": cid, "event": "subscribed"})
    await erasures.pseudonymise_deliveries(cid)
    await erasures.unlink_subscription_events(cid)
    ids = [d["contact_id"] for d in await stores.db["campaign_deliveries"].find({}).to_list(None)]
    assert cid not in ids and other in ids and len(set(ids)) == 3
    assert (await stores.db["subscription_events"].find_one({}))["contact_id"] is None


async def test_contact_tags_and_files_deleted_by_id(stores):
    c = await stores.contacts.get_or_create(Identity("sms", "+628333"))
    await stores.contacts.add_tag(c["_id"], "staff")
    await stores.contacts.add_tag(c["_id"], "staff")
    assert [x["tags"] for x in await stores.contacts.tagged("staff", 10)] == [["staff"]]
    assert await stores.contacts.remove_tag(c["_id"], "staff")
    assert await stores.contacts.tagged("staff", 10) == []
    assert not await stores.contacts.remove_tag(ObjectId(), "staff")

    fid = await stores.files.store(b"hello", filename="a.txt", mime_type="text/plain", channel="webchat",
                                   ref="r1", visitor="v1")
    assert await stores.files.visitor_file_ids("v1") == {fid}
    assert await stores.files.delete_many([fid, ObjectId()]) == 1
    assert await stores.files.read(fid) is None
