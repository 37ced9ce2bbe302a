"""Inbox, report page and what staff do there: answers, conflicts, notes, canned replies, re-route, return,
attachments, escaping and size limits (HTTP level, real database, real notifications)."""
import asyncio
import re
from datetime import timedelta

from bot.messages import utcnow
from tests.staff.conftest import advance, citizen, make_report, outbox_for

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def _forwarded(rt, agency="DPU-53.71", **kw):
    r = await make_report(rt, **kw)
    await advance(rt, r["tracking_id"], "terverifikasi", "diteruskan", agency=agency)
    return r


async def test_officer_answers_and_the_citizen_gets_the_full_answer(rt, signed_in):
    report = await _forwarded(rt)
    tid = report["tracking_id"]
    officer = await signed_in("officer", agency="DPU-53.71")
    page = await (await officer.get(f"/staff/reports/{tid}")).text()
    assert 'name="to" value="ditanggapi"' in page and 'name="to" value="diteruskan"' not in page
    assert 'name="to" value="diarsipkan"' not in page
    answer = "Lubang sudah ditambal tim Dinas PU pada 20 November.\nTerima kasih atas laporannya." + " Detail." * 50
    r = await officer.form(f"/staff/reports/{tid}/transition", to="ditanggapi", note=answer, **{"from": "diteruskan"})
    assert r.status == 303 and r.headers["Location"] == f"/staff/reports/{tid}?done=ditanggapi"
    done = await (await officer.get(r.headers["Location"])).text()
    assert "Tanggapan terkirim ke pelapor" in done
    report = await rt.stores.reports.get(tid)
    assert report["status"] == "ditanggapi" and report["history"][-1]["actor"] == f"staff:{officer.user['_id']}"
    sent = [m for m in await outbox_for(rt, report["contact_id"]) if m["template"] == "notify/ditanggapi"]
    assert len(sent) == 1 and answer.replace("\n", " ") in sent[0]["text"].replace("\n", " ")


async def test_officer_may_only_answer(rt, signed_in):
    report = await _forwarded(rt)
    officer = await signed_in("officer", agency="DPU-53.71")
    for to in ("diarsipkan", "selesai", "diteruskan"):
        r = await officer.form(f"/staff/reports/{report['tracking_id']}/transition", to=to, note="x", agency="PLN")
        assert r.status == 403
    r = await officer.form(f"/staff/reports/{report['tracking_id']}/transition", to="nonsense")
    assert r.status == 400
    r = await officer.form(f"/staff/reports/{report['tracking_id']}/transition", to="ditanggapi", note="  ")
    assert r.status == 400 and "Tulis tanggapan" in await r.text()
    assert (await rt.stores.reports.get(report["tracking_id"]))["status"] == "diteruskan"


async def test_two_officers_answering_at_once_one_wins_the_other_sees_a_conflict(rt, signed_in):
    report = await _forwarded(rt)
    tid = report["tracking_id"]
    a = await signed_in("officer", agency="DPU-53.71")
    b = await signed_in("officer", agency="DPU-53.71")
    ra, rb = await asyncio.gather(
        a.form(f"/staff/reports/{tid}/transition", to="ditanggapi", note="Jawaban A", **{"from": "diteruskan"}),
        b.form(f"/staff/reports/{tid}/transition", to="ditanggapi", note="Jawaban B", **{"from": "diteruskan"}))
    assert sorted((ra.status, rb.status)) == [303, 409]
    loser = ra if ra.status == 409 else rb
    text = await loser.text()
    assert "baru saja diubah oleh orang lain" in text
    assert ("Jawaban A" if loser is ra else "Jawaban B") in text  # the loser's text is kept in the form
    report = await rt.stores.reports.get(tid)
    assert [h["to"] for h in report["history"]].count("ditanggapi") == 1
    sent = [m for m in await outbox_for(rt, report["contact_id"]) if m["template"] == "notify/ditanggapi"]
    assert len(sent) == 1


