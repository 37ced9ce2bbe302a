"""Tracking, privacy of other people's reports, similar reports, follow-up, rating and objection."""
from bot.tracking import ALPHABET
from tests.chat import Chat
from tests.dialogue.conftest import DEFAULTS, answer_until_filed, start


async def file(rt, user, **over):
    chat = await start(rt, user)
    await chat.send("lapor")
    tid = await answer_until_filed(chat, {**DEFAULTS, **over})
    return chat, tid


async def test_status_and_my_reports_for_the_reporter(rt):
    chat, tid = await file(rt, "own", privacy="publik")
    await chat.send(f"cek status {tid}")
    text = chat.last[0].text
    assert tid in text and "berlubang" in text  # own report: content shown
    await chat.send("laporan saya")
    assert f"status:{tid}" in chat.payloads()


async def test_rahasia_content_never_reaches_another_contact(rt):
    owner, tid = await file(rt, "secret-owner", privacy="rahasia",
                            description="Petugas kelurahan minta uang tambahan untuk surat pindah saya")
    stranger = await start(rt, "stranger")
    await stranger.send(f"status {tid}")
    text = " ".join(r.text for r in stranger.last)
    assert tid in text
    assert "uang tambahan" not in text and "surat pindah" not in text
    assert "secret-owner" not in text
    assert f"addinfo:{tid}" not in stranger.payloads()


async def test_mistyped_id_is_reported_as_mistyped(rt):
    chat, tid = await file(rt, "typo")
    wrong = tid[:5] + next(c for c in ALPHABET if c != tid[5]) + tid[6:]
    await chat.send(f"cek status {wrong}")
    assert chat.templates() == ["tracking/mistyped"]


async def test_similar_open_report_can_be_supported_instead_of_filing(rt):
    first, tid = await file(rt, "sim1", privacy="publik", category="infrastruktur",
                            description="Jalan berlubang besar di depan pasar sentral membahayakan pengendara motor")
    second = await start(rt, "sim2")
    await second.send("lapor")
    for _ in range(12):
        if "filing/similar_found" in second.templates():
            break
        st = await second.state()
        await second.send({**DEFAULTS, "category": "infrastruktur",
                           "description": "Ada jalan berlubang besar depan pasar sentral, bahaya untuk motor"}[st["step"]])
    assert f"support:{tid}" in second.payloads()
    await second.send(payload=f"support:{tid}")
    contact = await second.contact()
    report = await rt.stores.reports.get(tid)
    assert contact["_id"] in report["supporters"]
    assert await rt.stores.db.reports.count_documents({}) == 1


async def test_add_information_to_an_open_report(rt):
    chat, tid = await file(rt, "addinfo")
    await chat.send(payload=f"addinfo:{tid}")
    await chat.send("Lubangnya sekarang makin lebar setelah hujan semalam")
    report = await rt.stores.reports.get(tid)
    assert report["additions"][0]["text"].startswith("Lubangnya")


async def test_rating_and_objection_after_settlement(rt):
    chat, tid = await file(rt, "rate")
    for to in ("terverifikasi", "diteruskan", "ditanggapi", "selesai"):
        await rt.stores.reports.transition(tid, to, actor="admin:test", note="Sudah ditambal" if to == "ditanggapi" else None)
    await chat.send(payload=f"rate:{tid}:1")
    assert "rating/low" in chat.templates()
    await chat.send(payload="objection:ya")
    await chat.send("Tambalannya sudah rusak lagi setelah dua hari")
    report = await rt.stores.reports.get(tid)
    assert report["rating"]["score"] == 1
    assert report["status"] == "diteruskan" and report["objection"]["reason"].startswith("Tambalannya")
    assert report["history"][-1]["actor"] == "warga"


async def test_good_rating_with_comment(rt):
    chat, tid = await file(rt, "rate5")
    for to in ("terverifikasi", "diteruskan", "ditanggapi", "selesai"):
        await rt.stores.reports.transition(tid, to, actor="admin:test")
    await chat.send(payload=f"rate:{tid}:5")
    await chat.send("Cepat sekali, terima kasih")
    report = await rt.stores.reports.get(tid)
    assert report["rating"]["score"] == 5 and report["rating"]["comment"].startswith("Cepat")
    stranger = Chat(rt, "not-owner")
    await stranger.send("halo")
    await stranger.send("ya")
    await stranger.send(payload=f"rate:{tid}:1")
    assert (await rt.stores.reports.get(tid))["rating"]["score"] == 5
