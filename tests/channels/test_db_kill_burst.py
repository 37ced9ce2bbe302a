"""kill -9 of the embedded database (not the bot) during a steady WhatsApp webhook burst: the bot stays up, its
supervisor brings the database back, webhooks answered 503 meanwhile are retried (as Meta does), and every
acknowledged message is answered exactly once (real processes: ``bot.cli run`` with its own SecantusDB, a fake
Graph API in the test)."""
import asyncio
import json
import os
import signal
import time

import aiohttp
import pytest

from bench.cluster import end_process, spawn_bot
from bot.embedded_db import free_port
from tests.fixtures.fakes import WhatsAppDriver, wait_until

SECRET = "wa-dbkill-secret"
CITIZENS = [f"6281288{i:06d}" for i in range(60)]
GAP_S = 0.05  # one new citizen's webhook every 50 ms: a steady rate, not one burst
RETRY_S = 0.5  # Meta retries a non-2xx webhook; sooner here to keep the test short
DEADLINE_S = 150  # every message must be acknowledged within this, kill included


@pytest.mark.timeout(300)
async def test_kill_9_of_the_database_during_a_whatsapp_burst_answers_every_ack_once(fake_graph, tmp_path):
    from pymongo import AsyncMongoClient

    data = tmp_path / "bot"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "LAPOR_DATA_DIR": str(data), "LAPOR_HTTP_PORT": str(port), "LAPOR_DB": "dbkill",
           "LAPOR_INBOX_RECOVERY_S": "1", "WHATSAPP_ACCESS_TOKEN": fake_graph.token, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_PHONE_NUMBER_ID": fake_graph.phone_number_id, "WHATSAPP_API_BASE_URL": fake_graph.base_url}
    for key in ("MONGODB_URI", "RASA_URL", "TELEGRAM_BOT_TOKEN", "SMS_AUTH_TOKEN", "SMS_ACCOUNT_SID"):
        env.pop(key, None)
    log = tmp_path / "bot.log"
    proc = spawn_bot(env, log)
    client = None
    try:
        async with aiohttp.ClientSession() as s, WhatsAppDriver(fake_graph, base, SECRET) as drv:
            async def health() -> dict | None:
                assert proc.poll() is None, f"the bot exited: {log.read_text()[-3000:]}"
                try:
                    async with s.get(base + "/healthz", timeout=aiohttp.ClientTimeout(total=5)) as r:
                        return await r.json()
                except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                    return None

            async def db_up() -> bool:
                h = await health()
                return bool(h) and h["dependencies"]["database"].get("process") == "up" \
                    and h["dependencies"]["database"]["state"] == "up"
            await wait_until(db_up, timeout=120, interval=0.2)
            server = json.loads((data / "db" / "server.json").read_text())

            acked: dict[str, int] = {}  # citizen -> attempts until the 2xx
            refused: list[int] = []  # statuses of non-2xx answers (retried)

            async def deliver(c: str, deadline: float) -> None:
                payload, _ = drv.message(c, "text", {"body": "halo"})  # a retry resends the same message id
                attempts = 0
                while time.monotonic() < deadline:
                    attempts += 1
                    try:
                        r = await drv.post(payload)
                        if 200 <= r.status < 300:
                            acked[c] = attempts
                            return
                        refused.append(r.status)
                    except (aiohttp.ClientError, asyncio.TimeoutError):
                        refused.append(0)
                    await asyncio.sleep(RETRY_S)

            deadline = time.monotonic() + DEADLINE_S
            tasks = []
            killed = False
            for i, c in enumerate(CITIZENS):
                tasks.append(asyncio.create_task(deliver(c, deadline)))
                await asyncio.sleep(GAP_S)
                if not killed and len(acked) >= len(CITIZENS) // 4:
                    os.kill(int(server["pid"]), signal.SIGKILL)  # mid-burst: more citizens keep coming
                    killed = True
            assert killed, "the burst ended before a quarter was acknowledged"
            await asyncio.gather(*tasks)
            assert proc.poll() is None, "the bot process stayed up"
            assert set(acked) == set(CITIZENS), f"unacknowledged by the deadline: {set(CITIZENS) - set(acked)}"

            await wait_until(db_up, timeout=60, interval=0.2)  # already back to accept the retries; say so
            h = await health()
            assert h["dependencies"]["database"]["restarts"] >= 1
            new_pid = json.loads((data / "db" / "server.json").read_text())["pid"]
            assert new_pid != server["pid"]

            client = AsyncMongoClient(server["uri"], tz_aware=True)
            db = client["dbkill"]
            state = {}

            async def settled():
                state.update(
                    inbox=await db.whatsapp_inbox.count_documents({"status": {"$in": ["pending", "processing"]}}),
                    received=await db.messages.count_documents({"direction": "in", "status": "received"}),
                    unsent=await db.messages.count_documents({"direction": "out",
                                                              "status": {"$in": ["queued", "sending"]}}))
                return not any(state.values())
            try:
                await wait_until(settled, timeout=120, interval=0.25)
            except AssertionError:
                raise AssertionError(f"not settled: {state}; log: {log.read_text()[-3000:]}") from None
            await wait_until(lambda: all(fake_graph.to(c) for c in CITIZENS), timeout=30, interval=0.1)
            await asyncio.sleep(1.5)  # a late duplicate (recovery sweeps every second) would show by now
            counts = {c: len(fake_graph.to(c)) for c in CITIZENS}
            twice = {c: n for c, n in counts.items() if n != 1}
            assert not twice, f"answered other than once: {twice}; refused statuses: {sorted(set(refused))}"
            assert await db.messages.count_documents({"direction": "in", "status": "processed"}) == len(CITIZENS)
            assert proc.poll() is None
    finally:
        end_process(proc)
        if client is not None:
            await client.close()