async def test_admin_forwards_with_the_suggested_or_a_typed_agency(rt, signed_in):
    admin = await signed_in("admin")
    r1, r2 = await make_report(rt), await make_report(rt)
    for r in (r1, r2):
        await advance(rt, r["tracking_id"], "terverifikasi")
    page = await (await admin.get(f"/staff/reports/{r1['tracking_id']}")).text()
    assert 'name="agency" maxlength="64" value="DPU-53.71"' in page
    assert (await admin.form(f"/staff/reports/{r1['tracking_id']}/transition", to="diteruskan",
                             agency="DPU-53.71")).status == 303
    r = await admin.form(f"/staff/reports/{r2['tracking_id']}/transition", to="diteruskan", agency="NOPE")
    assert r.status == 400 and "tidak dikenal" in await r.text()
    assert (await admin.form(f"/staff/reports/{r2['tracking_id']}/transition", to="diteruskan",
                             agency="pln")).status == 303
    assert (await rt.stores.reports.get(r1["tracking_id"]))["agency"] == "DPU-53.71"
    assert (await rt.stores.reports.get(r2["tracking_id"]))["agency"] == "PLN"


async def test_return_to_admin_then_reroute_both_audited(rt, signed_in):
    report = await _forwarded(rt)
    tid = report["tracking_id"]
    officer = await signed_in("officer", agency="DPU-53.71")
    admin = await signed_in("admin")
    assert (await officer.form(f"/staff/reports/{tid}/return", note="")).status == 400
    r = await officer.form(f"/staff/reports/{tid}/return", note="Ini urusan PLN, bukan Dinas PU")
    assert r.status == 303
    assert "dikembalikan ke admin" in await (await officer.get(r.headers["Location"])).text()
    assert (await officer.get(f"/staff/reports/{tid}")).status == 404
    inbox = await (await admin.get("/staff/reports")).text()
    assert tid in inbox and "Dikembalikan" in inbox
    page = await (await admin.get(f"/staff/reports/{tid}")).text()
    assert "Ini urusan PLN, bukan Dinas PU" in page
    assert (await admin.form(f"/staff/reports/{tid}/reroute", agency="PLN", note="")).status == 400
    r = await admin.form(f"/staff/reports/{tid}/reroute", agency="PLN", note="Listrik: PLN")
    assert r.status == 303
    pln = await signed_in("officer", agency="PLN")
    assert (await pln.get(f"/staff/reports/{tid}")).status == 200
    report = await rt.stores.reports.get(tid)
    assert report["agency"] == "PLN" and report["returned"] is None and report["followup_due_at"] > utcnow()
    actions = {(a["action"], a["actor"]) for a in await rt.staff.audit.for_target(tid)}
    assert ("report_return", f"staff:{officer.user['_id']}") in actions
    assert ("report_reroute", f"staff:{admin.user['_id']}") in actions
    sent = [m for m in await outbox_for(rt, report["contact_id"]) if m["template"] == "notify/diteruskan"]
    assert len(sent) == 2 and "PLN" in sent[-1]["text"]
    assert (await officer.form(f"/staff/reports/{tid}/reroute", agency="DPU-53.71", note="x")).status == 403


