"""Every route and role of the staff API, and the bad input the issue lists."""
import asyncio
import json

from bot import reports as domain
from bot.messages import utcnow
from tests.staff.conftest import ADMIN, advance, agency_headers, citizen, make_report

ROUTES = [("GET", "/api/v1/reports"), ("GET", "/api/v1/reports/LPR-XXXXXXX"),
          ("POST", "/api/v1/reports/LPR-XXXXXXX/transitions"), ("GET", "/api/v1/reports/LPR-XXXXXXX/attachments/0"),
          ("GET", "/api/v1/stats"), ("POST", "/api/v1/volunteers/invites"), ("GET", "/api/v1/handoffs"),
          ("POST", "/api/v1/handoffs/0123456789abcdef01234567/reply")]


async def test_openapi_document_lists_every_route(client):
    r = await client.get("/api/v1/openapi.json")
    assert r.status == 200
    doc = await r.json()
    assert doc["openapi"].startswith("3.")
    for _, path in ROUTES:
        templ = (path.replace("/api/v1", "").replace("LPR-XXXXXXX", "{tracking_id}")
                 .replace("/0123456789abcdef01234567", "/{handoff_id}").replace("attachments/0", "attachments/{n}"))
        assert templ in doc["paths"], templ


async def test_missing_or_wrong_token_is_401_on_every_route(client):
    for method, path in ROUTES:
        for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"Authorization": "Basic abc"},
                        {"Authorization": "Bearer lapag_forged"}):
            r = await client.request(method, path, headers=headers, json={} if method == "POST" else None)
            assert r.status == 401, (method, path, headers)
            assert (await r.json())["error"] == "unauthorized"


async def test_agency_is_forbidden_admin_routes(rt, client):
    h = await agency_headers(rt, "DPU-53.71")
    assert (await client.post("/api/v1/volunteers/invites", headers=h, json={})).status == 403
    assert (await client.get("/api/v1/handoffs", headers=h)).status == 403
    assert (await client.post("/api/v1/handoffs/0123456789abcdef01234567/reply", headers=h,
                              json={"text": "x"})).status == 403


async def test_get_report_has_the_listed_fields(rt, client):
    rep = await make_report(rt, attachments=[{"kind": "photo", "mime_type": "image/jpeg", "filename": "a.jpg",
                                              "size": 3, "gridfs_id": None, "ref": "tg-file-1"}])
    r = await client.get(f"/api/v1/reports/{rep['tracking_id']}", headers=ADMIN)
    assert r.status == 200
    body = await r.json()
    for key in ("tracking_id", "type", "category", "description", "location", "incident_date", "privacy", "agency",
                "status", "history", "attachments", "channel", "created_at", "rating", "supporters", "reporter",
                "notifications", "deadlines"):
        assert key in body, key
    assert body["location"]["region_code"] == "53.71" and body["location"]["region_name"] == "Kota Kupang"
    assert body["history"][0]["to"] == "diterima" and body["history"][0]["actor"] == "warga"
    assert body["attachments"][0]["kind"] == "photo" and body["attachments"][0]["url"] is None
    assert body["deadlines"]["verify_due_at"]
    # lower-case tracking id is accepted
    assert (await client.get(f"/api/v1/reports/{rep['tracking_id'].lower()}", headers=ADMIN)).status == 200


async def test_unknown_ids_are_404(rt, client):
    for method, path in ROUTES[1:4]:
        r = await client.request(method, path, headers=ADMIN, json={"to": "terverifikasi"} if method == "POST" else None)
        assert r.status == 404, path
        assert (await r.json())["error"] == "not_found"
    r = await client.post("/api/v1/handoffs/not-an-id/reply", headers=ADMIN, json={"text": "halo"})
    assert r.status == 404
    r = await client.post("/api/v1/handoffs/0123456789abcdef01234567/reply", headers=ADMIN, json={"text": "halo"})
    assert r.status == 404


