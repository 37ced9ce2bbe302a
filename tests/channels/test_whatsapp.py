"""WhatsApp Cloud API: signed webhooks from a driver, a fake Graph API enforcing the platform's rules."""
import asyncio
import json

import aiohttp
import pytest

from bot.messages import Choice, Identity, OutboundMessage
from channels.formatting import read_file
from tests.channels.helpers import DESCRIPTION, JPEG, notify_status
from tests.fixtures.fakes import wait_until, whatsapp_bot

SECRET = "wa-app-secret-123"
WA = "6281234567001"


@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv):
        yield rt, fake_graph, drv


def chan(rt):
    return next(c for c in rt.channels if c.name == "whatsapp")


async def say(g, drv, coro, wa_id=WA, count=1):
    n = len(g.to(wa_id))
    status, _ = await coro
    assert status == 200
    return await g.wait_sent(wa_id, n + count)


def pick(g, wa_id, part=None, index=None):
    opts = g.last_options(wa_id)
    if index is not None:
        return opts[index - 1]
    return next(o for o in opts if part in o[0] or part.lower() in o[1].lower())


async def test_whatsapp_files_a_report_with_image_and_tracks_statuses(wa):
    rt, g, drv = wa
    sent = await say(g, drv, drv.text(WA, "halo"))
    assert sent[-1]["type"] == "interactive" and sent[-1]["interactive"]["type"] == "button"
    await say(g, drv, drv.button(WA, *pick(g, WA, "consent:ya")), count=2)
    await say(g, drv, drv.text(WA, "lapor"))
    await say(g, drv, drv.button(WA, *pick(g, WA, index=1)))
    await say(g, drv, drv.text(WA, DESCRIPTION))
    await say(g, drv, drv.text(WA, "Jalan Sudirman depan pasar"))
    await say(g, drv, drv.button(WA, *pick(g, WA, index=1)))
    sent = await say(g, drv, drv.list_pick(WA, *pick(g, WA, index=1)))  # category: a list of 10
    await say(g, drv, drv.button(WA, *pick(g, WA, index=1)))  # agency
    media_id = g.add_media(JPEG, "image/jpeg")
    await say(g, drv, drv.send(WA, "image", {"id": media_id, "mime_type": "image/jpeg", "caption": "ini fotonya"}))
    for _ in range(4):
        if any("rahasia" in o[0] for o in g.last_options(WA)):
            break
        await say(g, drv, drv.button(WA, *pick(g, WA, index=1)))
    await say(g, drv, drv.button(WA, *pick(g, WA, "rahasia")))
    sent = await say(g, drv, drv.list_pick(WA, *pick(g, WA, "confirm")) if len(g.last_options(WA)) > 3
                     else drv.button(WA, *pick(g, WA, "confirm")))
    assert "LPR-" in g.text_of(sent[-1])
    report = await rt.stores.db.reports.find_one({})
    assert report["channel"] == "whatsapp"
    assert await read_file(rt.stores.db, report["attachments"][0]["gridfs_id"]) == JPEG
    assert not [r for r in g.rejected if r["code"] != 130429]

    n = len(g.to(WA))
    await notify_status(rt, report)
    sent = await g.wait_sent(WA, n + 1)
    assert report["tracking_id"] in g.text_of(sent[-1])
    await rt.outbox.drain()
    wamid = sent[-1]["id"]
    # receipts arrive out of order: read before delivered; read stays
    await drv.status(wamid, "read", WA)
    await drv.status(wamid, "delivered", WA)
    await chan(rt).idle()
    doc = await rt.stores.db.messages.find_one({"provider_id": wamid})
    assert doc["status"] == "read"
    inbox = rt.stores.db.whatsapp_inbox
    assert await inbox.count_documents({}) == 0  # known receipts are applied before the 200, no inbox entry
    # a receipt that arrives before the send's id is stored goes to the inbox and is applied once it is
    [early] = await rt.stores.messages.queue([OutboundMessage(Identity("whatsapp", WA), "x")], status="sending")
    await drv.status("wamid.early", "delivered", WA)
    assert await inbox.count_documents({}) == 1
    await asyncio.sleep(0.1)
    await rt.stores.messages.mark_sent(early["_id"], "wamid.early")
    await chan(rt).idle()
    assert (await rt.stores.messages.get(early["_id"]))["status"] == "delivered"
    assert await inbox.count_documents({"status": "done"}) == 1


