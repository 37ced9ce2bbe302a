"""Telegram webhook: stored before 200, recovered after a crash, answered once; bad bodies are 200-and-recorded."""
from datetime import timedelta

import aiohttp

from bot.messages import utcnow
from tests.channels.helpers import fast_chat_gap
from tests.channels.test_telegram import CHAT, tg_runtime

SECRET = "s3cret-token_1"


def update(uid: int, text: str = "halo", chat: int = CHAT) -> dict:
    return {"update_id": uid, "message": {"message_id": uid, "date": 1700000000,
                                          "chat": {"id": chat, "type": "private", "first_name": "B"},
                                          "from": {"id": chat, "is_bot": False, "first_name": "B"}, "text": text}}


async def webhook_rt(make_runtime, fake):
    rt = await tg_runtime(make_runtime, fake, telegram_mode="webhook", telegram_webhook_secret=SECRET)
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0
    return rt, next(c for c in rt.channels if c.name == "telegram"), f"http://127.0.0.1:{rt.http_port}/webhooks/telegram"


async def test_update_is_stored_before_200_and_recovered_after_a_crash(fake_telegram, make_runtime):
    rt, chan, url = await webhook_rt(make_runtime, fake_telegram)
    dropped = []
    chan._spawn = lambda coro: (dropped.append(coro), coro.close())  # the process dies right after its 200
    h = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with aiohttp.ClientSession() as s:
        for uid in (1, 2, 3):
            async with s.post(url, json=update(uid, chat=CHAT + uid), headers=h) as r:
                assert r.status == 200
    assert len(dropped) == 3
    assert await rt.stores.db.telegram_inbox.count_documents({"status": "pending"}) == 3
    assert await rt.stores.db.messages.count_documents({}) == 0
    # after the restart the leases are over: the recovery loop runs every stored update
    await rt.stores.db.telegram_inbox.update_many({}, {"$set": {"next_try_at": utcnow() - timedelta(seconds=1)}})
    assert await chan.recover_once() == 3
    for uid in (1, 2, 3):
        await fake_telegram.wait_sent(CHAT + uid, 1)
    assert await rt.stores.db.telegram_inbox.count_documents({"status": "done"}) == 3
    # Telegram resends one (say our 200 got lost): stored already, not answered twice
    del chan._spawn
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=update(1, chat=CHAT + 1), headers=h) as r:
            assert r.status == 200
    await chan.idle()
    await rt.outbox.drain()
    assert len(fake_telegram.to_chat(CHAT + 1)) == 1


async def test_bad_bodies_are_recorded_and_answered_200(fake_telegram, make_runtime):
    rt, chan, url = await webhook_rt(make_runtime, fake_telegram)
    h = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s:
        for raw in (b"[" * 5000, b"\xff", b"{}", b'{"update_id": "x"}', b'{"update_id": 99999999999999999999999}',
                    b"[]", b'{"update_id": 7, "message": {"chat": 5}}'):
            async with s.post(url, data=raw, headers=h) as r:
                assert r.status == 200, raw[:20]
        async with s.post(url, data=b"{}", headers={"X-Telegram-Bot-Api-Secret-Token": "nope"}) as r:
            assert r.status == 403
    await chan.idle()
    assert await rt.stores.db.telegram_inbox.count_documents({"status": "rejected"}) == 6
    assert (await rt.stores.db.telegram_inbox.find_one({"_id": 7}))["status"] == "done"
    # a normal citizen is still answered
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=update(8), headers=h) as r:
            assert r.status == 200
    await fake_telegram.wait_sent(CHAT, 1)