async def test_admin_lifecycle_and_agency_answer(rt, client):
    rep = await make_report(rt)
    tid = rep["tracking_id"]
    url = f"/api/v1/reports/{tid}/transitions"
    r = await client.post(url, headers=ADMIN, json={"to": "terverifikasi", "note": "lengkap"})
    assert r.status == 200 and (await r.json())["status"] == "terverifikasi"
    r = await client.post(url, headers=ADMIN, json={"to": "diteruskan", "agency": "dpu-53.71"})
    body = await r.json()
    assert r.status == 200 and body["agency"] == "DPU-53.71" and body["deadlines"]["followup_due_at"]
    dpu = await agency_headers(rt, "DPU-53.71")
    other = await agency_headers(rt, "DPU-53.01")
    # another agency does not see it at all
    assert (await client.get(f"/api/v1/reports/{tid}", headers=other)).status == 404
    assert (await client.post(url, headers=other, json={"to": "ditanggapi", "note": "x"})).status == 404
    # the agency may only answer
    r = await client.post(url, headers=dpu, json={"to": "diarsipkan"})
    assert r.status == 403
    r = await client.post(url, headers=dpu, json={"to": "ditanggapi"})
    assert r.status == 400 and (await r.json())["error"] == "missing_field"
    r = await client.post(url, headers=dpu, json={"to": "ditanggapi", "note": "Jalan sudah ditambal 20 Nov."})
    body = await r.json()
    assert r.status == 200 and body["status"] == "ditanggapi"
    assert body["history"][-1]["actor"] == "instansi:DPU-53.71"
    assert body["history"][-1]["note"] == "Jalan sudah ditambal 20 Nov."
    assert body["deadlines"]["autoclose_at"]
    r = await client.post(url, headers=ADMIN, json={"to": "selesai"})
    assert r.status == 200 and (await r.json())["status"] == "selesai"
    # every staff action is in the audit trail with actor and time
    audit = await rt.staff.audit.for_target(tid)
    assert [(a["actor"], a["details"]["to"]) for a in audit] == [
        ("admin", "terverifikasi"), ("admin", "diteruskan"), ("instansi:DPU-53.71", "ditanggapi"), ("admin", "selesai")]
    assert all(a["at"] for a in audit)


async def test_illegal_transitions_are_409_with_a_clear_error(rt, client):
    rep = await make_report(rt)
    url = f"/api/v1/reports/{rep['tracking_id']}/transitions"
    r = await client.post(url, headers=ADMIN, json={"to": "selesai"})
    body = await r.json()
    assert r.status == 409 and body["error"] == "illegal_transition"
    assert body["current"] == "diterima" and body["target"] == "selesai"
    assert set(body["allowed"]) == {"terverifikasi", "diarsipkan"}
    await client.post(url, headers=ADMIN, json={"to": "diarsipkan", "note": "duplikat"})
    r = await client.post(url, headers=ADMIN, json={"to": "terverifikasi"})
    assert r.status == 409 and (await r.json())["current"] == "diarsipkan"
    # archiving is a status: the report is still there
    assert (await rt.stores.reports.get(rep["tracking_id"]))["status"] == "diarsipkan"


async def test_bad_bodies(rt, client):
    rep = await make_report(rt)
    url = f"/api/v1/reports/{rep['tracking_id']}/transitions"
    h = {**ADMIN, "Content-Type": "application/json"}
    cases = [
        ("{not json", 400, "malformed_json"), ("[1, 2]", 400, "malformed_json"), ("\xff\xfe", 400, "malformed_json"),
        (json.dumps({"to": "terverifikasi", "priority": "high"}), 400, "unknown_fields"),
        (json.dumps({"to": "menunggu"}), 400, "invalid_field"), (json.dumps({"to": 5}), 400, "invalid_field"),
        (json.dumps({"to": "terverifikasi", "note": 12}), 400, "invalid_field"),
        (json.dumps({"to": "terverifikasi", "note": "x" * 8001}), 413, "too_large"),
        (json.dumps({"to": "terverifikasi", "agency": "PLN"}), 400, "invalid_field"),
    ]
    for raw, status, code in cases:
        r = await client.post(url, headers=h, data=raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw)
        assert r.status == status, raw[:40]
        assert (await r.json())["error"] == code, raw[:40]
    r = await client.post(url, headers=h, data=b"{" + b" " * 70000 + b"}")
    assert r.status == 413
    r = await client.post(url, headers=h, data=json.dumps({"to": "terverifikasi"}))
    assert r.status == 200
    r = await client.post(url, headers=h, data=json.dumps({"to": "diteruskan", "agency": "NOT-AN-AGENCY"}))
    assert r.status == 400
    # nothing was half-applied by the rejected requests
    report = await rt.stores.reports.get(rep["tracking_id"])
    assert [x["to"] for x in report["history"]] == ["diterima", "terverifikasi"]


async def test_forward_without_agency_uses_the_suggestion(rt, client):
    rep = await make_report(rt)
    await advance(rt, rep["tracking_id"], "terverifikasi")
    r = await client.post(f"/api/v1/reports/{rep['tracking_id']}/transitions", headers=ADMIN, json={"to": "diteruskan"})
    assert r.status == 200 and (await r.json())["agency"] == "DPU-53.71"


