"""Scripted citizen conversations with the real Rasa model. Assertions are on stored data and on what
information is present or absent in replies, never on exact wording."""
from datetime import date, timedelta

from bot.messages import Media, utcnow
from tests.dialogue.conftest import DEFAULTS, answer_until_filed, start, steps_asked_until_filed, tracking_id

KUPANG = "jalan di depan SDN 3 Oebobo Kupang berlubang besar sejak 2 minggu lalu, sudah ada motor jatuh"


async def test_one_message_fills_three_or_more_slots(rt):
    chat = await start(rt, "one", first=KUPANG)  # the first message is kept through the consent question
    slots = (await chat.state())["slots"]
    assert slots["description"] == KUPANG
    assert slots.get("category") == "infrastruktur" or slots.get("category_guess") == "infrastruktur"
    assert slots.get("incident_date") == (date.today() - timedelta(days=14)).isoformat()
    assert "location" in slots and slots.get("type") == "pengaduan"
    # Oebobo is a district of Kota Kupang, so the city is known (not the regency of the same name)
    assert slots["region"]["name"] == "Kota Kupang"
    filled = [k for k in ("description", "category", "incident_date", "location", "type", "region") if slots.get(k)]
    assert len(filled) >= 5
    answers = dict(DEFAULTS)
    tid = await answer_until_filed(chat, answers)
    report = await rt.stores.reports.get(tid)
    assert report["location"]["region_name"] == "Kota Kupang" and report["category"] == "infrastruktur"
    assert chat.questions <= 6  # agency, attachments, privacy, summary (+ category confirm at most)


async def test_ambiguous_place_is_asked_back(rt):
    chat = await start(rt, "amb")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("Lampu jalan di depan terminal bus mati semua sejak minggu lalu")
    await chat.send("terminal bus Kupang")  # Kota Kupang or Kabupaten Kupang?
    assert (await chat.state())["step"] == "region"
    assert {"region:53.71", "region:53.01"} <= set(chat.payloads())
    await chat.send("2")
    assert (await chat.state())["slots"]["region"]["name"] == "Kabupaten Kupang"


async def test_nothing_the_first_message_said_is_asked_again(rt):
    chat = await start(rt, "noask", first="Puskesmas di Kota Kendari tutup terus sejak kemarin padahal jam buka")
    asked = await steps_asked_until_filed(chat)
    assert not asked & {"description", "incident_date", "region", "type"}
    assert tracking_id(chat)


async def test_correction_mid_flow_updates_the_slot_without_restarting(rt):
    chat = await start(rt, "corr")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("Lampu penerangan jalan mati semua di sepanjang jalan utama kampung kami")
    await chat.send("Jl. Merdeka, Kota Kupang")
    before = (await chat.state())["slots"]
    assert before["region"]["name"] == "Kota Kupang"
    await chat.send("eh salah, lokasinya di Kendari")
    after = (await chat.state())["slots"]
    assert after["region"]["name"] == "Kota Kendari"
    assert after["description"] == before["description"] and after["type"] == "pengaduan"
    assert (await chat.state())["flow"] == "filing"


async def test_resume_after_two_days_offers_continue_or_discard(rt):
    chat = await start(rt, "resume")
    await chat.send("lapor")
    await chat.send("pengaduan")
    step_before = (await chat.state())["step"]
    later = utcnow() + timedelta(days=2)
    await chat.send("halo", received_at=later)
    assert "filing/resume_offer" in chat.templates()
    await chat.send(payload="resume:lanjut", received_at=later + timedelta(seconds=5))
    st = await chat.state()
    assert st["flow"] == "filing" and st["step"] == step_before and st["slots"]["type"] == "pengaduan"


async def test_resume_discard_and_draft_expiry(rt):
    chat = await start(rt, "discard")
    await chat.send("lapor")
    await chat.send("aspirasi")
    later = utcnow() + timedelta(days=3)
    await chat.send("halo", received_at=later)
    assert "filing/resume_offer" in chat.templates()
    await chat.send("buang", received_at=later)
    assert (await chat.state())["flow"] is None
    chat = await start(rt, "expire")
    await chat.send("lapor")
    await chat.send("aspirasi")
    await chat.send("bantuan", received_at=utcnow() + timedelta(days=31))
    assert "filing/draft_expired" in chat.templates()
    assert (await chat.state())["flow"] is None


async def test_cancel_asks_to_confirm(rt):
    chat = await start(rt, "cancel")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("batal")
    assert "filing/confirm_cancel" in chat.templates()
    await chat.send("tidak")
    assert (await chat.state())["flow"] == "filing"
    await chat.send("batal")
    await chat.send("ya")
    assert (await chat.state())["flow"] is None
    assert await rt.stores.db.reports.count_documents({}) == 0


async def test_out_of_scope_is_redirected_not_filed(rt):
    chat = await start(rt, "scope")
    await chat.send("saya mau melaporkan korupsi dana desa oleh kepala desa")
    text = " ".join(r.text for r in chat.last)
    assert "scope/out_of_scope" in chat.templates()
    assert "KPK" in text and "110" in text
    assert (await chat.state())["flow"] is None
    assert "flow:filing" in chat.payloads()  # a complaint about a public service is still possible


