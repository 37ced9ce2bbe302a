"""Logs never carry message bodies or full phone numbers (checked at the level the bot runs with)."""
import logging

from tests.chat import Chat

SECRET = "Petugas puskesmas meminta uang pelicin dua ratus ribu untuk surat rujukan"
PHONE = "+6281234567890"


async def test_a_rahasia_filing_leaves_no_body_and_no_phone_in_the_logs(make_runtime, caplog):
    caplog.set_level(logging.INFO)
    rt = await make_runtime()
    chat = Chat(rt, PHONE, channel="sms")
    for text in ("halo", "ya", "lapor", "pengaduan", SECRET, "Puskesmas Oebobo, Kota Kupang", "kemarin",
                 "kesehatan", "2", "lewati", "rahasia", "kirim"):
        await chat.send(text)
    assert any("LPR-" in r.text for r in chat.last)  # filed
    await rt.outbox.drain(5)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert logged, "the engine logs every turn"
    assert PHONE not in logged and PHONE[1:] not in logged and "81234567890" not in logged
    for fragment in ("uang pelicin", "surat rujukan", "Puskesmas Oebobo"):
        assert fragment not in logged