async def test_racing_transitions_exactly_one_wins(rt, client):
    for target_pair in (("terverifikasi", "terverifikasi"), ("terverifikasi", "diarsipkan")):
        rep = await make_report(rt)
        url = f"/api/v1/reports/{rep['tracking_id']}/transitions"
        # each staff member says which status they acted on ("from"): whoever comes second gets 409
        rs = await asyncio.gather(*(client.post(url, headers=ADMIN, json={"to": t, "from": "diterima"})
                                    for t in target_pair))
        assert sorted(r.status for r in rs) == [200, 409]
        report = await rt.stores.reports.get(rep["tracking_id"])
        assert len(report["history"]) == 2
    # many at once
    rep = await make_report(rt)
    url = f"/api/v1/reports/{rep['tracking_id']}/transitions"
    rs = await asyncio.gather(*(client.post(url, headers=ADMIN, json={"to": "terverifikasi"}) for _ in range(8)))
    assert sorted(r.status for r in rs) == [200] + [409] * 7
    # a stale "from" is a conflict even when the move would be legal now
    r = await client.post(url, headers=ADMIN, json={"to": "diarsipkan", "from": "diterima"})
    assert r.status == 409 and (await r.json())["current"] == "terverifikasi"
    assert (await client.post(url, headers=ADMIN, json={"to": "diarsipkan", "from": "kemarin"})).status == 400


async def test_list_filters_and_pagination(rt, client):
    a = await make_report(rt, category="infrastruktur", description="Jembatan gantung putus di desa kami")
    b = await make_report(rt, category="kependudukan", region=("35.78", "Kota Surabaya", "35", "Jawa Timur"),
                          description="KTP elektronik belum jadi setelah tiga bulan")
    c = await make_report(rt, category="kesehatan", privacy="rahasia", description="Puskesmas tutup di jam buka")
    await advance(rt, b["tracking_id"], "terverifikasi", "diteruskan", agency="DUKCAPIL-35.78")
    # c is overdue for verification
    await rt.stores.reports.col.update_one({"_id": c["_id"]}, {"$set": {"verify_due_at": utcnow().replace(year=2020)}})

    async def ids(query: str, headers=ADMIN) -> set:
        r = await client.get(f"/api/v1/reports?{query}", headers=headers)
        assert r.status == 200, await r.text()
        return {x["tracking_id"] for x in (await r.json())["items"]}

    assert await ids("") == {a["tracking_id"], b["tracking_id"], c["tracking_id"]}
    assert await ids("status=diteruskan") == {b["tracking_id"]}
    assert await ids("status=diterima,diteruskan") == {a["tracking_id"], b["tracking_id"], c["tracking_id"]}
    assert await ids("category=kesehatan") == {c["tracking_id"]}
    assert await ids("region=35.78") == {b["tracking_id"]}
    assert await ids("region=53") == {a["tracking_id"], c["tracking_id"]}
    assert await ids("agency=DUKCAPIL-35.78") == {b["tracking_id"]}
    assert await ids("overdue=true") == {c["tracking_id"]}
    assert await ids("overdue=false") == {a["tracking_id"], b["tracking_id"]}
    assert await ids("text=jembatan") == {a["tracking_id"]}
    assert await ids("text=KTP%20elektronik") == {b["tracking_id"]}
    assert await ids("text=.*") == set()  # a search text is literal, not a pattern
    assert await ids(f"text={c['tracking_id']}") == {c["tracking_id"]}
    r = await client.get("/api/v1/reports?limit=2&offset=0", headers=ADMIN)
    page1 = await r.json()
    r = await client.get("/api/v1/reports?limit=2&offset=2", headers=ADMIN)
    page2 = await r.json()
    assert page1["total"] == page2["total"] == 3 and len(page1["items"]) == 2 and len(page2["items"]) == 1
    assert not {x["tracking_id"] for x in page1["items"]} & {x["tracking_id"] for x in page2["items"]}
    for bad in ("limit=0", "limit=1000", "offset=-1", "status=menunggu", "overdue=maybe", "sort=asc"):
        assert (await client.get(f"/api/v1/reports?{bad}", headers=ADMIN)).status == 400, bad
    # an agency sees only what was forwarded to it, whatever it asks for
    dk = await agency_headers(rt, "DUKCAPIL-35.78")
    assert await ids("", dk) == {b["tracking_id"]}
    assert await ids("agency=DPU-53.71", dk) == set()
    assert await ids("status=diterima", dk) == set()


