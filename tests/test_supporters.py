"""A supporter hears about a report but does not own it: status and notifications only, the text and the
agency's answer only when the report is public, never add information, rate or object."""
from __future__ import annotations

import itertools

from bot.messages import Identity, InboundMessage
from tests.staff.conftest import advance, citizen, make_report, outbox_for

_ids = itertools.count(1)
ANSWER_NOTE = "Sudah kami perbaiki"  # the agency note `advance` writes at ditanggapi
SECRET = "Kepala sekolah memotong dana bantuan siswa miskin"


async def say(rt, user: str, text: str = "", payload: str | None = None):
    return await rt.engine.handle(InboundMessage(Identity("telegram", user), f"s-{next(_ids)}", text=text,
                                                 payload=payload, kind="choice" if payload else "text"),
                                  inline=True)


async def consented(rt, user: str) -> dict:
    c = await citizen(rt, user)
    await rt.stores.contacts.update(c["_id"], {"consent": {"given": True}})
    return c


async def test_supporter_sees_public_text_but_never_a_rahasia_one_and_cannot_act(make_runtime):
    rt = await make_runtime()
    owner = await consented(rt, "5001")
    supporter = await consented(rt, "5002")
    secret = await make_report(rt, owner, privacy="rahasia", description=SECRET)
    public = await make_report(rt, owner, privacy="publik", description=SECRET + " (umum)")
    for rep in (secret, public):
        await rt.stores.reports.add_supporter(rep["tracking_id"], supporter["_id"])
        await advance(rt, rep["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    s, p = secret["tracking_id"], public["tracking_id"]

    shown = " ".join(r.text for r in await say(rt, "5002", f"status {s}"))
    assert s in shown and SECRET[:20] not in shown and ANSWER_NOTE not in shown
    shown = " ".join(r.text for r in await say(rt, "5002", f"status {p}"))
    assert SECRET[:20] in shown and ANSWER_NOTE in shown

    before = await rt.stores.db.reports.find({}, {"_id": 0}).sort("tracking_id", 1).to_list(None)
    for payload in (f"addinfo:{s}", f"addinfo:{p}", f"rate:{p}:1"):
        replies = await say(rt, "5002", payload=payload)
        assert [r.template for r in replies] == ["errors/choice_not_available"]
    await advance(rt, p, "selesai")
    assert [r.template for r in await say(rt, "5002", payload=f"rate:{p}:1")] == ["errors/choice_not_available"]
    after = await rt.stores.db.reports.find({"tracking_id": s}, {"_id": 0}).to_list(None)
    assert after == [b for b in before if b["tracking_id"] == s]
    assert (await rt.stores.reports.get(p))["rating"] is None

    # notifications: the agency's answer reaches a supporter only for the public report
    notes = {m["template"]: m["text"] for m in await outbox_for(rt, supporter["_id"]) if s in m["text"]}
    assert "notify/ditanggapi" in notes and ANSWER_NOTE not in notes["notify/ditanggapi"]
    assert "None" not in notes["notify/ditanggapi"]
    public_notes = [m["text"] for m in await outbox_for(rt, supporter["_id"])
                    if p in m["text"] and m["template"] == "notify/ditanggapi"]
    assert public_notes and ANSWER_NOTE in public_notes[0]


async def test_only_public_reports_are_offered_as_similar(make_runtime):
    rt = await make_runtime()
    owner = await consented(rt, "6001")
    for privacy in ("rahasia", "anonim", "publik"):
        await make_report(rt, owner, privacy=privacy)
    found = await rt.stores.reports.open_similar_candidates("infrastruktur", "53.71")
    assert len(found) == 1
    assert (await rt.stores.reports.get(found[0]["tracking_id"]))["privacy"] == "publik"
