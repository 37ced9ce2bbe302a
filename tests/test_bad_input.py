"""The bad inputs issue 13 lists, each through HTTP: a clear 4xx (or 200-and-recorded for a provider), never a 500."""
import json
import logging

import aiohttp
import pytest

from bot import untrusted
from channels.whatsapp import sign

SECRET = "wa-bad-input-secret"
ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


@pytest.fixture
async def site(make_runtime, fake_graph, fake_sms, caplog):
    caplog.set_level(logging.WARNING)
    rt = await make_runtime(http=True, whatsapp_access_token=fake_graph.token, whatsapp_app_secret=SECRET,
                            whatsapp_phone_number_id=fake_graph.phone_number_id,
                            whatsapp_api_base_url=fake_graph.base_url, sms_auth_token=fake_sms.token,
                            sms_public_url="https://lapor.example.id/webhooks/sms")
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}",
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        yield rt, s
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_signed_whatsapp_bodies_bson_cannot_store(site):
    rt, s = site
    for raw in (b'{"entry": [], "\\u0000": 1}', b'{"entry": [], "t": "\\udfff"}', b'{"entry": [], "n": 12345678901234567890}',
                b"[" * 5000 + b"]" * 5000):
        async with s.post("/webhooks/whatsapp", data=raw, headers={"X-Hub-Signature-256": sign(SECRET, raw)}) as r:
            assert r.status == 200, raw[:30]
    assert await rt.stores.db.whatsapp_inbox.count_documents({"status": "rejected"}) == 1  # the deep one


async def test_unsigned_sms_with_invalid_utf8_is_400(site):
    rt, s = site
    async with s.post("/webhooks/sms", data=b"Body=\xff\xfe&From=%FF", headers={
            "Content-Type": "application/x-www-form-urlencoded"}) as r:
        assert r.status == 400


async def test_long_static_name_and_deep_web_chat_frame(site):
    rt, s = site
    async with s.get("/webchat/static/" + "a" * 300) as r:
        assert r.status == 404
    async with s.get("/webchat/static/..%2Fwebchat.py") as r:
        assert r.status == 404
    async with s.get("/webchat/static/webchat.js") as r:
        assert r.status == 200
    async with s.get("/webchat") as r:
        assert r.status == 200
    async with s.ws_connect("/webchat/ws") as ws:
        await ws.receive_json()
        await ws.send_str("[" * 5000)
        assert (await ws.receive_json()) == {"type": "error", "text": "bad frame"}
        await ws.send_json({"type": "text", "id": "1", "text": "halo"})  # the socket is still open
        while (frame := await ws.receive_json(timeout=30))["type"] != "bot":
            pass


async def test_staff_api_parameters_and_bodies(site):
    rt, s = site
    for path in ("/api/v1/reports?limit=²", "/api/v1/reports?limit=٣", "/api/v1/reports?offset=-1",
                 "/api/v1/stats?to=9999-12-31", "/api/v1/stats?from=0001-01-01T00:00:00-23:59",
                 "/api/v1/handoffs?limit=1e3", "/api/v1/reports/LPR-X/attachments/²",
                 "/api/v1/campaigns/" + "a" * 300 + "/stats",
                 "/api/v1/campaigns/..%2F..%2Fdialogues%2Ffiling/stats"):
        async with s.get(path, headers=ADMIN) as r:
            assert 400 <= r.status < 500, (path, r.status)
    deep = b'{"to":' * 5000 + b"1" + b"}" * 5000
    async with s.post("/api/v1/volunteers/invites", data=deep, headers=ADMIN) as r:
        assert r.status == 400 and (await r.json())["error"] == "too_deep"
    async with s.post("/api/v1/campaigns", data=deep, headers=ADMIN) as r:
        assert r.status == 400
    async with s.post("/api/v1/campaigns", json={"name": "a" * 300, "template": {"id": "x"}}, headers=ADMIN) as r:
        assert r.status == 422
    async with s.get("/api/v1/stats?to=2026-12-31", headers=ADMIN) as r:
        assert r.status == 200


def test_untrusted_parsers():
    assert untrusted.loads(b'{"a": [1, {"b": "\\ud800"}], "\\u0000": 99999999999999999999}') == \
        {"a": [1, {"b": "\ufffd"}], "\ufffd": "99999999999999999999"}
    for raw in (b"[" * 100000, b'{"a":' * 40 + b"1" + b"}" * 40, b"\xc3\x28", b"{,}"):
        with pytest.raises(untrusted.BadInput):
            untrusted.loads(raw)
    assert untrusted.int_param({"limit": "7"}, "limit", 1, 1, 10) == 7
    for v in ("²", "٣", "-1", "11", "", "1" * 30):
        with pytest.raises(untrusted.BadInput):
            untrusted.int_param({"limit": v}, "limit", 1, 1, 10)
    assert untrusted.date_param({"to": "2026-01-31"}, "to", end_of_day=True).day == 1
    with pytest.raises(untrusted.BadInput):
        untrusted.date_param({"to": "9999-12-31"}, "to", end_of_day=True)
    assert untrusted.parse_form(b"a=%C3%A9&b=") == {"a": "é", "b": ""}
    with pytest.raises(untrusted.BadInput):
        untrusted.parse_form(b"a=%ff")
    assert json.dumps(untrusted.storable({"x": float("nan")}))
