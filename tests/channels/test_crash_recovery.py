"""kill -9 of the bot process during a webhook burst, then a restart: every acknowledged message is answered,
none twice (real processes: the bot as ``laporbot run``, its own database process, a fake Graph API)."""
import asyncio
import os
import signal
import time

import aiohttp

from bench.cluster import end_process, healthy, spawn_bot
from bot.embedded_db import free_port
from tests.fixtures.fakes import WhatsAppDriver, wait_until

SECRET = "wa-crash-secret"
CITIZENS = [f"6281277{i:06d}" for i in range(40)]


async def kill_during_burst(tmp_path, channel_env: dict, post_one, answers, inbox: str, user_id=str) -> None:
    """Start the bot, post one message per citizen concurrently, SIGKILL it once a third is acknowledged,
    restart it, re-post what got no 200 (as providers do), then check: every message stored and processed
    once, nobody answered twice, everybody answered unless the reply was cut off inside the provider call."""
    from bot.embedded_db import EmbeddedMongo
    from pymongo import AsyncMongoClient

    db_server = EmbeddedMongo(tmp_path / "db")
    db_server.start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MONGODB_URI": db_server.uri, "LAPOR_DB": "crash", "LAPOR_DATA_DIR": str(tmp_path / "bot"),
           "LAPOR_HTTP_PORT": str(port), "LAPOR_INBOX_RECOVERY_S": "1", **channel_env}
    for key in ("RASA_URL", "TELEGRAM_BOT_TOKEN", "WHATSAPP_APP_SECRET", "SMS_AUTH_TOKEN", "SMS_ACCOUNT_SID"):
        if key not in channel_env:
            env.pop(key, None)
    log = tmp_path / "bot.log"
    proc = spawn_bot(env, log)
    client = AsyncMongoClient(db_server.uri, tz_aware=True)
    try:
        await healthy(port, proc=proc, log=log)
        acked: set[str] = set()

        async def post(c):
            try:
                if await post_one(base, c) == 200:
                    acked.add(c)
            except aiohttp.ClientError:
                pass  # the process died under this request: the provider retries it
        burst = [asyncio.create_task(post(c)) for c in CITIZENS]
        await wait_until(lambda: len(acked) >= len(CITIZENS) // 3, timeout=120, interval=0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        await asyncio.gather(*burst)
        proc = spawn_bot(env, log)
        await healthy(port, proc=proc, log=log)
        for c in CITIZENS:
            if c not in acked:
                await post(c)
        assert acked == set(CITIZENS), "the restarted bot acknowledged every retry"
        db = client["crash"]
        state = {}

        async def settled():
            state.update(
                inbox=await db[inbox].count_documents({"status": {"$in": ["pending", "processing"]}}),
                received=await db.messages.count_documents({"direction": "in", "status": "received"}),
                unsent=await db.messages.count_documents({"direction": "out", "status": {"$in": ["queued", "sending"]}}))
            return not any(state.values())
        try:
            await wait_until(settled, timeout=150, interval=0.25)
        except AssertionError:
            raise AssertionError(f"not settled: {state}; log: {log.read_text()[-3000:]}") from None
        interrupted = {d["user_id"] for d in await db.messages.find(
            {"direction": "out", "status": "failed", "failure_reason": "interrupted"}).to_list(None)}
        for c in CITIZENS:
            n = answers(c)
            assert n <= 1, f"{c} answered {n} times"
            # at-most-once sending: a reply that was inside the provider call at the kill is recorded, not resent
            assert n == 1 or user_id(c) in interrupted, f"{c} acknowledged but never answered"
        assert await db.messages.count_documents({"direction": "in", "status": "processed"}) == len(CITIZENS)
        assert "Traceback" not in log.read_text()
    finally:
        end_process(proc)
        await client.close()
        db_server.stop()


async def test_kill_9_during_a_whatsapp_burst_loses_nothing_acknowledged(fake_graph, tmp_path):
    payloads, drivers = {}, {}

    async def post_one(base, c):
        if base not in drivers:
            drivers[base] = await WhatsAppDriver(fake_graph, base, SECRET).__aenter__()
        drv = drivers[base]
        payloads.setdefault(c, drv.message(c, "text", {"body": "halo"})[0])  # a retry resends the same body
        return (await drv.post(payloads[c])).status
    env = {"WHATSAPP_ACCESS_TOKEN": fake_graph.token, "WHATSAPP_APP_SECRET": SECRET,
           "WHATSAPP_PHONE_NUMBER_ID": fake_graph.phone_number_id, "WHATSAPP_API_BASE_URL": fake_graph.base_url}
    try:
        await kill_during_burst(tmp_path, env, post_one, lambda c: len(fake_graph.to(c)), "whatsapp_inbox")
    finally:
        for drv in drivers.values():
            await drv.__aexit__()


async def test_kill_9_during_a_telegram_webhook_burst_loses_nothing_acknowledged(fake_telegram, tmp_path):
    fake_telegram.chat_gap_s = 0
    chats = {c: 880000 + i for i, c in enumerate(CITIZENS)}
    session = aiohttp.ClientSession()

    async def post_one(base, c):
        chat = chats[c]
        update = {"update_id": chat, "message": {"message_id": 1, "date": int(time.time()), "text": "halo",
                                                 "chat": {"id": chat, "type": "private", "first_name": "W"},
                                                 "from": {"id": chat, "is_bot": False, "first_name": "W"}}}
        async with session.post(base + "/webhooks/telegram", json=update,
                                headers={"X-Telegram-Bot-Api-Secret-Token": "tg-crash-secret"}) as r:
            return r.status
    env = {"TELEGRAM_BOT_TOKEN": fake_telegram.token, "TELEGRAM_API_BASE_URL": fake_telegram.base_url,
           "TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": "tg-crash-secret"}
    try:
        await kill_during_burst(tmp_path, env, post_one, lambda c: len(fake_telegram.to_chat(chats[c])),
                                "telegram_inbox", user_id=lambda c: str(chats[c]))
    finally:
        await session.close()
