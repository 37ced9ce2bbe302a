"""The recorded payloads beside each fake (fakes/*/testdata/): inbound samples reach the bot through the real
channel, and the fakes answer with the recorded error bodies."""
import base64
import time
import xml.etree.ElementTree as ET

import aiohttp

from fakes import FakeGraph, WhatsAppDriver, form_body, recorded, twilio_signature
from tests.channels.helpers import fast_chat_gap

TG_SECRET = "s3cret-token_1"
WA_SECRET = "wa-app-secret-123"
SMS_PUBLIC = "https://lapor.example.id/webhooks/sms"


def fresh(webhook: dict) -> dict:
    """A recorded WhatsApp webhook stamped with the current time, as Meta stamps a live one."""
    value = webhook["entry"][0]["changes"][0]["value"]
    for item in (value.get("messages") or []) + (value.get("statuses") or []):
        item["timestamp"] = str(int(time.time()))
    return webhook


async def post_json(url, body, headers=None):
    async with aiohttp.ClientSession() as s:
        async with s.post(url, json=body, headers=headers or {}) as r:
            return r.status, await r.json(content_type=None)


# ---------------------------------------------------------------------------------------------- Telegram

async def test_telegram_webhook_registered_from_public_url_and_recorded_update_answered(fake_telegram,
                                                                                       make_runtime):
    fake = fake_telegram
    rt = await make_runtime(http=True, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url,
                            telegram_mode="webhook", telegram_webhook_secret=TG_SECRET,
                            lapor_public_url="https://lapor.example.id/")
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0
    assert fake.webhook == {"url": "https://lapor.example.id/webhooks/telegram", "secret_token": TG_SECRET}
    update = recorded("telegram", "update_message_text")
    chat = update["message"]["chat"]["id"]
    status, _ = await post_json(f"http://127.0.0.1:{rt.http_port}/webhooks/telegram", update,
                                {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert status == 200
    sent = await fake.wait_sent(chat, 1)
    assert sent[0]["text"].strip()


async def test_telegram_fake_answers_with_recorded_errors(fake_telegram):
    fake = fake_telegram
    url = f"{fake.base_url}{fake.token}/sendMessage"
    assert (await post_json(url, {"chat_id": 77, "text": "satu"}))[0] == 200
    status, body = await post_json(url, {"chat_id": 77, "text": "dua"})  # within the 1 s per-chat gap
    assert (status, body) == (429, recorded("telegram", "error_429_too_many_requests"))
    assert body["parameters"]["retry_after"] >= 1
    fake.blocked.add("78")
    status, body = await post_json(url, {"chat_id": 78, "text": "halo"})
    assert (status, body) == (403, recorded("telegram", "error_403_blocked"))


# ---------------------------------------------------------------------------------------------- WhatsApp

async def test_whatsapp_recorded_webhooks_reach_the_bot(fake_graph, make_runtime):
    g = fake_graph
    rt = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=WA_SECRET,
                            whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                            whatsapp_api_base_url=g.base_url)
    async with WhatsAppDriver(g, f"http://127.0.0.1:{rt.http_port}", WA_SECRET) as drv:
        text = fresh(recorded("whatsapp", "webhook_text"))
        value = text["entry"][0]["changes"][0]["value"]
        wa_id = value["contacts"][0]["wa_id"]
        assert value["metadata"]["phone_number_id"] == g.phone_number_id
        g.last_inbound[wa_id] = time.time()  # the platform opens the 24-hour window on inbound
        assert (await drv.post(text)).status == 200
        first = await g.wait_sent(wa_id, 1)
        assert g.options(first[-1])  # the greeting asks for consent with buttons
        # the failed receipt for that reply (131047) makes the channel resend it as the approved template
        receipt = fresh(recorded("whatsapp", "webhook_status_failed_131047"))
        status = receipt["entry"][0]["changes"][0]["value"]["statuses"][0]
        status["id"] = first[0]["id"]
        assert status["recipient_id"] == wa_id and status["errors"][0]["code"] == 131047
        n = len(g.to(wa_id))
        assert (await drv.post(receipt)).status == 200
        sent = await g.wait_sent(wa_id, n + 1)
        assert sent[-1]["type"] == "template"
        # the recorded button reply: the citizen taps "agree" on the consent question (the id the bot offered)
        reply = fresh(recorded("whatsapp", "webhook_button_reply"))
        button = reply["entry"][0]["changes"][0]["value"]["messages"][0]["interactive"]["button_reply"]
        button["id"] = next(i for i, _ in g.options(first[-1]) if button["id"] in i)
        n = len(g.to(wa_id))
        assert (await drv.post(reply)).status == 200
        await g.wait_sent(wa_id, n + 2)  # thanks, then the menu


async def test_graph_fake_answers_with_recorded_errors():
    g = await FakeGraph(rate_per_s=1).start()
    try:
        url = f"{g.base_url}/{g.phone_number_id}/messages"
        auth = {"Authorization": f"Bearer {g.token}"}
        body = {"messaging_product": "whatsapp", "to": "6281200000001", "type": "text", "text": {"body": "halo"}}
        status, answer = await post_json(url, body, auth)  # no inbound: outside the 24-hour window
        assert (status, answer) == (400, recorded("whatsapp", "error_131047_reengagement"))
        status, answer = await post_json(url, body, auth)
        assert (status, answer) == (400, recorded("whatsapp", "error_130429_rate_limit"))  # 2nd send within a second
        status, answer = await post_json(url, body, {"Authorization": "Bearer wrong"})
        assert (status, answer) == (401, recorded("whatsapp", "error_190_invalid_token"))
    finally:
        await g.stop()


# ---------------------------------------------------------------------------------------------- SMS

async def test_sms_recorded_inbound_answered(fake_sms, make_runtime):
    rt = await make_runtime(http=True, sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token,
                            sms_from="1708", sms_api_base_url=fake_sms.base_url, sms_public_url=SMS_PUBLIC)
    params = recorded("sms", "inbound_message")
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Twilio-Signature": twilio_signature(fake_sms.token, SMS_PUBLIC, params)}
    async with aiohttp.ClientSession() as s:
        async with s.post(f"http://127.0.0.1:{rt.http_port}/webhooks/sms", data=form_body(params),
                          headers=headers) as r:
            assert r.status == 200
            root = ET.fromstring(await r.text())
    assert root.tag == "Response" and [m.text for m in root.findall("Message") if (m.text or "").strip()]


async def test_sms_fake_answers_with_recorded_errors(fake_sms):
    url = f"{fake_sms.base_url}/Accounts/{fake_sms.sid}/Messages.json"
    good = {"Authorization": "Basic " + base64.b64encode(f"{fake_sms.sid}:{fake_sms.token}".encode()).decode()}
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{fake_sms.sid}:wrong".encode()).decode()}
    async with aiohttp.ClientSession() as s:
        async with s.post(url, data={"To": "+6281200000001", "Body": "x"}, headers=wrong) as r:
            assert (r.status, await r.json()) == (401, recorded("sms", "error_401_authenticate"))
        fake_sms.inject.append(429)
        async with s.post(url, data={"To": "+6281200000001", "Body": "x"}, headers=good) as r:
            assert (r.status, await r.json()) == (429, recorded("sms", "error_429_too_many_requests"))
        async with s.post(url, data={"To": "+6281200000001", "Body": ""}, headers=good) as r:
            assert (r.status, await r.json()) == (400, recorded("sms", "error_400_body_required"))
        async with s.post(url, data={"To": "+6281200000001", "Body": "x"}, headers=good) as r:
            sent = await r.json()
    assert r.status == 201 and set(sent) == set(recorded("sms", "send_ok"))
