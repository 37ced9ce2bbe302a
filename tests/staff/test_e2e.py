"""End to end: a citizen files through the engine (NLU off), staff verify and forward, the agency answers,
the citizen receives each notification and rates through the ``rate:`` button."""
import re

from tests.chat import Chat
from tests.staff.conftest import ADMIN, agency_headers, outbox_for

TID = re.compile(r"LPR-[0-9A-Z]{7}")
ANSWERS = {
    "type": "pengaduan", "description": "Jalan di depan pasar Oeba berlubang besar dan sering bikin motor jatuh",
    "location": "Jl. Ahmad Yani, Kota Kupang", "region": "1", "incident_date": "kemarin",
    "category": "infrastruktur", "agency": "1", "attachments": "lewati", "privacy": "anonim", "confirmed": "kirim",
}


async def _file(chat: Chat) -> str:
    await chat.send("halo")
    await chat.send("ya")
    await chat.send("lapor")
    for _ in range(15):
        for r in chat.last:
            m = TID.search(r.text or "")
            if m and r.template == "filing/receipt":
                return m.group(0)
        step = (await chat.state()).get("step")
        assert step in ANSWERS, (step, [r.text for r in chat.last])
        await chat.send(ANSWERS[step])
    raise AssertionError(chat.transcript)


async def test_citizen_files_staff_move_agency_answers_citizen_rates(rt, client):
    chat = Chat(rt, "e2e-warga", "console", "Warga Kupang")
    tid = await _file(chat)
    report = await rt.stores.reports.get(tid)
    assert report["status"] == "diterima" and report["verify_due_at"] is not None  # SLA set at filing
    contact = await chat.contact()
    url = f"/api/v1/reports/{tid}/transitions"

    r = await client.post(url, headers=ADMIN, json={"to": "terverifikasi", "note": "Data lengkap"})
    assert r.status == 200
    r = await client.post(url, headers=ADMIN, json={"to": "diteruskan", "agency": "DPU-53.71"})
    assert r.status == 200
    agency = await agency_headers(rt, "DPU-53.71")
    listed = await (await client.get("/api/v1/reports", headers=agency)).json()
    assert [x["tracking_id"] for x in listed["items"]] == [tid]
    assert "reporter" not in listed["items"][0]  # anonim: the agency never learns who
    answer = "Lubang di Jl. Ahmad Yani sudah ditambal oleh tim Dinas PU pada 20 November. Terima kasih."
    r = await client.post(url, headers=agency, json={"to": "ditanggapi", "note": answer})
    assert r.status == 200
    r = await client.post(url, headers=ADMIN, json={"to": "selesai"})
    assert r.status == 200

    notes = [m for m in await outbox_for(rt, contact["_id"]) if m["template"].startswith("notify/")]
    assert [m["template"] for m in notes] == ["notify/terverifikasi", "notify/diteruskan", "notify/ditanggapi",
                                              "notify/selesai"]
    assert all(tid in m["text"] for m in notes)
    assert "Dinas Pekerjaan Umum Kota Kupang" in notes[1]["text"]
    assert answer in notes[2]["text"]
    rate_buttons = [c["payload"] for c in notes[3]["choices"]]
    assert rate_buttons == [f"rate:{tid}:{n}" for n in range(1, 6)]

    await chat.send("5", payload=rate_buttons[4])
    assert (await rt.stores.reports.get(tid))["rating"]["score"] == 5
    body = await (await client.get(f"/api/v1/reports/{tid}", headers=ADMIN)).json()
    assert body["rating"]["score"] == 5 and body["status"] == "selesai"
    assert [n["event"] for n in body["notifications"]] == ["terverifikasi", "diteruskan", "ditanggapi", "selesai"]
    assert [h["to"] for h in body["history"]] == ["diterima", "terverifikasi", "diteruskan", "ditanggapi", "selesai"]
    stats = await (await client.get("/api/v1/stats?by=province", headers=ADMIN)).json()
    assert stats["total"]["settled"] == 1 and stats["total"]["avg_rating"] == 5.0
