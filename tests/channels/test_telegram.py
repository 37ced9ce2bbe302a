"""Telegram through the real PTB Application against a local fake Bot API."""
import asyncio

import aiohttp

from bot.ratelimit import PerChatGap
from channels.formatting import read_file
from tests.channels.helpers import DESCRIPTION, JPEG, fast_chat_gap, notify_status
from tests.fixtures.fakes import wait_until

CHAT = 5550001


async def tg_runtime(make_runtime, fake, **kw):
    rt = await make_runtime(http=True, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url, **kw)
    return rt


async def step(fake, n_before, action, *, count=1):
    action()
    return await fake.wait_sent(CHAT, n_before + count)


async def test_telegram_files_a_report_with_photo_and_receives_status(fake_telegram, make_runtime):
    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0  # scripted user answers instantly; the 1/s gap has its own test
    sent = await step(fake, 0, lambda: fake.text(CHAT, "halo"))
    assert "LAPOR" in sent[-1]["text"]
    kb = sent[-1]["reply_markup"]["inline_keyboard"]
    assert all(len(b["callback_data"].encode()) <= 64 for row in kb for b in row)
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1), count=2)  # consent: ya -> thanks + menu
    assert fake.answers and fake.edits  # callback answered, chosen button shown
    assert "Terima kasih" in sent[-2]["text"] and sent[-1]["reply_markup"]  # replies keep their order
    sent = await step(fake, len(sent), lambda: fake.text(CHAT, "lapor"))
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1))  # pengaduan
    sent = await step(fake, len(sent), lambda: fake.text(CHAT, DESCRIPTION))
    sent = await step(fake, len(sent), lambda: fake.text(CHAT, "Jalan Sudirman depan pasar"))
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1))  # Kota Kupang
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1))  # category
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1))  # agency
    assert "foto" in sent[-1]["text"].lower()
    sent = await step(fake, len(sent), lambda: fake.photo(CHAT, JPEG, caption="foto lubangnya"))
    await wait_until(lambda: fake.last_with_keyboard(CHAT) is not None)
    # after the photo the bot asks for more or moves on; finish attachments if still asked
    for _ in range(4):
        labels = [b["text"].lower() for row in fake.last_with_keyboard(CHAT)["reply_markup"]["inline_keyboard"]
                  for b in row]
        if any("rahasia" in lbl for lbl in labels):
            break
        sent = await step(fake, len(fake.to_chat(CHAT)), lambda: fake.press_index(CHAT, 1))
    sent = await step(fake, len(fake.to_chat(CHAT)), lambda: fake.press_label(CHAT, "rahasia"))
    sent = await step(fake, len(sent), lambda: fake.press_index(CHAT, 1))  # confirm
    assert "LPR-" in sent[-1]["text"]

    report = await rt.stores.db.reports.find_one({})
    assert report["channel"] == "telegram" and report["description"] == DESCRIPTION
    assert report["attachments"] and report["attachments"][0]["gridfs_id"] is not None
    assert await read_file(rt.stores.db, report["attachments"][0]["gridfs_id"]) == JPEG

    n = len(fake.to_chat(CHAT))
    await notify_status(rt, report)
    sent = await fake.wait_sent(CHAT, n + 1)
    assert report["tracking_id"] in sent[-1]["text"]
    await rt.outbox.drain()
    doc = await rt.stores.db.messages.find_one({"template": "tracking/status", "kind": "notification"})
    assert doc["status"] == "sent" and doc["provider_id"].startswith(f"{CHAT}:")
    assert not fake.rate_violations


async def test_telegram_deep_link_location_contact_and_document(fake_telegram, make_runtime):
    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0  # scripted user answers instantly; the 1/s gap has its own test
    fake.text(CHAT, "/start kampus_ui")
    await fake.wait_sent(CHAT, 1)
    inbound = await rt.stores.db.messages.find_one({"direction": "in"})
    assert inbound is not None
    await wait_until(lambda: rt.stores.contacts.find_by_identity("telegram", str(CHAT)))
    contact = await wait_until(lambda: _attributed(rt))
    assert contact["attribution"]["start"] == "kampus_ui"
    fake.location(CHAT, -10.17, 123.6)
    fake.contact(CHAT, "0812-3456-7890")
    fake.document(CHAT, b"%PDF-1.4 test", name="surat.pdf")
    await wait_until(lambda: _count(rt, {"direction": "in"}, 4), timeout=30)
    loc = await rt.stores.db.messages.find_one({"direction": "in", "kind": "location"})
    assert loc["location"]["latitude"] == -10.17
    doc = await rt.stores.db.messages.find_one({"direction": "in", "kind": "media"})
    assert doc["media"][0]["gridfs_id"] is not None and doc["media"][0]["filename"] == "surat.pdf"
    assert await rt.stores.db.messages.find_one({"direction": "in", "kind": "contact"})


async def _attributed(rt):
    c = await rt.stores.contacts.find_by_identity("telegram", str(CHAT))
    return c if c and c.get("attribution") else None


