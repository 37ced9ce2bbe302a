"""A new contact's very first message is the sign-up (issue 18): the code survives the consent question.

End to end through the provider fakes: Telegram deep link ``/start CODE``, WhatsApp click-to-chat
``DAFTAR CODE``, SMS keyword with a code. The subscription and its attribution are recorded exactly once.
"""
from __future__ import annotations

import aiohttp

from tests.channels.helpers import fast_chat_gap
from tests.channels.test_sms import text as sms_text
from tests.fixtures.fakes import WhatsAppDriver, wait_until

CODE = "KAMPUS-UNSRI"


async def _codes(rt):
    out = rt.outreach
    await out.ensure_indexes()
    await out.campaigns.sync_files(out.codes)


async def _subscribed(rt, channel, user_id):
    c = await rt.stores.contacts.find_by_identity(channel, user_id)
    return c if c and (c.get("subscription") or {}).get("status") == "subscribed" else None


async def _events(rt, contact) -> list[dict]:
    return await rt.stores.db["subscription_events"].find({"contact_id": contact["_id"]}).to_list(None)


async def _telegram_booth(fake, make_runtime):
    """A runtime on the fake Telegram with the booth's codes and no per-chat gap (each test's chat is new)."""
    rt = await make_runtime(http=True, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)
    await _codes(rt)
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0
    return rt


def _assert_attributed(contact, source):
    sub = contact["subscription"]
    assert sub["code"] == CODE and sub["campaign"] == "goes-to-campus" and sub["source"] == source
    assert sub["institution"] == "Universitas Sriwijaya" and contact["consent"]["given"] is True


async def test_telegram_first_message_deep_link_survives_consent(fake_telegram, make_runtime):
    fake, chat = fake_telegram, 5550101
    rt = await _telegram_booth(fake, make_runtime)
    fake.text(chat, f"/start {CODE}")
    sent = await fake.wait_sent(chat, 1)
    assert any(b["callback_data"].startswith("consent:") for row in sent[-1]["reply_markup"]["inline_keyboard"]
               for b in row)
    contact = await rt.stores.contacts.find_by_identity("telegram", str(chat))
    assert not (contact.get("subscription") or {}).get("status")  # nothing before consent
    fake.press(chat, "consent:ya", sent[-1])
    contact = await wait_until(lambda: _subscribed(rt, "telegram", str(chat)))
    _assert_attributed(contact, "deep_link")
    sent = await fake.wait_sent(chat, 2)
    assert "berlangganan" in sent[-1]["text"]  # the sign-up's reply is the thank-you: one reply, not two
    fake.text(chat, f"/start {CODE}")  # scanned again: still one sign-up
    sent = await fake.wait_sent(chat, 3)
    assert [m["text"] for m in sent].count("Terima kasih!") == 0
    # the sign-up event is a turn effect, written just after the contact: wait for it, then count it
    assert len(await wait_until(lambda: _events(rt, contact))) == 1


async def test_whatsapp_first_message_daftar_code_survives_a_second_message(fake_graph, make_runtime):
    g, wa = fake_graph, "6281234567101"
    secret = "wa-app-secret-123"
    rt = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=secret,
                            whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                            whatsapp_api_base_url=g.base_url)
    await _codes(rt)
    async with WhatsAppDriver(g, f"http://127.0.0.1:{rt.http_port}", secret) as drv:
        assert (await drv.text(wa, f"DAFTAR {CODE.lower()}"))[0] == 200
        await g.wait_sent(wa, 1)
        assert (await drv.text(wa, "halo?"))[0] == 200  # not an answer: asked again, the code is kept
        await g.wait_sent(wa, 2)
        assert (await drv.button(wa, "consent:ya", "Setuju"))[0] == 200
        contact = await wait_until(lambda: _subscribed(rt, "whatsapp", wa))
    _assert_attributed(contact, "keyword")
    # the sign-up event is a turn effect, written just after the contact: wait for it, then count it
    assert len(await wait_until(lambda: _events(rt, contact))) == 1


async def test_sms_first_message_keyword_with_code_survives_consent(fake_sms, make_runtime):
    public = "https://lapor.example.id/webhooks/sms"
    rt = await make_runtime(http=True, sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token,
                            sms_from="1708", sms_api_base_url=fake_sms.base_url, sms_public_url=public)
    await _codes(rt)
    async with aiohttp.ClientSession() as s:
        msgs = await sms_text(rt, s, f"DAFTAR {CODE}", frm="0812-3456-7101")
        assert "1. " in msgs[-1]  # the consent question, numbered
        msgs = await sms_text(rt, s, "1", frm="0812-3456-7101")
    contact = await _subscribed(rt, "sms", "+6281234567101")
    assert contact is not None, msgs
    _assert_attributed(contact, "keyword")
    # the sign-up event is a turn effect, written just after the contact: wait for it, then count it
    assert len(await wait_until(lambda: _events(rt, contact))) == 1


async def test_declining_consent_drops_the_held_code(fake_telegram, make_runtime):
    fake, chat = fake_telegram, 5550102
    rt = await _telegram_booth(fake, make_runtime)
    fake.text(chat, f"/start {CODE}")
    sent = await fake.wait_sent(chat, 1)
    fake.press(chat, "consent:tidak", sent[-1])
    await fake.wait_sent(chat, 2)

    async def declined():
        c = await rt.stores.contacts.find_by_identity("telegram", str(chat))
        return c if (c.get("consent") or {}).get("given") is False else None
    contact = await wait_until(declined)
    assert not (contact.get("subscription") or {}).get("status")
    state = await rt.stores.conversations.stored(contact["_id"])
    assert state is not None and not state.get("held_signup")
    assert await _events(rt, contact) == []
