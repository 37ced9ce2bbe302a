"""Every public endpoint under hostile input: no 5xx, no hang, and a normal citizen is answered afterwards."""
from __future__ import annotations

import io
import json
import time

import aiohttp
from hypothesis import given
from hypothesis import strategies as st

from channels.whatsapp import sign
from tests.fixtures.fakes import form_body, twilio_signature
from tests.fuzz.conftest import FUZZ, SMS_PUBLIC, TG_SECRET, WA_SECRET
from tests.fuzz.strategies import deep, dumps, json_values, nasty_text, raw_bodies, shaped

WA_TYPES = ["text", "interactive", "button", "image", "document", "audio", "video", "sticker", "location",
            "contacts", "reaction", "system", "order", "request_welcome", "unsupported"]


def wa_message():
    return st.builds(lambda base, mtype, body: {**base, "type": mtype, mtype: body},
                     shaped({"from": "6281234500001", "id": "wamid.FUZZ", "timestamp": str(int(time.time()))}),
                     st.one_of(st.sampled_from(WA_TYPES), nasty_text),
                     st.one_of(shaped({"body": "halo", "id": "m1", "mime_type": "image/jpeg", "latitude": -10.1,
                                       "longitude": 123.6, "button_reply": {"id": "cmd:help", "title": "x"},
                                       "payload": "a:b", "caption": "c", "filename": "f.pdf"}), json_values))


def wa_envelope():
    value = st.fixed_dictionaries({}, optional={"messages": st.lists(st.one_of(wa_message(), json_values), max_size=3),
                                                "statuses": st.lists(st.one_of(json_values, shaped(
                                                    {"id": "wamid.x", "status": "read", "errors": [{"code": 1}]})),
                                                    max_size=2),
                                                "contacts": st.one_of(json_values, st.just([{"wa_id": "6281234500001",
                                                                                             "profile": {"name": "B"}}]))})
    return st.builds(lambda v: {"object": "whatsapp_business_account",
                                "entry": [{"id": "W", "changes": [{"field": "messages", "value": v}]}]}, value)


async def test_whatsapp_signed_webhooks(bot):
    def body(client):
        @FUZZ
        @given(raw=st.one_of(wa_envelope().map(dumps), raw_bodies))
        def one(raw):
            status = client.request("POST", "/webhooks/whatsapp", data=raw,
                                    headers={"X-Hub-Signature-256": sign(WA_SECRET, raw),
                                             "Content-Type": "application/json"})
            assert status == 200
            assert client.request("POST", "/webhooks/whatsapp", data=raw,
                                  headers={"X-Hub-Signature-256": "sha256=00"}) == 401
        one()
    await bot.fuzz(body)
    await bot.settle()
    assert await bot.rt.stores.db.whatsapp_inbox.count_documents({"status": {"$in": ["pending", "processing"]}}) == 0
    # a normal citizen is still answered
    status, _ = await bot.wa.text("6281299990001", "halo")
    assert status == 200
    await bot.graph.wait_sent("6281299990001", 1)


def tg_update():
    chat = shaped({"id": 5550001, "type": "private", "first_name": "B"})
    message = shaped({"message_id": 1, "date": 1700000000, "chat": {"id": 5550001, "type": "private"},
                      "from": {"id": 5550001, "is_bot": False, "first_name": "B"}, "text": "halo"})
    callback = shaped({"id": "cq1", "from": {"id": 5550001, "is_bot": False, "first_name": "B"},
                       "chat_instance": "ci", "data": "cmd:help"})
    return st.builds(lambda uid, kind, body, c: {"update_id": uid, kind: {**body, "chat": c} if kind == "message"
                                                 else body},
                     st.one_of(st.integers(0, 2 ** 31), json_values), st.sampled_from(["message", "callback_query",
                                                                                       "edited_message", "poll"]),
                     st.one_of(message, callback, json_values.filter(lambda v: isinstance(v, dict))), chat)


async def test_telegram_webhook(bot):
    def body(client):
        @FUZZ
        @given(raw=st.one_of(tg_update().map(dumps), raw_bodies))
        def one(raw):
            assert client.request("POST", "/webhooks/telegram", data=raw,
                                  headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) == 200
            assert client.request("POST", "/webhooks/telegram", data=raw) == 403
        one()
    await bot.fuzz(body)
    await bot.settle()
    async with aiohttp.ClientSession() as s:
        update = {"update_id": 2 ** 40, "message": {"message_id": 77, "date": int(time.time()),
                                                    "chat": {"id": 7770001, "type": "private", "first_name": "S"},
                                                    "from": {"id": 7770001, "is_bot": False, "first_name": "S"},
                                                    "text": "halo"}}
        async with s.post(bot.base + "/webhooks/telegram", json=update,
                          headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}) as r:
            assert r.status == 200
    await bot.telegram.wait_sent(7770001, 1)


form_text = st.text(st.characters(codec="utf-8"), max_size=60)