async def test_whatsapp_forged_oversized_and_verification(wa):
    rt, g, drv = wa
    payload, _ = drv.message(WA, "text", {"body": "halo"})
    resp = await drv.post(payload, forge=True)
    assert resp.status == 401
    resp = await drv.post(payload, raw=json.dumps(payload).encode() + b" ")  # signed for other bytes
    assert resp.status == 200  # signature covers exactly these bytes: fine
    await chan(rt).idle()
    base = f"http://127.0.0.1:{rt.http_port}/webhooks/whatsapp"
    async with aiohttp.ClientSession() as s:
        async with s.post(base, data=json.dumps(payload), headers={"X-Hub-Signature-256": "sha256=00"}) as r:
            assert r.status == 401
        async with s.post(base, data=b"x" * (10 * 1024 * 1024 + 10),
                          headers={"X-Hub-Signature-256": "sha256=00"}) as r:
            assert r.status == 413
        async with s.get(base, params={"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                       "hub.challenge": "12345"}) as r:
            assert r.status == 200 and await r.text() == "12345"
        async with s.get(base, params={"hub.mode": "subscribe", "hub.verify_token": "nope",
                                       "hub.challenge": "12345"}) as r:
            assert r.status == 403
    # the one signed body's message is stored as the inbound message itself (no inbox entry for it)
    assert await rt.stores.db.whatsapp_inbox.count_documents({}) == 0
    assert await rt.stores.db.messages.count_documents({"direction": "in"}) == 1


async def test_whatsapp_forged_stores_nothing(wa):
    rt, g, drv = wa
    payload, _ = drv.message(WA, "text", {"body": "halo"})
    assert (await drv.post(payload, forge=True)).status == 401
    await asyncio.sleep(0.1)
    assert await rt.stores.db.whatsapp_inbox.count_documents({}) == 0
    assert await rt.stores.db.messages.count_documents({}) == 0
    assert await rt.stores.db.contacts.count_documents({}) == 0


async def test_whatsapp_duplicates_and_reordered_batches(wa):
    rt, g, drv = wa
    payload, wamid = drv.message(WA, "text", {"body": "halo"})
    r1, r2 = await asyncio.gather(drv.post(payload), drv.post(payload))
    assert r1.status == r2.status == 200
    await chan(rt).idle()
    await rt.outbox.drain()
    assert await rt.stores.db.messages.count_documents({"direction": "in", "channel_message_id": wamid}) == 1
    assert len(g.to(WA)) == 1
    # two messages delivered in one batch in the wrong order are processed by timestamp
    p1, _ = drv.message(WA, "interactive", {"type": "button_reply", "button_reply": {"id": "consent:ya", "title": "Ya"}})
    p2, _ = drv.message(WA, "text", {"body": "lapor"})
    m1 = p1["entry"][0]["changes"][0]["value"]["messages"][0]
    m2 = p2["entry"][0]["changes"][0]["value"]["messages"][0]
    m2["timestamp"] = str(int(m1["timestamp"]) + 1)
    p1["entry"][0]["changes"][0]["value"]["messages"] = [m2, m1]
    assert (await drv.post(p1)).status == 200
    await chan(rt).idle()
    await rt.outbox.drain()
    ins = await rt.stores.db.messages.find({"direction": "in"}).sort("created_at", 1).to_list(None)
    assert [m["text"] for m in ins][-2:] == ["Ya", "lapor"]
    assert (await rt.stores.contacts.find_by_identity("whatsapp", WA))["consent"]["given"] is True


TYPES = [
    ("text", {"body": "halo"}, {}),
    ("interactive", {"type": "button_reply", "button_reply": {"id": "cmd:help", "title": "Bantuan"}}, {}),
    ("interactive", {"type": "list_reply", "list_reply": {"id": "menu:status", "title": "Cek"}}, {}),
    ("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "body": "Sent"}}, {}),
    ("button", {"payload": "STOP promo", "text": "Berhenti"}, {}),
    ("image", {"id": "MEDIA", "mime_type": "image/jpeg"}, {}),
    ("document", {"id": "MEDIA", "mime_type": "application/pdf", "filename": "surat.pdf"}, {}),
    ("audio", {"id": "MEDIA", "mime_type": "audio/ogg"}, {}),
    ("video", {"id": "MEDIA", "mime_type": "video/mp4"}, {}),
    ("sticker", {"id": "MEDIA", "mime_type": "image/webp", "animated": False}, {}),
    ("location", {"latitude": -10.17, "longitude": 123.6, "name": "Pasar", "address": "Kupang"}, {}),
    ("contacts", None, {"contacts": [{"name": {"formatted_name": "Siti"},
                                      "phones": [{"phone": "+62 812-3456-7890", "wa_id": "6281234567890"}]}]}),
    ("reaction", {"message_id": "wamid.x", "emoji": "👍"}, {}),
    ("unsupported", None, {"errors": [{"code": 131051, "title": "Message type unknown"}]}),
    ("order", {"catalog_id": "1", "text": "pesan", "product_items": []}, {}),
    ("text", {"body": "iklan"}, {"referral": {"source_url": "https://x", "source_type": "ad", "source_id": "9"}}),
    ("futuristic_type", {"foo": 1}, {}),
]


async def test_whatsapp_every_message_type_gets_an_answer(wa):
    rt, g, drv = wa
    for i, (mtype, body, extra) in enumerate(TYPES):
        wa_id = f"62812000{i:04d}"
        if body and body.get("id") == "MEDIA":
            body = {**body, "id": g.add_media(b"data-" + mtype.encode(), body["mime_type"])}
        payload, _ = drv.message(wa_id, mtype, body, **extra)
        resp = await drv.post(payload)
        assert resp.status == 200, mtype
    await chan(rt).idle()
    await rt.outbox.drain()
    for i, (mtype, _b, _e) in enumerate(TYPES):
        assert g.to(f"62812000{i:04d}"), f"no answer to {mtype}"
    media = await rt.stores.db.messages.find_one({"direction": "in", "media.filename": "surat.pdf"})
    assert media["media"][0]["gridfs_id"] is not None
    assert await rt.stores.db.messages.find_one({"direction": "in", "kind": "location"})
    referred = await rt.stores.contacts.find_by_identity("whatsapp", f"62812000{len(TYPES) - 2:04d}")
    assert referred["attribution"]["referral"]["source_id"] == "9"


async def test_whatsapp_database_outage_answers_failure_text(wa):
    from bot.engine import TurnFailed

    rt, g, drv = wa

    async def broken(inbound, inline=False, accepted=None):
        raise TurnFailed("db down")
    rt.engine.handle = broken
    assert (await drv.text(WA, "halo"))[0] == 200
    sent = await g.wait_sent(WA, 1)
    assert g.text_of(sent[0]) == rt.engine.failure_text("id")


async def test_whatsapp_window_template_and_error_codes(wa):
    rt, g, drv = wa
    await say(g, drv, drv.text(WA, "halo"))
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    # inside the window a free-form message goes out; 130429 is retried
    g.inject.append((130429, "Rate limit hit"))
    await rt.engine.notify(contact, "errors/not_understood")
    await g.wait_sent(WA, 2)
    assert g.to(WA)[-1]["type"] != "template"
    # 131047 and the closed window: messages are held (tests/channels/test_whatsapp_held.py)
    # any other error fails and is recorded
    g.inject.append((131026, "Message undeliverable"))
    msg = await rt.engine.notify(contact, "errors/not_understood")
    await rt.outbox.drain()
    doc = await rt.stores.messages.get(msg.message_id)
    assert doc["status"] == "failed" and "131026" in doc["last_error"]


async def test_a_throttled_reply_is_not_overtaken_by_the_next_one(wa):
    """130429 on the first of two messages to one person: it is retried, and the second waits for it."""
    rt, g, drv = wa
    await say(g, drv, drv.text(WA, "halo"))
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    before = len(g.to(WA))
    ident = Identity("whatsapp", WA)
    g.inject.append((130429, "Rate limit hit"))
    await rt.outbox.enqueue([OutboundMessage(ident, "pertama", contact_id=contact["_id"]),
                             OutboundMessage(ident, "kedua", contact_id=contact["_id"])])
    sent = await g.wait_sent(WA, before + 2)
    await rt.outbox.drain()
    assert [g.text_of(m) for m in sent[before:]] == ["pertama", "kedua"]
    assert [r["code"] for r in g.rejected] == [130429]


async def test_whatsapp_buttons_lists_and_numbered_fallback(wa):
    rt, g, drv = wa
    await say(g, drv, drv.text(WA, "halo"))
    ident = Identity("whatsapp", WA)
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)

    def opts(n, long=False):
        return [Choice(f"choice:o{i}", ("Pilihan yang sangat panjang sekali nomor " if long else "P") + str(i),
                       "keterangan " * 12 if long else None) for i in range(n)]
    await rt.outbox.enqueue([OutboundMessage(ident, "tiga", opts(3, long=True), contact_id=contact["_id"]),
                             OutboundMessage(ident, "tujuh", opts(7, long=True), contact_id=contact["_id"]),
                             OutboundMessage(ident, "dua belas", opts(12), contact_id=contact["_id"])])
    sent = await g.wait_sent(WA, 4)
    await rt.outbox.drain()
    by_text = {g.text_of(m).split("\n")[0]: m for m in sent}
    assert by_text["tiga"]["interactive"]["type"] == "button"
    assert by_text["tujuh"]["interactive"]["type"] == "list"
    assert by_text["dua belas"]["type"] == "text" and "12. P11" in by_text["dua belas"]["text"]["body"]
    assert not g.rejected
    # a typed number maps back to the long menu's payload
    _, wamid = await drv.text(WA, "12")
    await chan(rt).idle()
    stored = await rt.stores.db.messages.find_one({"channel_message_id": wamid})
    assert stored["payload"] == "choice:o11"


async def test_a_message_while_the_person_s_turn_waits_is_stored_without_reading_the_contact(wa, monkeypatch):
    """The second message's webhook stores it under the known contact id; its turn reads the contact after the
    first turn saved it, so it sees that turn's answer (consent) and both are answered in order."""
    rt, g, drv = wa
    real_accept, real_handle = rt.engine.accept, rt.engine.handle
    first_turn_may_run = asyncio.Event()
    given_ids = []

    async def accept(inbound, contact_id=None):
        given_ids.append(contact_id)
        return await real_accept(inbound, contact_id)

    async def handle(inbound, **kw):
        if inbound.text == "halo":
            await first_turn_may_run.wait()
        return await real_handle(inbound, **kw)
    monkeypatch.setattr(rt.engine, "accept", accept)
    monkeypatch.setattr(rt.engine, "handle", handle)
    assert (await drv.text(WA, "halo"))[0] == 200
    assert (await drv.text(WA, "lapor"))[0] == 200  # the first turn is still waiting
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    assert given_ids == [None, contact["_id"]]
    first_turn_may_run.set()
    await chan(rt).idle()
    await rt.outbox.drain()
    stored = await rt.stores.db.messages.find({"direction": "in"}).sort("created_at", 1).to_list(None)
    assert [(m["text"], m["status"], m["contact_id"]) for m in stored] == [
        ("halo", "processed", contact["_id"]), ("lapor", "processed", contact["_id"])]
    assert len(g.to(WA)) >= 2  # the consent question, then the answer to "lapor" (asked again: no consent yet)


async def test_a_turn_whose_contact_was_erased_after_its_message_was_stored_still_runs(wa):
    from bot.messages import InboundMessage
    from bson import ObjectId

    rt, g, drv = wa
    inbound = InboundMessage(Identity("whatsapp", WA), "wamid.gone", text="halo")
    gone = ObjectId()  # the id a waiting turn knew; the contact was erased since
    accepted = await rt.engine.accept(inbound, gone)
    replies = await rt.engine.handle(inbound, accepted=accepted)
    assert replies  # answered (the consent question of a new contact)
    contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
    assert contact is not None and contact["_id"] != gone  # created again, as any new person's first message
    assert (await rt.stores.db.messages.find_one({"channel_message_id": "wamid.gone"}))["status"] == "processed"
