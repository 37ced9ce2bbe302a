"""A Telegram update whose chat id is not an integer is rejected (recorded, 200), never answered to that id;
found by bench/fuzz_outside.py (the bot sent sendMessage to chat_id "{}")."""
import aiohttp

from tests.fixtures.fakes import wait_until

SECRET = "tg-chat-id-secret"


def update(update_id: int, chat_id) -> dict:
    return {"update_id": update_id, "message": {"message_id": 1, "date": 1700000000, "text": "halo",
                                                "chat": {"id": chat_id, "type": "private"},
                                                "from": {"id": 5, "is_bot": False, "first_name": "W"}}}


async def test_a_non_integer_chat_id_is_rejected_and_a_real_one_still_answered(make_runtime, fake_telegram):
    fake_telegram.chat_gap_s = 0
    rt = await make_runtime(http=True, telegram_bot_token=fake_telegram.token,
                            telegram_api_base_url=fake_telegram.base_url, telegram_mode="webhook",
                            telegram_webhook_secret=SECRET)
    url = f"http://127.0.0.1:{rt.http_port}/webhooks/telegram"
    async with aiohttp.ClientSession(headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as s:
        for i, bad in enumerate([{}, "abc", 1.5, [1], True]):
            async with s.post(url, json=update(100 + i, bad)) as r:
                assert r.status == 200
        async with s.post(url, json=update(200, 4242)) as r:
            assert r.status == 200
        await wait_until(lambda: fake_telegram.to_chat(4242), timeout=30)
    sends = [p for m, p in fake_telegram.calls if m in ("sendMessage", "sendPhoto")]
    assert {str(p.get("chat_id")) for p in sends} == {"4242"}
    assert await rt.stores.db.telegram_inbox.count_documents({"status": "done", "rejected": {"$exists": True}}) == 5
