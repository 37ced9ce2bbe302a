"""Two ``laporbot run`` processes: a web chat visitor's socket is on process A; a staff status change made through
process B's API (B queues and sends the notification, holding no socket) reaches the socket on A, once."""
from __future__ import annotations

import aiohttp
import pytest
from pymongo import AsyncMongoClient

from bench.cluster import Cluster
from channels.webchat_push import STORED, parse
from fakes.base import wait_until
from fakes.whatsapp.server import FakeGraph
from tests.channels.helpers import DESCRIPTION
from tests.channels.test_webchat import Visitor

TOKEN = "scale-admin-token-0123456789"


async def file_report(v: Visitor) -> str:
    assert (await v.ws.receive_json())["type"] == "history"
    await v.say("halo")
    await v.press("consent:ya", n=2)
    await v.say("lapor")
    await v.press(index=1)
    await v.say(DESCRIPTION)
    await v.say("Jalan Sudirman depan pasar")
    for _ in range(8):  # category, agency, attachments, date… until the privacy question
        if any("rahasia" in c["payload"] for c in v.bot[-1]["choices"]):
            break
        await v.press(index=1)
    await v.press("rahasia")
    out = await v.press("confirm")
    tid = next(w for w in out[-1]["text"].split() if w.startswith("LPR-"))
    return tid.strip(".,)")


@pytest.mark.timeout(400)
async def test_a_notification_sent_by_another_process_reaches_the_socket(tmp_path):
    graph = await FakeGraph().start()
    cluster = Cluster(tmp_path / "var", graph, n=2, LAPOR_STAFF_TOKEN=TOKEN)
    client = None
    try:
        await cluster.start()
        a, b = cluster.urls()
        client = AsyncMongoClient(cluster.uri, tz_aware=True)
        messages = client["lapor"]["messages"]
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
            async with s.get(a + "/webchat") as r:
                assert r.status == 200
            async with s.ws_connect(a + "/webchat/ws") as ws:
                v = Visitor(ws)
                tid = await file_report(v)
                async with s.post(f"{b}/api/v1/reports/{tid}/transitions", json={"to": "terverifikasi"},
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    assert r.status == 200, await r.text()
                frame = (await v.recv_bot(timeout=60))[0]
                assert frame["kind"] == "notification" and tid in frame["text"]
                note = await wait_until(lambda: messages.find_one(
                    {"kind": "notification", "channel": "webchat", "status": "sent"}), 60, interval=0.2)
                assert frame["text"] == note["text"]
                # B sent it without a socket of the visitor: A found it by its poll and pushed it
                assert parse(note["provider_id"])[1] == STORED
                # once: nothing else arrives for it (a second status change is the next frame)
                async with s.post(f"{b}/api/v1/reports/{tid}/transitions", json={"to": "diteruskan",
                                  "agency": "DPU-53.71"}, headers={"Authorization": f"Bearer {TOKEN}"}) as r:
                    assert r.status == 200, await r.text()
                nxt = (await v.recv_bot(timeout=60))[0]
                assert nxt["text"] != frame["text"] and tid in nxt["text"]
    finally:
        if client is not None:
            await client.close()
        await cluster.stop()
        await graph.stop()
