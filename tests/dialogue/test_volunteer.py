"""Kawan LAPOR! volunteers: join with an invite code, file for someone else, see their numbers."""
from tests.dialogue.conftest import DEFAULTS, answer_until_filed, start


async def test_volunteer_joins_and_files_on_behalf_of_someone(rt):
    invite = await rt.stores.volunteers.create_invite("admin:test")
    chat = await start(rt, "vol1")
    await chat.send(f"relawan {invite['code'].lower()}")
    assert "volunteer/joined" in chat.templates()
    await chat.send(payload="flow:behalf")
    assert (await chat.state())["step"] == "on_behalf_name"
    await chat.send("Siti Aminah")
    await chat.send("0812 3456 789O")  # invalid (letter O): asked again
    assert "volunteer/bad_phone" in chat.templates()
    tid = await answer_until_filed(chat, DEFAULTS)
    report = await rt.stores.reports.get(tid)
    contact = await chat.contact()
    assert report["volunteer_id"] == contact["_id"] and report["contact_id"] is None
    assert report["on_behalf"] == {"name": "Siti Aminah", "phone": "+6281234567890", "consent": True}
    await chat.send(payload="menu:volunteer_stats")
    assert tid in chat.last[0].text


async def test_volunteer_without_consent_of_the_person_cannot_file(rt):
    invite = await rt.stores.volunteers.create_invite("admin:test")
    chat = await start(rt, "vol2")
    await chat.send(f"relawan {invite['code']}")
    await chat.send(payload="flow:behalf")
    await chat.send("Budi Santoso")
    await chat.send("081298765432")
    await chat.send("tidak")
    assert "volunteer/consent_required" in chat.templates()
    assert (await chat.state())["flow"] is None


async def test_invalid_or_used_invite_code(rt):
    invite = await rt.stores.volunteers.create_invite("admin:test")
    a = await start(rt, "vol3")
    await a.send(f"relawan {invite['code']}")
    b = await start(rt, "vol4")
    await b.send(f"relawan {invite['code']}")
    assert "volunteer/invalid_code" in b.templates()
    await b.send("relawan ZZZZ9999")
    assert "volunteer/invalid_code" in b.templates()
