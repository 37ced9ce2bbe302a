"""The database goes away: webhooks answer 503 (providers retry) without a traceback, and nothing acknowledged
is lost once it is back."""
import logging

import aiohttp

from tests.fixtures.fakes import WhatsAppDriver, form_body, twilio_signature

SECRET = "wa-outage-secret"
TG_SECRET = "tg-outage-secret"
PUBLIC = "https://lapor.example.id/webhooks/sms"
WA = "6281234560099"


async def test_webhooks_answer_503_while_the_database_is_away(make_runtime, fake_graph, fake_telegram, fake_sms,
                                                              tmp_path, caplog):
    from bot.embedded_db import EmbeddedMongo

    caplog.set_level(logging.WARNING)
    server = EmbeddedMongo(tmp_path / "db")
    server.start()
    try:
        rt = await make_runtime(
            http=True, mongodb_uri=server.uri + "&serverSelectionTimeoutMS=1000",
            whatsapp_access_token=fake_graph.token, whatsapp_app_secret=SECRET,
            whatsapp_phone_number_id=fake_graph.phone_number_id, whatsapp_api_base_url=fake_graph.base_url,
            telegram_bot_token=fake_telegram.token, telegram_api_base_url=fake_telegram.base_url,
            telegram_mode="webhook", telegram_webhook_secret=TG_SECRET,
            sms_auth_token=fake_sms.token, sms_public_url=PUBLIC)
        base = f"http://127.0.0.1:{rt.http_port}"
        async with WhatsAppDriver(fake_graph, base, SECRET) as drv, aiohttp.ClientSession() as s:
            payload, wamid = drv.message(WA, "text", {"body": "halo"})
            server.stop()
            assert (await drv.post(payload)).status == 503
            async with s.post(base + "/webhooks/telegram", headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET},
                              json={"update_id": 1, "message": {"message_id": 1, "date": 1700000000, "text": "halo",
                                                                "chat": {"id": 42, "type": "private"}}}) as r:
                assert r.status == 503
            params = {"MessageSid": "SM" + "1" * 32, "From": "081234560099", "To": "1708", "Body": "halo"}
            async with s.post(base + "/webhooks/sms", data=form_body(params), headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": twilio_signature(fake_sms.token, PUBLIC, params)}) as r:
                assert r.status in (200, 503)  # the failure text as TwiML, or 503 for the gateway's fallback
            async with s.get(base + "/healthz") as r:
                assert r.status == 503
            async with s.get(base + "/healthz/live") as r:
                assert r.status == 200
            server.proc = None
            server.start()  # same port, same data
            assert (await drv.post(payload)).status == 200  # Meta retries
            await fake_graph.wait_sent(WA, 1)
        noisy = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(("bot.http", "channels",
                                                                                                "aiohttp.server"))]
        assert not noisy, [r.getMessage() for r in noisy]
    finally:
        server.stop()
