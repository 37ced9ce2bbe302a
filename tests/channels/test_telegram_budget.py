"""Button presses spend the bot's rate budget (issue 18): answers and edits never push Telegram past 30/s."""
from __future__ import annotations

from tests.channels.helpers import fast_chat_gap
from tests.fixtures.fakes import wait_until

CHATS = [5560000 + i for i in range(40)]


async def test_a_burst_of_button_presses_never_gets_a_429(fake_telegram, make_runtime):
    fake = fake_telegram
    rt = await make_runtime(http=True, telegram_bot_token=fake.token, telegram_api_base_url=fake.base_url)
    fast_chat_gap(rt, "telegram")
    fake.chat_gap_s = 0
    for chat in CHATS:
        fake.text(chat, "halo")
    for chat in CHATS:
        await fake.wait_sent(chat, 1, timeout=60)
    for chat in CHATS:  # everyone agrees in the same second: an answer, an edit and two replies each
        fake.press_index(chat, 1)
    for chat in CHATS:
        await fake.wait_sent(chat, 3, timeout=60)
    await wait_until(lambda: len(fake.edits) >= len(CHATS) and len(fake.answers) >= len(CHATS), timeout=60)
    assert fake.rate_violations == []
    for chat in CHATS:
        assert (await rt.stores.contacts.find_by_identity("telegram", str(chat)))["consent"]["given"] is True