async def test_volunteer_invite_returns_a_redeemable_code(rt, client):
    r = await client.post("/api/v1/volunteers/invites", headers=ADMIN, json={"note": "kampus UNDANA", "max_uses": 3})
    assert r.status == 201
    code = (await r.json())["code"]
    c = await citizen(rt, "111222333")
    assert await rt.stores.volunteers.redeem(code, c["_id"]) == "joined"
    assert (await client.post("/api/v1/volunteers/invites", headers=ADMIN, json={"max_uses": 0})).status == 400
    assert (await client.post("/api/v1/volunteers/invites", headers=ADMIN, json={"code": "MINE"})).status == 400
    audit = await rt.staff.audit.for_target(code)
    assert audit[0]["action"] == "volunteer_invite" and audit[0]["actor"] == "admin"


async def test_handoffs_list_and_reply_reaches_the_citizen(rt, client):
    c = await citizen(rt, "555666777", language="en")
    h = await rt.stores.handoffs.open(c["_id"], "saya mau bicara dengan petugas")
    r = await client.get("/api/v1/handoffs", headers=ADMIN)
    items = (await r.json())["items"]
    assert r.status == 200 and [i["id"] for i in items] == [str(h["_id"])]
    assert "555666777" not in json.dumps(items)
    r = await client.post(f"/api/v1/handoffs/{h['_id']}/reply", headers=ADMIN,
                          json={"text": "Halo, kami bantu cek laporannya.", "close": True})
    assert r.status == 200
    out = await rt.stores.messages.col.find({"contact_id": c["_id"], "direction": "out"}).to_list(10)
    assert len(out) == 1 and "Halo, kami bantu cek laporannya." in out[0]["text"]
    assert out[0]["text"].startswith("LAPOR! staff")  # in the citizen's language
    assert (await rt.stores.handoffs.get(h["_id"]))["status"] == "closed"
    assert (await client.get("/api/v1/handoffs?status=closed", headers=ADMIN)).status == 200
    assert (await client.post(f"/api/v1/handoffs/{h['_id']}/reply", headers=ADMIN, json={})).status == 400
    assert (await client.post(f"/api/v1/handoffs/{h['_id']}/reply", headers=ADMIN,
                              json={"text": "x" * 9000})).status == 413
    assert (await rt.staff.audit.for_target(str(h["_id"])))[0]["action"] == "handoff_reply"


async def test_attachment_download_is_scoped(rt, client):
    from gridfs import AsyncGridFSBucket

    fid = await AsyncGridFSBucket(rt.stores.db).upload_from_stream("foto.jpg", b"\xff\xd8JPEGDATA")
    rep = await make_report(rt, attachments=[{"kind": "photo", "mime_type": "image/jpeg", "filename": "foto.jpg",
                                              "size": 10, "gridfs_id": fid, "ref": "file-ref"}])
    tid = rep["tracking_id"]
    r = await client.get(f"/api/v1/reports/{tid}", headers=ADMIN)
    url = (await r.json())["attachments"][0]["url"]
    assert url == f"/api/v1/reports/{tid}/attachments/0"
    r = await client.get(url, headers=ADMIN)
    assert r.status == 200 and await r.read() == b"\xff\xd8JPEGDATA" and r.content_type == "image/jpeg"
    assert (await client.get(url)).status == 401
    dpu = await agency_headers(rt, "DPU-53.71")
    assert (await client.get(url, headers=dpu)).status == 404  # not forwarded yet
    await advance(rt, tid, "terverifikasi", "diteruskan")
    assert (await client.get(url, headers=dpu)).status == 200
    assert (await client.get(f"/api/v1/reports/{tid}/attachments/1", headers=ADMIN)).status == 404
    assert (await client.get(f"/api/v1/reports/{tid}/attachments/x", headers=ADMIN)).status == 404
    actions = [a["action"] for a in await rt.staff.audit.for_target(tid)]
    assert actions.count("attachment_download") == 2


async def test_revoked_agency_token_is_401(rt, client):
    h = await agency_headers(rt, "PLN")
    assert (await client.get("/api/v1/reports", headers=h)).status == 200
    await rt.staff.tokens.revoke_agency("PLN")
    assert (await client.get("/api/v1/reports", headers=h)).status == 401
    # only the hash is stored
    doc = await rt.stores.db["staff_tokens"].find_one({"agency": "PLN"})
    assert h["Authorization"].split()[1] not in json.dumps(doc, default=str)


async def test_transition_statuses_constant_matches_domain():
    from bot.staff.api import STAFF_TARGETS

    assert set(STAFF_TARGETS) == set(domain.STATUSES) - {domain.DITERIMA}