async def test_sms_style_numbered_answers_file_a_report(rt):
    chat = await start(rt, "62812", channel="sms")
    await chat.send("lapor")
    answers = {**DEFAULTS, "type": "1", "privacy": "2", "confirmed": "ya"}
    tid = await answer_until_filed(chat, answers)
    report = await rt.stores.reports.get(tid)
    assert report["type"] == "pengaduan" and report["privacy"] == "anonim" and report["channel"] == "sms"


async def test_english_conversation(rt):
    chat = await start(rt, "en")
    await chat.send("english")
    assert (await chat.contact())["language"] == "en"
    await chat.send("I want to report a problem")
    assert (await chat.state())["flow"] == "filing"
    answers = {**DEFAULTS, "type": "complaint", "privacy": "anonymous", "confirmed": "send",
               "description": "The street light in front of the market has been broken for weeks",
               "incident_date": "skip", "attachments": "skip"}
    tid = await answer_until_filed(chat, answers)
    assert "Report sent" in chat.last[0].text or tid in chat.last[0].text
    report = await rt.stores.reports.get(tid)
    assert report["language"] == "en" and report["privacy"] == "anonim"
    await chat.send("bahasa indonesia")
    assert (await chat.contact())["language"] == "id"


async def test_information_request_skips_the_incident_date(rt):
    chat = await start(rt, "info", first="Bagaimana cara mengurus akta kelahiran anak di Kota Kendari?")
    st = await chat.state()
    assert st["slots"].get("type") == "permintaan_informasi"
    asked = await steps_asked_until_filed(chat)
    assert "incident_date" not in asked and tracking_id(chat)


async def test_location_pin_and_attachments_are_kept(rt):
    chat = await start(rt, "pin")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("Sampah menumpuk di pinggir sungai dan baunya menyengat sampai ke rumah warga")
    await chat.send(location=(-3.9985, 122.5127))
    st = await chat.state()
    assert st["slots"]["location"]["lat"] == -3.9985
    answers = {**DEFAULTS, "region": "Kota Kendari"}
    for _ in range(6):
        st = await chat.state()
        if st["step"] == "attachments":
            break
        await chat.send(answers[st["step"]])
    await chat.send(media=[Media("photo", "file-1", "image/jpeg", "a.jpg", 1000)])
    await chat.send(media=[Media("document", "file-2", "application/pdf", "b.pdf", 2000)])
    assert (await chat.state())["step"] == "attachments"
    await chat.send("selesai")
    tid = await answer_until_filed(chat, answers)
    report = await rt.stores.reports.get(tid)
    assert [a["ref"] for a in report["attachments"]] == ["file-1", "file-2"]
    assert report["location"]["lon"] == 122.5127 and report["location"]["region_name"] == "Kota Kendari"


async def test_global_help_back_and_restart_work_in_every_step(rt):
    chat = await start(rt, "glob")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("Air PDAM tidak mengalir sudah seminggu di perumahan kami")
    step = (await chat.state())["step"]
    await chat.send("bantuan")
    assert "help/help" in chat.templates() and (await chat.state())["step"] == step
    await chat.send("kembali")
    st = await chat.state()
    assert "description" not in st["slots"] and st["step"] == "description"
    await chat.send("mulai lagi")
    st = await chat.state()
    assert st["flow"] == "filing" and st["slots"] == {} or set(st["slots"]) <= {"volunteer_mode"}


async def test_talk_to_a_person_records_a_request(rt):
    chat = await start(rt, "human")
    await chat.send("petugas")
    assert "human/requested" in chat.templates()
    await chat.send("Saya butuh bantuan mengisi laporan untuk ibu saya")
    contact = await chat.contact()
    h = await rt.stores.db.handoffs.find_one({"contact_id": contact["_id"]})
    assert h["status"] == "requested" and h["notes"][0]["text"].startswith("Saya butuh")


async def test_reports_per_day_limit(make_runtime, rasa_url):
    rt = await make_runtime(nlu_url=rasa_url, lapor_max_reports_per_day=1)
    chat = await start(rt, "limit")
    await chat.send("lapor")
    await answer_until_filed(chat, DEFAULTS)
    await chat.send("lapor")
    assert "limits/reports_per_day" in chat.templates()
    assert await rt.stores.db.reports.count_documents({}) == 1


async def test_consent_declined_then_filing_asks_consent_again(rt):
    chat = await start(rt, "nocon", first="halo")
    await chat.send("lapor")  # consent was given in start(); decline on a fresh contact instead
    other = type(chat)(rt, "nocon2")
    await other.send("halo")
    await other.send("tidak")
    assert (await other.contact())["consent"]["given"] is False
    await other.send("lapor")
    assert "welcome/first_contact" in other.templates()
    assert (await other.state())["flow"] is None


async def test_degraded_nlu_still_files_with_buttons(rt_plain):
    chat = await start(rt_plain, "degr")
    await chat.send("pohon tumbang menutup jalan di depan kantor kelurahan sejak tadi pagi")
    assert (await chat.state())["flow"] == "filing"  # long text is treated as a report even without NLU
    tid = await answer_until_filed(chat, DEFAULTS)
    assert await rt_plain.stores.reports.get(tid)
