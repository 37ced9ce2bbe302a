"""Issue 12 (dialogue level): an SMS code that expired proves nothing; an objection flags the report for its agency.
The channel-level tests are tests/channels/test_filed_for.py and tests/backoffice/test_citizen_updates.py."""
from datetime import timedelta

from bot.messages import utcnow
from tests.dialogue.conftest import start
from tests.staff.conftest import citizen, make_report


async def test_an_expired_code_is_refused(rt_plain):
    rt = rt_plain
    volunteer = await citizen(rt, "555000222")
    await make_report(rt, volunteer, contact_id=None, volunteer_id=volunteer["_id"],
                      on_behalf={"name": "Pak Yohanes", "phone": "+6281234567501", "consent": True})
    chat = await start(rt, "tg-behalf", channel="telegram")
    await chat.send("verifikasi nomor")
    assert "behalf/ask_phone" in chat.templates()
    await chat.send("081234567501")
    assert "behalf/code_sent" in chat.templates()
    sms = await rt.stores.messages.col.find_one({"channel": "sms", "user_id": "+6281234567501"})
    code = next(w for w in sms["text"].replace(".", " ").split() if w.isdigit() and len(w) == 6)
    contact = await chat.contact()
    await rt.stores.conversations.col.update_one(  # raising ``rev``, as every write of a contact does
        {"_id": contact["_id"]},
        {"$set": {"conv.pending.expires": utcnow() - timedelta(seconds=1)}, "$inc": {"rev": 1}})
    await chat.send(code)
    assert "behalf/code_expired" in chat.templates()
    assert not (await chat.contact()).get("verified_phone")


async def test_an_objection_flags_the_report_for_the_agency(rt_plain):
    rt = rt_plain
    chat = await start(rt, "tg-objects", channel="telegram")
    report = await make_report(rt, await chat.contact())
    tid = report["tracking_id"]
    for to in ("terverifikasi", "diteruskan", "ditanggapi", "selesai"):
        await rt.stores.reports.transition(tid, to, actor="admin:test", note="Sudah" if to == "ditanggapi" else None)
    await chat.send(payload=f"rate:{tid}:1")
    await chat.send(payload="objection:ya")
    await chat.send("Tambalannya sudah rusak lagi setelah dua hari")
    report = await rt.stores.reports.get(tid)
    assert report["status"] == "diteruskan"
    assert report["citizen_update_unseen"] is True and report["citizen_update_kind"] == "objection"
