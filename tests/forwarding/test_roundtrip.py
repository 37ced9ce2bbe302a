"""Forwarding to an upstream Open311 system: instance A forwards to instance B over loopback HTTP, B's answer
comes back to A's citizen on the WhatsApp fake; retries, idempotency, garbage and privacy."""
from __future__ import annotations

import pytest
from aiohttp import web

from bot.forwarding.upstreams import UpstreamStore
from bot.forwarding.worker import backoff, outgoing
from bot.messages import utcnow
from bot.open311.keys import ApiKeyStore
from tests.fixtures.fakes import WhatsAppDriver, wait_until
from tests.staff.conftest import advance, citizen, make_report

SECRET = "wa-app-secret-fwd"
WA = "6281234567301"
AGENCY = "DPU-53.71"
ANSWER = "Lubang sudah ditambal oleh tim UPT Jalan pada 28 November."


@pytest.fixture
async def pair(fake_graph, make_runtime, db_name):
    """A (WhatsApp on the fake Graph API) and B (another database), both serving HTTP; A forwards DPU-53.71
    to B's Open311 server with a key B issued."""
    g = fake_graph
    a = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                           whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                           whatsapp_api_base_url=g.base_url)
    b = await make_runtime(http=True, lapor_db=db_name + "_b")
    keys = ApiKeyStore(b.stores.db)
    await keys.ensure_indexes()
    key, _ = await keys.issue("LAPOR Bot A")
    await UpstreamStore(a.stores.db).set(AGENCY, "open311", f"http://127.0.0.1:{b.http_port}/open311/v2", key)
    a.forwarding.send_interval_s = 0.1
    async with WhatsAppDriver(g, f"http://127.0.0.1:{a.http_port}", SECRET) as drv:
        yield a, b, g, drv, key


async def wa_citizen(a, g, drv) -> dict:
    await drv.text(WA, "halo")
    await g.wait_sent(WA, 1)
    consent = next(o for o in g.last_options(WA) if o[0] == "consent:ya")
    await drv.button(WA, *consent)
    await g.wait_sent(WA, 2)
    return await a.stores.contacts.find_by_identity("whatsapp", WA)


async def test_round_trip_a_forwards_to_b_and_b_answer_reaches_a_citizen(pair):
    a, b, g, drv, _ = pair
    contact = await wa_citizen(a, g, drv)
    report = await make_report(a, contact, privacy="publik")
    tid = report["tracking_id"]
    await advance(a, tid, "terverifikasi", "diteruskan", agency=AGENCY)
    await wait_until(lambda: _upstream_id(a, tid), timeout=30)
    up = (await a.stores.reports.get(tid))["upstream"]
    theirs = await b.stores.reports.get(up["id"])
    assert theirs["channel"] == "open311" and theirs["status"] == "diterima"
    assert theirs["description"] == report["description"] and theirs["category"] == "infrastruktur"
    assert theirs["location"]["region_code"] == "53.71" and theirs["privacy"] == "publik"
    assert theirs["reporter_name"] == contact["name"]  # publik: the upstream gets the reporter's name
    assert theirs["contact_id"] is None and WA not in str(theirs)  # never the phone number
    # B's officers answer; A follows and its citizen hears it on WhatsApp
    a.forwarding.poll_interval_s = 0.2
    await advance(b, up["id"], "terverifikasi", "diteruskan", "ditanggapi")
    n = len(g.to(WA))
    a.forwarding.wake()
    await wait_until(lambda: _status(a, tid, "ditanggapi"), timeout=30)
    mine = await a.stores.reports.get(tid)
    assert mine["history"][-1]["actor"] == f"upstream:{AGENCY}"
    assert mine["history"][-1]["note"] == "Sudah kami perbaiki, terima kasih."
    assert mine["autoclose_at"] is not None  # the normal SLA of an answer
    sent = await g.wait_sent(WA, n + 1)
    assert any("Sudah kami perbaiki" in str(m) for m in sent[n:])
    # B closes it: A closes too, one step later; nothing moves twice
    await advance(b, up["id"], "selesai")
    await wait_until(lambda: _status(a, tid, "selesai"), timeout=30)
    assert [h["to"] for h in (await a.stores.reports.get(tid))["history"]].count("ditanggapi") == 1


