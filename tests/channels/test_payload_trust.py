"""Payload trust through the web chat: a stranger who forges button payloads for someone else's rahasia report
learns nothing and changes nothing; typed tracking-ID lookups are limited per contact and per source address."""
from __future__ import annotations

import itertools

import aiohttp
import pytest

from bot.messages import Identity, InboundMessage
from tests.staff.conftest import advance, citizen, make_report, outbox_for

_ids = itertools.count(1)

SECRET_TEXT = "Lurah Sukamaju minta uang pelicin untuk surat pindah saya"
ANSWER = "Sudah kami perbaiki, terima kasih."  # the agency's note written by ``advance`` at ditanggapi
FORGED_LABEL = "Dukung"


class Visitor:
    """One browser visit: its own cookie (so a new contact), one WebSocket."""

    def __init__(self, session, ws):
        self.session, self.ws = session, ws
        self.frames: list[dict] = []

    async def recv(self, n: int = 1) -> list[dict]:
        got = []
        while len(got) < n:
            f = await self.ws.receive_json(timeout=30)
            if f["type"] in ("bot", "error"):
                got.append(f)
        self.frames += got
        return got

    async def say(self, text: str, n: int = 1) -> list[dict]:
        await self.ws.send_json({"type": "text", "id": f"t{next(_ids)}", "text": text})
        return await self.recv(n)

    async def press(self, payload: str, label: str = FORGED_LABEL, n: int = 1) -> list[dict]:
        await self.ws.send_json({"type": "choice", "id": f"p{next(_ids)}", "payload": payload, "label": label})
        return await self.recv(n)


async def visit(base: str):
    """A fresh visitor that has given consent; yields (visitor, session)."""
    s = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with s.get(base + "/webchat") as r:
        assert r.status == 200
    ws = await s.ws_connect(base + "/webchat/ws")
    assert (await ws.receive_json())["type"] == "history"
    v = Visitor(s, ws)
    await v.say("halo")
    await v.press("consent:ya", "Setuju", n=2)
    return v


async def close(v: Visitor) -> None:
    await v.ws.close()
    await v.session.close()


async def snapshot(rt) -> list[dict]:
    docs = await rt.stores.db.reports.find({}, {"_id": 0}).sort("tracking_id", 1).to_list(None)
    return docs


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