async def test_telegram_database_outage_answers_failure_text(fake_telegram, make_runtime):
    from bot.engine import TurnFailed

    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)

    async def broken(inbound, inline=False, accepted=None):
        raise TurnFailed("db down")
    rt.engine.handle = broken
    fake.text(CHAT, "halo")
    sent = await fake.wait_sent(CHAT, 1)
    assert sent[0]["text"] == rt.engine.failure_text("id")


async def _count(rt, q, n):
    return await rt.stores.db.messages.count_documents(q) >= n


async def test_telegram_honours_429_per_chat_gap_and_escapes_html(fake_telegram, make_runtime):
    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    contact = await rt.stores.contacts.get_or_create(__import__("bot.messages").messages.Identity("telegram",
                                                                                                   str(CHAT)))
    t0 = asyncio.get_running_loop().time()
    from bot.messages import Identity, OutboundMessage
    await rt.outbox.enqueue([OutboundMessage(Identity("telegram", str(CHAT)), f"pesan {i}", contact_id=contact["_id"])
                             for i in range(3)])
    await fake.wait_sent(CHAT, 3, timeout=30)
    assert [m["text"] for m in fake.to_chat(CHAT)] == ["pesan 0", "pesan 1", "pesan 2"]
    fake.inject.append(("sendMessage", 429, "Too Many Requests: retry after 1", {"retry_after": 1}))
    await rt.engine.notify(contact, "errors/not_understood")
    await fake.wait_sent(CHAT, 4, timeout=30)
    await rt.outbox.drain()
    assert not fake.rate_violations  # 1 msg/s per chat kept by the outbox
    times = [m["at"] for m in fake.to_chat(CHAT)]
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:]))
    assert asyncio.get_running_loop().time() - t0 >= 3.0
    assert rt.outbox.stats()["telegram"]["rate_limited"] >= 1
    # escaping: a text with markup characters arrives verbatim
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0  # scripted user answers instantly; the 1/s gap has its own test
    await rt.outbox.enqueue([OutboundMessage(Identity("telegram", str(CHAT)), "a < b & c > d <b>", contact_id=None)])
    sent = await fake.wait_sent(CHAT, 5)
    assert sent[-1]["text"] == "a < b & c > d <b>"


async def test_telegram_blocked_user_marks_contact_unreachable(fake_telegram, make_runtime):
    from bot.messages import Identity

    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    contact = await rt.stores.contacts.get_or_create(Identity("telegram", "777"))
    fake.blocked.add("777")
    await rt.engine.notify(contact, "errors/not_understood")
    await rt.outbox.drain()
    c = await rt.stores.contacts.get(contact["_id"])
    assert c["reachable"] is False and "blocked" in c["unreachable_reason"]
    msg = await rt.stores.db.messages.find_one({"direction": "out"})
    assert msg["status"] == "failed" and msg["failure_reason"] == "blocked"


async def test_telegram_long_payload_goes_through_lookup(fake_telegram, make_runtime):
    from bot.messages import Choice, Identity, OutboundMessage

    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    long = "choice:" + "x" * 100
    await rt.outbox.enqueue([OutboundMessage(Identity("telegram", str(CHAT)), "pilih",
                                             choices=[Choice(long, "Panjang"), Choice("cmd:help", "Bantuan")])])
    sent = await fake.wait_sent(CHAT, 1)
    data = sent[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64
    chan = next(c for c in rt.channels if c.name == "telegram")
    assert await chan.callbacks.decode(data) == long


async def test_telegram_webhook_mode_checks_secret(fake_telegram, make_runtime):
    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake, telegram_mode="webhook", telegram_webhook_secret="s3cret-token_1")
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0  # scripted user answers instantly; the 1/s gap has its own test
    url = f"http://127.0.0.1:{rt.http_port}/webhooks/telegram"
    update = {"update_id": 1, "message": {"message_id": 1, "date": 1700000000,
                                          "chat": {"id": CHAT, "type": "private", "first_name": "B"},
                                          "from": {"id": CHAT, "is_bot": False, "first_name": "B"}, "text": "halo"}}
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=update) as r:
            assert r.status == 403
        async with s.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as r:
            assert r.status == 403
        assert await rt.stores.db.messages.count_documents({}) == 0
        async with s.post(url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token_1"}) as r:
            assert r.status == 200
    sent = await fake.wait_sent(CHAT, 1)
    assert "LAPOR" in sent[0]["text"]
    assert not any(m == "getUpdates" for m, _ in fake.calls)


async def test_telegram_location_request_uses_a_reply_keyboard(fake_telegram, make_runtime):
    from bot.messages import Identity, OutboundMessage

    fake = fake_telegram
    rt = await tg_runtime(make_runtime, fake)
    contact = await rt.stores.contacts.get_or_create(Identity("telegram", str(CHAT)), "en")
    await rt.outbox.enqueue([OutboundMessage(Identity("telegram", str(CHAT)), "Where?", request_location=True,
                                             contact_id=contact["_id"])])
    await fake.wait_sent(CHAT, 1)
    markup = fake.to_chat(CHAT)[0]["reply_markup"]
    assert markup["keyboard"][0][0] == {"text": "Send location", "request_location": True}