async def _upstream_id(rt, tid):
    r = await rt.stores.reports.get(tid)
    return bool((r.get("upstream") or {}).get("id"))


async def _status(rt, tid, status):
    return (await rt.stores.reports.get(tid))["status"] == status


async def test_upstream_down_is_retried_with_backoff_and_never_duplicated(pair):
    a, b, g, drv, key = pair
    fwd = a.forwarding
    await fwd.stop()  # drive the rounds by hand
    store = UpstreamStore(a.stores.db)
    await store.set(AGENCY, "open311", "http://127.0.0.1:9/open311/v2", key)  # nothing listens there
    report = await make_report(a, await citizen(a), privacy="anonim")
    tid = report["tracking_id"]
    await advance(a, tid, "terverifikasi", "diteruskan", agency=AGENCY)
    done = await fwd.send_once()
    assert done["retry"] == [tid]
    job = await fwd.jobs.col.find_one({"tracking_id": tid})
    assert job["state"] == "queued" and job["attempts"] == 1 and "unreachable" in job["last_error"]
    assert job["next_at"] > utcnow() and [j["tracking_id"] for j in await fwd.pending()] == [tid]
    assert (await fwd.send_once())["retry"] == []  # not due yet
    assert backoff(1).total_seconds() == 30 and backoff(20).total_seconds() == 3600
    # hours later the upstream is back
    await store.set(AGENCY, "open311", f"http://127.0.0.1:{b.http_port}/open311/v2", key)
    await fwd.jobs.col.update_one({"_id": job["_id"]}, {"$set": {"next_at": utcnow()}})
    assert (await fwd.send_once())["sent"] == [tid]
    up = (await a.stores.reports.get(tid))["upstream"]
    theirs = await b.stores.reports.get(up["id"])
    assert theirs["privacy"] == "anonim" and theirs["reporter_name"] is None  # anonim: no reporter upstream
    # the answer was lost on the way: the same report is posted again -> the same upstream request
    from bot.forwarding.connectors import build

    config = await store.get(AGENCY)
    again = await build(config).submit(outgoing(await a.stores.reports.get(tid), AGENCY))
    assert again == up["id"]
    assert await b.stores.reports.col.count_documents({}) == 1
    # a forwarded report with no job (the process stopped before queueing) is caught up
    other = await make_report(a, await citizen(a), privacy="rahasia")
    await a.stores.reports.transition(other["tracking_id"], "terverifikasi", actor="admin")
    await a.stores.reports.transition(other["tracking_id"], "diteruskan", actor="admin", extra={"agency": AGENCY})
    assert (await fwd.send_once())["sent"] == [other["tracking_id"]]
    # B knows it is rahasia: never public, but A (the client that filed it) can follow it
    rid = (await a.stores.reports.get(other["tracking_id"]))["upstream"]["id"]
    import aiohttp

    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{b.http_port}") as s:
        async with s.get(f"/open311/v2/requests/{rid}.json") as r:
            assert r.status == 404
        async with s.get(f"/open311/v2/requests/{rid}.json", params={"api_key": key}) as r:
            assert r.status == 200 and (await r.json())[0]["lapor_status"] == "diterima"


async def test_garbage_from_upstream_changes_nothing(pair):
    a, b, g, drv, key = pair
    fwd = a.forwarding
    await fwd.stop()

    async def garbage(request):
        return web.Response(text="<html>502 Bad Gateway</html>", content_type="text/html")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", garbage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        report = await make_report(a, await citizen(a), privacy="publik")
        tid = report["tracking_id"]
        await advance(a, tid, "terverifikasi", "diteruskan", agency=AGENCY)
        assert (await fwd.send_once())["sent"] == [tid]  # B is still configured: sent there
        await UpstreamStore(a.stores.db).set(AGENCY, "open311", f"http://127.0.0.1:{port}/x", key)
        result = await fwd.poll_once()
        assert result["errors"] == [AGENCY] and result["moved"] == []
        mine = await a.stores.reports.get(tid)
        assert mine["status"] == "diteruskan" and "not JSON" in mine["upstream"]["error"]
    finally:
        await runner.cleanup()