async def test_forged_payloads_for_someone_elses_rahasia_report_reveal_and_change_nothing(rt):
    base = f"http://127.0.0.1:{rt.http_port}"
    owner = await citizen(rt, "111222333")
    await rt.stores.contacts.update(owner["_id"], {"consent": {"given": True}})
    volunteer = await citizen(rt, "444555666")
    answered = await make_report(rt, owner, privacy="rahasia", description=SECRET_TEXT)
    settled = await make_report(rt, owner, privacy="rahasia", description=SECRET_TEXT + " (kedua)")
    on_behalf = await make_report(rt, volunteer, privacy="rahasia", description=SECRET_TEXT + " (relawan)",
                                  contact_id=None, volunteer_id=volunteer["_id"],
                                  on_behalf={"name": "Ibu Warsini", "phone": None, "consent": False})
    await advance(rt, answered["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    await advance(rt, settled["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    a, b, c = answered["tracking_id"], settled["tracking_id"], on_behalf["tracking_id"]
    before = await snapshot(rt)

    v = await visit(base)
    try:
        await _forge(rt, v, owner, a, b, c, before)
    finally:
        await close(v)


async def _forge(rt, v, owner, a, b, c, before):
    stranger = await rt.stores.db.contacts.find_one({"channel": "webchat"})  # the only web chat visitor
    for payload in (f"support:{a}", f"status:{a}", f"addinfo:{a}", f"rate:{b}:1", f"rate:{b}", f"support:{b}",
                    f"status:{b}", f"addinfo:{b}", f"status:{c}", f"addinfo:{c}", f"support:{c}"):
        reply = await v.press(payload)
        assert "errors/choice_not_available" == (await rt.stores.db.messages.find_one(
            {"contact_id": stranger["_id"], "direction": "out"}, sort=[("created_at", -1)]))["template"], payload
        assert reply[0]["choices"] and all(ch["payload"] != payload for ch in reply[0]["choices"])
    # the follow-ups a forged button would have led to: nothing is pending, so they are not answers
    await v.press("objection:ya", "Ajukan keberatan")
    await v.say("Petugasnya tidak becus sama sekali")
    # campaign and volunteer payloads naming someone else's things
    await v.press(f"campaign:{a}")
    await v.press("menu:volunteer_stats")
    # typing the ID is allowed, and shows the status only
    await v.say(f"status {a}")
    await v.say(f"status {b}")
    await v.press("flow:behalf")  # not a volunteer: asked for an invitation code, nothing else
    await rt.outbox.drain()

    after = await snapshot(rt)
    assert after == before  # no supporter, addition, rating, objection or status change
    sent = await outbox_for(rt, stranger["_id"])
    assert len(sent) == len(v.frames)  # every message the stranger got is one of the frames checked below
    everything = " ".join([f["text"] for f in v.frames] + [m["text"] for m in sent])
    for secret in (SECRET_TEXT[:25], "pelicin", "surat pindah", ANSWER, "Ibu Warsini", "111222333", "444555666"):
        assert secret not in everything
    assert a in everything and b in everything  # the typed lookups did answer (status only)
    assert not [m for m in sent if m["kind"] == "notification"]
    assert await rt.stores.db.notifications.count_documents({"contact_id": stranger["_id"]}) == 0

    # the report moves on: only its own people hear about it, never the stranger
    await advance(rt, a, "selesai")
    await rt.outbox.drain()
    assert not [m for m in await outbox_for(rt, stranger["_id"]) if m["kind"] == "notification"]
    assert [m["template"] for m in await outbox_for(rt, owner["_id"])][-1] == "notify/selesai"

    # the owner, by contrast, may press the same buttons without having been offered them
    mine = await rt.engine.handle(InboundMessage(Identity("telegram", "111222333"), "own-1", payload=f"status:{a}",
                                                 kind="choice"), inline=True)
    assert SECRET_TEXT[:25] in mine[0].text


LIMITS = {"lapor_max_lookups_per_hour": 2, "lapor_max_lookups_per_address_per_hour": 3}


async def test_typed_lookups_are_limited_per_source_address_across_visits_and_processes(make_runtime):
    rt = await make_runtime(http=True, **LIMITS)
    base = f"http://127.0.0.1:{rt.http_port}"
    owner = await citizen(rt, "777888999")
    tid = (await make_report(rt, owner, privacy="publik"))["tracking_id"]

    one = await visit(base)
    try:
        await _lookups(rt, make_runtime, base, tid, one)
    finally:
        await close(one)


async def _lookups(rt, make_runtime, base, tid, one):
    first = [(await one.say(f"status {tid}"))[0]["text"] for _ in range(3)]
    assert tid in first[0] and tid in first[1]
    assert tid not in first[2]  # third lookup of this contact: over the per-contact limit
    two = await visit(base)  # a new visit is a new contact, but the same address
    second = (await two.say(f"status {tid}"))[0]["text"]
    await close(two)
    assert tid not in second  # fourth lookup from this address: over the per-address limit
    assert await rt.stores.db.messages.count_documents(
        {"direction": "out", "template": "limits/lookups"}) == 2

    # another bot process shares the counter (it lives in the database)
    other = await make_runtime(**LIMITS)
    contact = await other.stores.contacts.get_or_create(Identity("webchat", "visit-elsewhere"))
    await other.stores.contacts.update(contact["_id"], {"consent": {"given": True}})
    replies = await other.engine.handle(InboundMessage(Identity("webchat", "visit-elsewhere"), "x-1",
                                                       text=f"status {tid}", peer="127.0.0.1"), inline=True)
    assert [r.template for r in replies] == ["limits/lookups"]
    replies = await other.engine.handle(InboundMessage(Identity("webchat", "visit-elsewhere"), "x-2",
                                                       text=f"status {tid}", peer="10.1.2.3"), inline=True)
    assert [r.template for r in replies] == ["tracking/status"]  # another address is not affected
