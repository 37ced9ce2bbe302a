"""``/staff/forwarding``: an upstream that is down shows its waiting jobs to admins (attempts, last error),
"try now" makes one due; officers get 403."""
from bot.forwarding.upstreams import UpstreamStore
from bot.messages import utcnow
from tests.staff.conftest import advance, make_report


async def test_admin_sees_waiting_forward_jobs_and_can_try_now(rt, signed_in):
    fwd = rt.forwarding
    await fwd.stop()  # rounds driven by the test
    await UpstreamStore(rt.stores.db).set("DPU-53.71", "open311", "http://127.0.0.1:9/open311/v2", "lapo311_x")
    report = await make_report(rt)
    tid = report["tracking_id"]
    await advance(rt, tid, "terverifikasi", "diteruskan")
    assert (await fwd.send_once())["retry"] == [tid]
    admin = await signed_in("admin")
    async with admin.get("/staff/forwarding") as r:
        assert r.status == 200
        html = await r.text()
    assert tid in html and "http://127.0.0.1:9/open311/v2" in html and "unreachable" in html
    assert "lapo311_x" not in html  # the upstream's key is never shown
    job = await fwd.jobs.col.find_one({"tracking_id": tid})
    assert job["next_at"] > utcnow()
    r = await admin.form(f"/staff/forwarding/{job['_id']}/retry")
    assert r.status == 303
    assert (await fwd.jobs.col.find_one({"_id": job["_id"]}))["next_at"] <= utcnow()
    officer = await signed_in("officer", agency="DPU-53.71")
    async with officer.get("/staff/forwarding") as r:
        assert r.status == 403
