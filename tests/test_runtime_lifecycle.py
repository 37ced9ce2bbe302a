"""Start-up and shutdown of the whole runtime: progress lines, a supervised embedded database, clear errors,
and a stop that never waits forever."""
from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import time

import pytest

from bot.app import Runtime
from bot.embedded_db import EmbeddedMongo
from bot.progress import Progress
from bot.storage.database import MAX_IDLE_MS
from bot.storage.durability import durable


async def _eventually(check, timeout_s: float = 60.0, every_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(every_s)
    return False


@pytest.fixture
def own_db_settings(settings, tmp_path):
    """Settings for a runtime that starts its own embedded database (on disk, in tmp_path)."""
    return settings.model_copy(update={"mongodb_uri": None, "lapor_data_dir": tmp_path / "data"})


async def test_start_prints_numbered_steps_and_the_database_restarts_after_kill_9(own_db_settings):
    out = io.StringIO()
    rt = Runtime(own_db_settings)
    try:
        await rt.start(http=False, nlu=False, sweep_interval_s=0, progress=Progress(total=5, stream=out))
        lines = out.getvalue().splitlines()
        assert [ln.split("]")[0] for ln in lines if ln.startswith("[")][-1] == "[4/5"
        assert any(ln.startswith("[2/5] database") and "ready" in ln and "db.log" in ln for ln in lines)
        col = durable(rt.stores.db["lifecycle_probe"])  # as inbound messages and reports are written
        await col.insert_one({"_id": "kept", "n": 1})
        first_pid = rt.embedded_db.proc.pid
        os.kill(first_pid, signal.SIGKILL)

        async def back():
            return rt.embedded_db.proc.pid != first_pid and rt.embedded_db.state == "up" and await rt.stores.ping()
        assert await _eventually(back), "the supervisor did not restart the embedded database"
        assert rt.embedded_db.restarts == 1
        # same port, same data directory: the driver reconnects and the data written before the kill is there
        assert await col.find_one({"_id": "kept"}) == {"_id": "kept", "n": 1}
    finally:
        await rt.stop()
    assert rt.embedded_db.proc.poll() is not None


async def test_unusable_data_directory_is_named_in_one_clear_error(settings, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    s = settings.model_copy(update={"mongodb_uri": None, "lapor_data_dir": blocker / "var"})
    rt = Runtime(s)
    with pytest.raises((RuntimeError, OSError)) as err:
        await rt.start(http=False, nlu=False, sweep_interval_s=0)
    await rt.stop()
    assert "not-a-dir" in str(err.value)


def test_a_database_that_exits_at_start_is_reported_with_its_log(tmp_path):
    server = EmbeddedMongo(tmp_path / "db", log_path=tmp_path / "db.log")
    import socket
    with socket.socket() as taken:  # the port is taken: the server exits at once
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        server.port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as err:
            server.start(timeout_s=20)
    msg = str(err.value)
    assert "embedded database" in msg and str(tmp_path / "db.log") in msg


async def test_stop_is_bounded_and_names_what_was_still_running(make_runtime, caplog, monkeypatch):
    import bot.app as app

    rt = await make_runtime()
    never = asyncio.Event()

    async def stuck_hook():
        await never.wait()

    rt.stop_hooks.append(stuck_hook)
    monkeypatch.setattr(app, "HOOK_STOP_TIMEOUT_S", 0.5)
    caplog.set_level(logging.WARNING, logger="bot.app")
    t0 = time.monotonic()
    await rt.stop()
    assert time.monotonic() - t0 < 60
    assert any("stuck_hook" in r.getMessage() and "still running" in r.getMessage() for r in caplog.records)


async def test_idle_connections_are_retired_before_the_server_drops_them(stores):
    # the embedded server closes connections idle for 300 s; the pool must give them up well before
    opts = stores.client.options.pool_options
    assert opts.max_idle_time_seconds is not None and opts.max_idle_time_seconds * 1000 == MAX_IDLE_MS < 300_000


async def test_a_task_that_swallows_one_cancellation_still_stops():
    """The outreach scheduler hung Runtime.stop: a cancellation absorbed inside a library call was spent, and the
    task went back to sleep. stop_task asks again until the task ends."""
    from bot.tasks import stop_task

    rounds = []

    async def absorbs_the_first_cancel():
        while True:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                rounds.append("absorbed")  # as a library call might
            await asyncio.sleep(30)

    task = asyncio.create_task(absorbs_the_first_cancel())
    await asyncio.sleep(0.01)
    assert await stop_task(task, timeout_s=5) is True
    assert task.cancelled() and rounds == ["absorbed"]


async def test_the_outreach_scheduler_stops_when_asked(make_runtime):
    rt = await make_runtime()
    task = rt.outreach_scheduler
    assert not task.done()
    await rt.stop()
    assert task.done()


async def test_a_draining_bot_refuses_new_work_with_retry_after_and_stays_live(make_runtime):
    import aiohttp

    rt = await make_runtime(http=True)
    base = f"http://127.0.0.1:{rt.http_port}"
    async with aiohttp.ClientSession() as s:
        async with s.get(base + "/healthz") as r:
            assert r.status == 200
        rt.draining = True  # what stop() sets first (SIGTERM, Ctrl-C)
        for method, path in (("POST", "/webhooks/whatsapp"), ("POST", "/webhooks/telegram"),
                             ("GET", "/webchat/ws"), ("GET", "/healthz"), ("GET", "/healthz/ready")):
            async with s.request(method, base + path, data=b"{}") as r:
                assert r.status == 503, path
                assert int(r.headers["Retry-After"]) > 0
                assert (await r.json())["status"] == "draining"
        async with s.get(base + "/healthz/live") as r:  # alive: the orchestrator must not kill it
            assert r.status == 200
        async with s.get(base + "/publik") as r:  # pages still answer until the listener closes
            assert r.status == 200
