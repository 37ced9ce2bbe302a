"""Web chat over a WebSocket with a signed visitor cookie; uploads; history; pushed notifications."""
import itertools

import aiohttp
import pytest

from channels.formatting import read_file
from tests.channels.helpers import DESCRIPTION, JPEG, notify_status

_ids = itertools.count(1)


@pytest.fixture
async def web(make_runtime):
    rt = await make_runtime(http=True)
    base = f"http://127.0.0.1:{rt.http_port}"
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        async with s.get(base + "/webchat") as r:
            assert r.status == 200 and "text/html" in r.headers["Content-Type"]
            assert "lapor_webchat" in r.cookies and r.cookies["lapor_webchat"]["httponly"]
        yield rt, base, s


class Visitor:
    def __init__(self, ws):
        self.ws = ws
        self.bot: list[dict] = []

    async def recv_bot(self, n=1, timeout=30):
        got = []
        while len(got) < n:
            f = await self.ws.receive_json(timeout=timeout)
            if f["type"] in ("bot", "error"):
                got.append(f)
        self.bot += got
        return got

    async def say(self, text, n=1):
        await self.ws.send_json({"type": "text", "id": f"c{next(_ids)}", "text": text})
        return await self.recv_bot(n)

    async def press(self, part=None, index=None, n=1):
        choices = next(f["choices"] for f in reversed(self.bot) if f.get("choices"))
        c = choices[index - 1] if index else next(c for c in choices if part in c["payload"])
        await self.ws.send_json({"type": "choice", "id": f"c{next(_ids)}", "payload": c["payload"],
                                 "label": c["label"]})
        return await self.recv_bot(n)


async def test_webchat_files_a_report_with_upload_history_and_notification(web):
    rt, base, s = web
    async with s.ws_connect(base + "/webchat/ws") as ws:
        first = await ws.receive_json()
        assert first == {"type": "history", "messages": []}
        v = Visitor(ws)
        await v.say("halo")
        await v.press("consent:ya", n=2)
        await v.say("lapor")
        await v.press(index=1)
        await v.say(DESCRIPTION)
        await v.say("Jalan Sudirman depan pasar")
        await v.press(index=1)
        await v.press(index=1)
        await v.press(index=1)
        form = aiohttp.FormData()
        form.add_field("file", JPEG, filename="lubang.jpg", content_type="image/jpeg")
        async with s.post(base + "/webchat/upload", data=form) as r:
            assert r.status == 200
            up = await r.json()
        await ws.send_json({"type": "file", "id": "f1", "upload": up["upload"]})
        await v.recv_bot()
        for _ in range(3):
            if any("rahasia" in c["payload"] for c in v.bot[-1]["choices"]):
                break
            await v.press(index=1)
        await v.press("rahasia")
        out = await v.press("confirm")
        assert "LPR-" in out[-1]["text"]
    report = await rt.stores.db.reports.find_one({})
    assert report["channel"] == "webchat"
    assert await read_file(rt.stores.db, report["attachments"][0]["gridfs_id"]) == JPEG
    # reload: history comes back; then a notification is pushed to the open socket
    async with s.ws_connect(base + "/webchat/ws") as ws:
        hist = await ws.receive_json()
        assert hist["type"] == "history" and any("LPR-" in m["text"] for m in hist["messages"])
        assert [m["dir"] for m in hist["messages"]][:2] == ["in", "out"]
        await notify_status(rt, report)
        frame = await ws.receive_json(timeout=30)
        assert frame["type"] == "bot" and report["tracking_id"] in frame["text"]
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"kind": "notification"})
    assert doc["status"] == "sent"
    # not connected: stored and shown with the history next time
    await notify_status(rt, report)
    await rt.outbox.drain()
    async with s.ws_connect(base + "/webchat/ws") as ws:
        hist = await ws.receive_json()
        assert sum(report["tracking_id"] in m["text"] and m["dir"] == "out" for m in hist["messages"]) >= 3


async def test_webchat_refuses_forged_cookie_other_origin_and_bad_uploads(web):
    rt, base, s = web
    async with aiohttp.ClientSession() as anon:
        async with anon.get(base + "/webchat/ws", headers={"Cookie": "lapor_webchat=abc.def"}) as r:
            assert r.status == 403
        async with anon.post(base + "/webchat/upload", data=b"x") as r:
            assert r.status == 403
    async with s.get(base + "/webchat/ws", headers={"Origin": "http://evil.example"}) as r:
        assert r.status == 403
    form = aiohttp.FormData()
    form.add_field("file", b"MZ\x90\x00 not an image", filename="x.jpg", content_type="image/jpeg")
    async with s.post(base + "/webchat/upload", data=form) as r:
        assert r.status == 415 and "PDF" in (await r.json())["error"]
    form = aiohttp.FormData()
    form.add_field("file", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), filename="big.jpg", content_type="image/jpeg")
    async with s.post(base + "/webchat/upload", data=form) as r:
        assert r.status == 413 and "5 MB" in (await r.json())["error"]
    async with s.ws_connect(base + "/webchat/ws") as ws:
        await ws.receive_json()
        await ws.send_json({"type": "file", "id": "x", "upload": "000000000000000000000000"})
        f = await ws.receive_json(timeout=30)
        assert f["type"] == "error"
        await ws.send_str("not json")
        assert (await ws.receive_json(timeout=30))["type"] == "error"
    assert await rt.stores.db["fs.files"].count_documents({}) == 0
