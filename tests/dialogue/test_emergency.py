"""Emergencies get the numbers before anything else and are not filed unless the citizen asks (issue 14)."""
from tests.chat import Chat
from tests.dialogue.conftest import start


def _text(chat) -> str:
    return " ".join(r.text for r in chat.last)


async def test_a_killing_gets_the_police_number_before_consent_and_is_not_filed(rt_plain):
    chat = Chat(rt_plain, "emg-first")
    await chat.send("ada pembunuhan di desa")
    assert chat.templates()[0] == "emergency/numbers"
    assert "110" in _text(chat) and "112" in _text(chat)
    assert not (await chat.state()).get("flow")
    assert await rt_plain.stores.db.reports.count_documents({}) == 0
    # asked to file anyway: consent first, then the message becomes the description
    await chat.send(payload="emergency:file")
    assert "welcome/first_contact" in chat.templates()
    await chat.send("ya")
    st = await chat.state()
    assert st["flow"] == "filing" and st["slots"]["description"] == "ada pembunuhan di desa"


async def test_each_kind_names_its_number(rt_plain):
    chat = await start(rt_plain, "emg-kinds")
    for text, number in (("rumah kebakaran", "113"), ("tolong ada yang pingsan", "119"),
                         ("banjir bandang sekarang", "115")):
        await chat.send(text)
        assert chat.templates() == ["emergency/numbers"], text
        assert number in _text(chat) and "112" in _text(chat)
        assert "emergency:file" in chat.payloads()
    assert await rt_plain.stores.db.reports.count_documents({}) == 0


async def test_in_a_filing_the_draft_is_kept(rt_plain):
    chat = await start(rt_plain, "emg-flow")
    await chat.send("lapor")
    await chat.send("pengaduan")
    before = await chat.state()
    await chat.send("TOLONG ADA YANG PINGSAN DI SINI")
    assert chat.templates() == ["emergency/numbers"]
    after = await chat.state()
    assert after["flow"] == "filing" and after["step"] == before["step"] and after["slots"] == before["slots"]
    # going on in the same draft: the message is an answer now, not a second emergency answer
    story = "rumah warga kebakaran tapi pemadam datang telat dua jam karena mobilnya rusak"
    await chat.send(story)
    assert "emergency/numbers" not in chat.templates()
    assert (await chat.state())["slots"]["description"] == story


async def test_an_ordinary_flood_complaint_is_not_an_emergency(rt_plain):
    chat = await start(rt_plain, "emg-no")
    await chat.send("jalan di depan rumah sering banjir kalau hujan, drainase mampet sejak tahun lalu")
    assert "emergency/numbers" not in chat.templates()