async def test_sms_webhook(bot):
    value = st.one_of(form_text, st.sampled_from(["-1", "99999999999", "²", "x" * 100, "2", "0"]))

    def body(client):
        @FUZZ
        @given(params=st.fixed_dictionaries(
                   {"From": st.one_of(st.sampled_from(["0812-3456-0009", "+6281234560010", "1708"]), value),
                    "MessageSid": st.one_of(st.builds(lambda n: f"SM{n:032d}", st.integers(0, 10 ** 6)), value)},
                   optional={k: value for k in ("Body", "NumMedia", "MediaUrl0", "MediaContentType0", "To",
                                                "MessageStatus", "ErrorCode")}),
               raw=raw_bodies)
        def one(params, raw):
            for path, url in (("/webhooks/sms", SMS_PUBLIC), ("/webhooks/sms/status", SMS_PUBLIC + "/status")):
                headers = {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Twilio-Signature": twilio_signature(bot.sms.token, url, params)}
                assert client.request("POST", path, data=form_body(params), headers=headers) != 403
            assert client.request("POST", "/webhooks/sms", data=raw,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"}) in (400, 403)
        one()
    await bot.fuzz(body)
    params = {"MessageSid": "SM" + "7" * 32, "From": "0812-9999-0002", "To": "1708", "Body": "halo", "NumMedia": "0"}
    async with aiohttp.ClientSession() as s:
        async with s.post(bot.base + "/webhooks/sms", data=form_body(params), headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(bot.sms.token, SMS_PUBLIC, params)}) as r:
            assert r.status == 200 and "<Message>" in await r.text()


def frames():
    shaped_frame = shaped({"type": "text", "id": "f1", "text": "halo", "payload": "cmd:help", "label": "x",
                           "latitude": -10.1, "longitude": 123.6, "upload": "0123456789abcdef01234567", "lang": "en"})
    return st.one_of(shaped_frame.map(lambda f: json.dumps(f)), json_values.map(json.dumps), deep.map(bytes.decode),
                     nasty_text)


async def test_webchat_http_and_websocket(bot):
    def body(client):
        @FUZZ
        @given(frames=st.lists(frames(), min_size=1, max_size=4), name=nasty_text, upload=raw_bodies,
               part=st.tuples(st.sampled_from(["file", "x", ""]), nasty_text,
                              st.one_of(st.binary(max_size=64), st.sampled_from([b"\xff\xd8\xff" + b"x" * 20,
                                                                                 b"%PDF-1.4", b"\x89PNG\r\n\x1a\n"]))))
        def one(frames, name, upload, part):
            from urllib.parse import quote

            client.request("GET", "/webchat/static/" + quote(name, safe="", errors="surrogatepass") if name else "/webchat/static/x")
            client.session.cookie_jar.clear()
            assert client.request("GET", "/webchat") == 200  # a new visitor each time (rate limits are per person)
            client.request("POST", "/webchat/upload", data=upload)
            form = aiohttp.FormData()
            field, filename, content = part
            printable = "".join(c for c in filename.encode("utf-8", "replace").decode() if c.isprintable())
            form.add_field(field or "file", io.BytesIO(content), filename=printable or "f",
                           content_type="application/octet-stream")
            client.request("POST", "/webchat/upload", data=form)

            async def chat():
                async with client.session.ws_connect(client.base + "/webchat/ws") as ws:
                    await ws.receive_json()  # history
                    for f in frames:  # a text frame is UTF-8 by protocol: lone surrogates go in as JSON escapes
                        await ws.send_str(f.encode("utf-8", "replace").decode("utf-8"))
                    await ws.send_bytes(upload)
                    await ws.send_json({"type": "text", "id": "final", "text": "halo"})
                    while True:  # the socket is still open and the bot still answers
                        msg = await ws.receive_json()
                        if msg["type"] == "bot" and msg.get("text"):
                            return
            client.run(chat())
        one()
    await bot.fuzz(body)


STAFF_ROUTES = [("GET", "/api/v1/reports"), ("GET", "/api/v1/reports/{x}"), ("POST", "/api/v1/reports/{x}/transitions"),
                ("GET", "/api/v1/reports/{x}/attachments/{x}"), ("GET", "/api/v1/stats"),
                ("POST", "/api/v1/volunteers/invites"), ("GET", "/api/v1/handoffs"),
                ("POST", "/api/v1/handoffs/{x}/reply"), ("POST", "/api/v1/campaigns"),
                ("GET", "/api/v1/campaigns/{x}/stats"), ("GET", "/api/v1/openapi.json")]
PARAMS = ["status", "category", "region", "agency", "overdue", "text", "limit", "offset", "by", "from", "to"]


async def test_staff_api(bot):
    from urllib.parse import quote

    token = bot.rt.settings.lapor_staff_token

    def body(client):
        @FUZZ
        @given(route=st.one_of(st.sampled_from(STAFF_ROUTES), st.tuples(st.sampled_from(["PUT", "DELETE", "POST"]),
                                                                          st.sampled_from([p for _, p in STAFF_ROUTES]))),
               segment=nasty_text, query=st.dictionaries(st.one_of(st.sampled_from(PARAMS), nasty_text),
                                                         st.one_of(nasty_text, st.sampled_from(["9999-12-31", "0001-01-01",
                                                                                                "²", "100", "1e3"])),
                                                         max_size=3),
               raw=st.one_of(raw_bodies, shaped({"to": "terverifikasi", "note": "x", "max_uses": 2, "text": "t",
                                                 "name": "uji-fuzz", "template": {"id": "Halo {{ contact.name }}"},
                                                 "close": True}).map(dumps)),
               auth=st.sampled_from([f"Bearer {token}"] * 6 + ["", "Bearer x"]))
        def one(route, segment, query, raw, auth):
            method, path = route
            seg = quote(segment, safe="", errors="surrogatepass") or "x"
            url = path.replace("{x}", seg)
            q = "&".join(f"{quote(k, safe='', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}" for k, v in query.items())
            client.request(method, url + ("?" + q if q else ""), data=raw,
                           headers={"Authorization": auth, "Content-Type": "application/json"})
        one()
    await bot.fuzz(body)
    async with aiohttp.ClientSession() as s:
        async with s.get(bot.base + "/api/v1/reports", headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
    status, _ = await bot.wa.text("6281299990003", "halo")
    assert status == 200
    await bot.graph.wait_sent("6281299990003", 1)
