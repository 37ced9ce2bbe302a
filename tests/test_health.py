"""/healthz/live is liveness; /healthz/ready (= /healthz) is readiness: NLU trouble is degraded, never down."""
import aiohttp
from aiohttp import web


async def get(rt, path):
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{rt.http_port}{path}") as r:
            return r.status, await r.json()


async def fake_rasa(parse_status: int):
    async def status(request):
        return web.json_response({"model_file": "m.tar.gz"})

    async def parse(request):
        return web.json_response({"error": "boom"}, status=parse_status)
    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_post("/model/parse", parse)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"


async def test_nlu_down_is_degraded_not_unready(make_runtime):
    rt = await make_runtime(nlu_url="http://127.0.0.1:9", http=True)
    for path in ("/healthz", "/healthz/ready"):
        status, body = await get(rt, path)
        assert status == 200 and body["status"] == "degraded" and body["degraded"] == ["nlu"], body
        assert body["dependencies"]["database"]["state"] == "up"
    assert await get(rt, "/healthz/live") == (200, {"status": "ok"})


async def test_failing_parses_are_degraded_even_when_rasa_says_up(make_runtime):
    runner, url = await fake_rasa(500)
    try:
        rt = await make_runtime(nlu_url=url, http=True)
        status, body = await get(rt, "/healthz")
        assert status == 200 and body["status"] == "ok", body
        await rt.nlu.parse("jalan rusak di depan pasar")
        status, body = await get(rt, "/healthz")
        assert status == 200 and body["dependencies"]["nlu"]["state"] == "degraded", body
    finally:
        await runner.cleanup()


async def test_database_unreachable_is_unready_but_alive(make_runtime):
    rt = await make_runtime(http=True)

    async def no_db():
        return False
    rt.stores.ping = no_db
    status, body = await get(rt, "/healthz/ready")
    assert status == 503 and body["down"] == ["database"] and body["status"] == "down"
    assert (await get(rt, "/healthz/live"))[0] == 200


async def test_metrics_count_the_database_commands_of_this_process(make_runtime):
    """GET /metrics: turns and the commands this process sent, by command and collection (round-trip accounting)."""
    rt = await make_runtime(http=True)
    status, before = await get(rt, "/metrics")
    assert status == 200 and before["db_commands"]["total"] > 0  # start-up: ping, indexes
    await rt.stores.messages.col.find_one({})
    status, after = await get(rt, "/metrics")
    assert after["db_commands"]["by_command"]["find messages"] == before["db_commands"]["by_command"].get(
        "find messages", 0) + 1
    assert after["db_commands"]["total"] >= before["db_commands"]["total"] + 1
    assert "turns" in after["engine"]