async def test_internal_notes_and_canned_replies(rt, signed_in):
    report = await _forwarded(rt)
    tid = report["tracking_id"]
    officer = await signed_in("officer", agency="DPU-53.71")
    assert (await officer.form(f"/staff/reports/{tid}/notes", note="Cek ke lapangan Senin")).status == 303
    page = await (await officer.get(f"/staff/reports/{tid}")).text()
    assert "Cek ke lapangan Senin" in page
    assert not [m for m in await outbox_for(rt, report["contact_id"]) if "Cek ke lapangan" in (m.get("text") or "")]
    assert (await officer.form("/staff/canned", title="Sudah diperbaiki", text="Terima kasih, sudah kami perbaiki."
                               )).status == 303
    other = await signed_in("officer", agency="PLN")
    assert "Sudah diperbaiki" not in await (await other.get("/staff/canned")).text()
    canned = await rt.stores.db.canned_replies.find_one({})
    assert canned["agency"] == "DPU-53.71"
    page = await (await officer.get(f"/staff/reports/{tid}?canned={canned['_id']}")).text()
    assert re.search(r'<textarea id="note"[^>]*>Terima kasih, sudah kami perbaiki\.</textarea>', page)
    assert (await other.form(f"/staff/canned/{canned['_id']}/delete")).status == 404
    assert (await officer.form(f"/staff/canned/{canned['_id']}/delete")).status == 303
    assert await rt.stores.db.canned_replies.count_documents({}) == 0
    audit = await rt.stores.db.audit.find_one({"action": "report_note"})
    assert audit["actor"] == f"staff:{officer.user['_id']}" and "Senin" not in str(audit)


async def test_citizen_and_staff_text_is_escaped_everywhere(rt, signed_in):
    contact = await citizen(rt, "55501", "telegram", XSS)
    report = await make_report(rt, contact, description=XSS, category=XSS)
    tid = report["tracking_id"]
    await rt.stores.reports.add_info(tid, XSS)
    await advance(rt, tid, "terverifikasi", "diteruskan")
    admin = await signed_in("admin")
    assert (await admin.form(f"/staff/reports/{tid}/notes", note=XSS)).status == 303
    assert (await admin.form("/staff/canned", title=XSS, text=XSS)).status == 303
    await advance(rt, tid, "ditanggapi")
    for path in (f"/staff/reports/{tid}", "/staff/reports", f"/staff/reports?q={XSS}", "/staff/canned"):
        text = await (await admin.get(path)).text()
        assert "<script>" not in text and "<img src=x" not in text, path
        assert "&lt;script&gt;" in text, path
    r = await admin.get(f"/staff/reports/{tid}")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"


async def test_oversized_notes_and_bodies_are_413(rt, signed_in):
    report = await _forwarded(rt)
    tid = report["tracking_id"]
    officer = await signed_in("officer", agency="DPU-53.71")
    for path in (f"/staff/reports/{tid}/transition", f"/staff/reports/{tid}/notes"):
        r = await officer.form(path, to="ditanggapi", note="x" * 8001)
        assert r.status == 413 and "terlalu panjang" in await r.text()
    r = await officer.post(f"/staff/reports/{tid}/notes", data={"csrf_token": officer.csrf, "note": "y" * 70_000})
    assert r.status == 413
    r = await officer.post(f"/staff/reports/{tid}/notes", data=b"z" * 200_000,
                           headers={"Content-Type": "application/octet-stream", "X-CSRF-Token": officer.csrf})
    assert r.status == 413
    assert (await rt.stores.reports.get(tid))["status"] == "diteruskan"
    assert await rt.stores.db.report_notes.count_documents({}) == 0


