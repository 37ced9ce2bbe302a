"""The client never raises: Rasa returning 500, timing out or not running gives a degraded answer."""
import asyncio

import pytest
from aiohttp import web

from bot.nlu import NluClient
from bot.embedded_db import free_port


@pytest.fixture
async def fake_rasa():
    """A tiny local server: /model/parse answers per `mode` (ok | 500 | slow | garbage)."""
    state = {"mode": "ok"}

    async def parse(request):
        body = await request.json()
        if state["mode"] == "500":
            return web.Response(status=500, text="boom")
        if state["mode"] == "slow":
            await asyncio.sleep(2)
        if state["mode"] == "garbage":
            return web.Response(text="<html>not json</html>", content_type="text/html")
        return web.json_response({"text": body["text"], "intent": {"name": "ya", "confidence": 0.99},
                                  "intent_ranking": [{"name": "ya", "confidence": 0.99}], "entities": []})

    async def status(request):
        if state["mode"] == "500":
            return web.Response(status=500)
        return web.json_response({"model_file": "fake.tar.gz"})

    app = web.Application()
    app.router.add_post("/model/parse", parse)
    app.router.add_get("/status", status)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", state
    await runner.cleanup()


async def test_ok_then_500_then_timeout_then_garbage(fake_rasa):
    url, state = fake_rasa
    client = NluClient(url, timeout_s=0.5)
    try:
        it = await client.parse("iya")
        assert it.source == "rasa" and it.intent == "ya"
        assert (await client.health())["state"] == "up"

        state["mode"] = "500"
        it = await client.parse("batal")
        assert it.source == "degraded" and it.intent == "batal"
        assert (await client.health())["state"] == "down"

        state["mode"] = "slow"
        it = await asyncio.wait_for(client.parse("mau lapor jalan rusak di kota kupang kemarin"), 5)
        assert it.source == "degraded" and it.intent == "lapor"
        assert it.region.name == "Kota Kupang" and it.incident_date is not None

        state["mode"] = "garbage"
        it = await client.parse("ya")
        assert it.source == "degraded"
        assert client.calls == 4 and client.failures == 3
    finally:
        await client.close()


async def test_not_running():
    client = NluClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    try:
        it = await client.parse("LPR-3HBT04Q")
        assert it.source == "degraded" and it.intent == "cek_status" and it.tracking_id == "LPR-3HBT04Q"
        h = await client.health()
        assert h["state"] == "down"
    finally:
        await client.close()


async def test_disabled_and_empty():
    client = NluClient(None)
    assert (await client.health())["state"] == "disabled"
    it = await client.parse("halo")
    assert it.source == "degraded" and it.intent == "sapa"
    for text in ("", "   ", None, "🙂🙏🔥", "...!!!"):
        it = await client.parse(text)
        assert it.intent is None and it.category is None and it.region is None
    assert client.calls == 0
    await client.close()
