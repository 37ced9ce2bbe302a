"""A burst of 30 WhatsApp citizens at once: everyone gets exactly their replies, once and in order, while the
per-message bookkeeping of concurrent turns is group-committed (bot/storage/coalesce.py). Commands are counted by
the bot's own command listener (``stores.roundtrips``, shown at GET /metrics)."""
import asyncio

import pytest

from tests.channels.helpers import fast_chat_gap
from tests.fixtures.fakes import WhatsAppDriver, wait_until

SECRET = "wa-app-secret-123"
CITIZENS = 30


@pytest.fixture
async def wa(fake_graph, make_runtime):
    g = fake_graph
    rt = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                            whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                            whatsapp_api_base_url=g.base_url, lapor_max_messages_per_minute=1000)
    fast_chat_gap(rt, "whatsapp")
    async with WhatsAppDriver(g, f"http://127.0.0.1:{rt.http_port}", SECRET) as drv:
        yield rt, g, drv


def seen(g, wa_id) -> list[tuple]:
    return [(m["type"], g.text_of(m), tuple(g.options(m) or ())) for m in g.to(wa_id)]


async def step(rt, g, post, people) -> None:
    """Everyone posts at once; then every turn and every reply of this step is through."""
    counts = {w: len(g.to(w)) for w in people}
    statuses = await asyncio.gather(*(post(w) for w in people))
    assert all(st == 200 for st, _ in statuses)
    await wait_until(lambda: all(len(g.to(w)) > counts[w] for w in people), 60)
    await next(c for c in rt.channels if c.name == "whatsapp").idle()
    await rt.outbox.drain()


async def test_thirty_citizens_at_once_get_their_replies_once_in_order_with_fewer_commands(wa):
    rt, g, drv = wa
    script = [lambda w: drv.text(w, "halo"), lambda w: drv.button(w, "consent:ya", "Setuju"),
              lambda w: drv.text(w, "lapor")]
    # one citizen alone first: the replies every citizen must get, in this order
    ref = "6281288800000"
    for post in script:
        await step(rt, g, post, [ref])
    expected = seen(g, ref)
    assert len(expected) >= len(script)

    people = [f"62812999{i:05d}" for i in range(CITIZENS)]
    before = dict(rt.stores.roundtrips.counts)
    turns0 = rt.engine.metrics["turns"]
    for post in script:
        await step(rt, g, post, people)
    for w in people:
        assert seen(g, w) == expected, w  # every reply once, in order, nothing extra
    turns = rt.engine.metrics["turns"] - turns0
    assert turns == CITIZENS * len(script)
    per_turn = {k: (v - before.get(k, 0)) / turns for k, v in rt.stores.roundtrips.counts.items()}
    replies_per_turn = len(expected) / len(script)
    # one at a time, each turn would send: an inbox insert and a done mark; in messages, an update for its
    # processed mark, per reply a claim and a sent mark (plus a read back per claim), and bot/held.py's release
    # (one update per WhatsApp turn, not group-committed): 1 + 1 + 2 * replies updates
    assert per_turn.get("insert whatsapp_inbox", 0) < 0.5 and per_turn.get("update whatsapp_inbox", 0) < 1, per_turn
    assert per_turn.get("find messages", 0) < 0.5 * replies_per_turn, per_turn  # claims read nothing back
    assert per_turn.get("update messages", 0) < 1 + (1 + 2 * replies_per_turn) / 2, per_turn  # at least halved
    # the turn reads its contact once; a fresh reply goes out without reading it again (its language is on it)
    assert per_turn.get("find contacts", 0) < 1.2, per_turn
    assert await rt.stores.messages.col.count_documents({"direction": "in", "status": {"$ne": "processed"}}) == 0
    assert await rt.stores.messages.col.count_documents({"direction": "out", "status": {"$ne": "sent"}}) == 0