async def test_inbox_filters_sorts_by_deadline_counts_and_pages(rt, signed_in):
    admin = await signed_in("admin")
    late = await _forwarded(rt)
    await rt.stores.reports.col.update_one({"_id": late["_id"]},
                                           {"$set": {"followup_due_at": utcnow() - timedelta(days=2)}})
    soon = await make_report(rt, category="kesehatan", privacy="rahasia")
    await rt.stores.reports.col.update_one({"_id": soon["_id"]},
                                           {"$set": {"verify_due_at": utcnow() + timedelta(hours=1)}})
    later = await make_report(rt, region=("35.78", "Kota Surabaya", "35", "Jawa Timur"))
    done = await _forwarded(rt)
    await advance(rt, done["tracking_id"], "ditanggapi", "selesai")
    text = await (await admin.get("/staff/reports")).text()
    order = [m for m in re.findall(r'<a href="/staff/reports/(LPR-[0-9A-Z]+)">', text)]
    assert order == [late["tracking_id"], soon["tracking_id"], later["tracking_id"], done["tracking_id"]]
    assert re.search(r'<tr class="overdue">\s*<th scope="row"><a href="/staff/reports/' + late["tracking_id"], text)
    assert re.search(r'Diterima <span class="count">2</span>', text)
    assert re.search(r'Diteruskan <span class="count">1</span>', text)
    assert re.search(r'Selesai <span class="count">1</span>', text)

    async def ids(query):
        return re.findall(r'<a href="/staff/reports/(LPR-[0-9A-Z]+)">', await (await admin.get(
            "/staff/reports?" + query)).text())

    assert await ids("overdue=1") == [late["tracking_id"]]
    assert await ids("status=diterima") == [soon["tracking_id"], later["tracking_id"]]
    assert await ids("category=kesehatan") == [soon["tracking_id"]]
    assert await ids("region=35") == [later["tracking_id"]]
    assert await ids("privacy=rahasia") == [soon["tracking_id"]]
    assert await ids("agency=dpu-53.71") == [late["tracking_id"], done["tracking_id"]]
    assert await ids("channel=telegram&status=diterima") == [soon["tracking_id"], later["tracking_id"]]
    assert await ids("channel=sms") == []
    assert await ids(f"q={soon['tracking_id'].lower()}") == [soon["tracking_id"]]
    assert await ids("q=SDN 3 Oebobo&status=selesai") == [done["tracking_id"]]
    for bad in ("status=nope", "privacy=x", "overdue=maybe", "page=0", "page=abc"):
        assert (await admin.get("/staff/reports?" + bad)).status == 400, bad
    csv_rows = (await (await admin.get("/staff/reports.csv?status=diterima")).text()).strip().splitlines()
    assert len(csv_rows) == 3 and csv_rows[1].startswith(soon["tracking_id"])
    for _ in range(26):
        await make_report(rt)
    page1 = await ids("status=diterima")
    page2 = await ids("status=diterima&page=2")
    assert len(page1) == 25 and len(page2) == 3 and not set(page1) & set(page2)


async def test_csv_cells_cannot_become_formulas(rt, signed_in):
    await make_report(rt, description="=HYPERLINK(\"http://evil\",\"klik\")")
    admin = await signed_in("admin")
    text = await (await admin.get("/staff/reports.csv")).text()
    assert "'=HYPERLINK" in text


async def test_attachments_inline_images_scoped_and_audited(rt, signed_in):
    from gridfs import AsyncGridFSBucket

    jpeg = b"\xff\xd8\xff\xe0JPEGDATA\xff\xd9"
    fid = await AsyncGridFSBucket(rt.stores.db).upload_from_stream("foto.jpg", jpeg)
    pdf = await AsyncGridFSBucket(rt.stores.db).upload_from_stream("a.html", b"<script>x</script>")
    report = await _forwarded(rt, attachments=[
        {"kind": "photo", "mime_type": "image/jpeg", "filename": "foto.jpg", "size": 14, "gridfs_id": fid},
        {"kind": "document", "mime_type": "text/html", "filename": "a.html", "size": 18, "gridfs_id": pdf}])
    tid = report["tracking_id"]
    officer = await signed_in("officer", agency="DPU-53.71")
    page = await (await officer.get(f"/staff/reports/{tid}")).text()
    assert f'<img src="/staff/reports/{tid}/attachments/0"' in page
    r = await officer.get(f"/staff/reports/{tid}/attachments/0")
    assert r.status == 200 and await r.read() == jpeg and r.content_type == "image/jpeg"
    assert r.headers["Content-Disposition"].startswith("inline")
    r = await officer.get(f"/staff/reports/{tid}/attachments/1")
    assert r.content_type == "application/octet-stream" and r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    for bad in ("2", "-1", "x"):
        assert (await officer.get(f"/staff/reports/{tid}/attachments/{bad}")).status == 404
    assert await rt.stores.db.audit.count_documents({"action": "attachment_view", "target": tid}) == 2
