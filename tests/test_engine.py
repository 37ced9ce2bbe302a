"""The one message path: stored first, deduplicated, cleaned, strictly ordered, and honest on outages."""
import asyncio

import pytest

from bot.engine import TurnFailed
from bot.messages import Identity, InboundMessage
from tests.chat import Chat


async def consented(rt, user="u1"):
    chat = Chat(rt, user)
    await chat.send("halo")
    await chat.send("ya")
    return chat


async def test_first_contact_asks_consent_and_stores_nothing_personal_before_it(make_runtime):
    rt = await make_runtime()
    chat = Chat(rt, "new")
    await chat.send("halo")
    assert chat.templates() == ["welcome/first_contact"]
    assert {"consent:ya", "consent:tidak"} <= set(chat.payloads())
    contact = await chat.contact()
    assert contact["consent"] is None
    await chat.send("tidak")
    assert (await chat.contact())["consent"]["given"] is False


async def test_inbound_is_stored_before_processing_and_duplicates_are_ignored(make_runtime):
    rt = await make_runtime()
    ident = Identity("console", "dup")
    msg = InboundMessage(ident, "same-id", text="halo")
    first = await rt.engine.handle(msg, inline=True)
    second = await rt.engine.handle(InboundMessage(ident, "same-id", text="halo"), inline=True)
    assert first and second == []
    assert await rt.stores.db.messages.count_documents({"direction": "in", "channel_message_id": "same-id"}) == 1
    assert rt.engine.metrics["duplicates"] == 1


async def test_empty_and_whitespace_messages_get_an_answer(make_runtime):
    rt = await make_runtime()
    chat = await consented(rt)
    for text in ("", "   ", "\t\n"):
        replies = await chat.send(text)
        assert replies and "errors/empty" in chat.templates()


async def test_huge_message_is_truncated_politely_and_original_size_kept(make_runtime):
    rt = await make_runtime()
    chat = await consented(rt)
    text = "jalan rusak " * 9000  # ~100 kB
    replies = await chat.send(text)
    assert replies
    stored = await rt.stores.db.messages.find_one({"direction": "in", "original_size": {"$ne": None}})
    assert stored["original_size"] == len(text)
    assert len(stored["text"]) == rt.settings.lapor_max_text_chars


async def test_control_characters_are_removed_and_emoji_kept(make_runtime):
    rt = await make_runtime()
    chat = await consented(rt)
    await chat.send("halo\x00\x07 \u200b🙏🏽")
    stored = await rt.stores.db.messages.find_one({"direction": "in", "text": {"$regex": "🙏"}})
    assert stored is not None and "\x00" not in stored["text"] and "\u200b" not in stored["text"]


async def test_unknown_and_mistyped_tracking_ids(make_runtime):
    from bot.tracking import ALPHABET, new_tracking_id

    rt = await make_runtime()
    chat = await consented(rt)
    tid = new_tracking_id()
    await chat.send(f"cek status {tid}")
    assert chat.templates() == ["tracking/unknown"] and tid in chat.last[0].text
    wrong = tid[:-1] + next(c for c in ALPHABET if c != tid[-1])
    await chat.send(f"status {wrong}")
    assert chat.templates() == ["tracking/mistyped"]


async def test_turns_of_one_contact_are_ordered_and_none_is_lost(make_runtime):
    rt = await make_runtime()
    chat = await consented(rt, "burst")
    msgs = [InboundMessage(chat.identity, f"b{i}", text="bantuan") for i in range(8)]
    results = await asyncio.gather(*(rt.engine.handle(m, inline=True) for m in msgs))
    assert all(r for r in results)
    state = await chat.state()
    assert state["version"] == 2 + 8  # consent turns + one saved version per message, none lost


async def test_message_rate_limit_answers_once_and_keeps_messages(make_runtime):
    rt = await make_runtime(lapor_max_messages_per_minute=3)
    chat = await consented(rt, "spammy")
    seen = []
    for i in range(6):
        await chat.send("bantuan")
        seen += chat.templates()
    assert seen.count("limits/slow_down") == 1
    contact = await chat.contact()
    assert await rt.stores.db.messages.count_documents({"contact_id": contact["_id"], "direction": "in"}) == 8


async def test_database_dropping_mid_conversation_fails_the_turn_visibly_then_recovers(make_runtime, tmp_path):
    from bot.embedded_db import EmbeddedMongo

    server = EmbeddedMongo(tmp_path / "db")
    server.start()
    try:
        rt = await make_runtime(mongodb_uri=server.uri + "&serverSelectionTimeoutMS=1500")
        chat = await consented(rt, "outage")
        await chat.send("lapor")
        before = await chat.state()
        server.stop()
        with pytest.raises(TurnFailed):
            await chat.send("jalan berlubang besar di depan pasar sejak kemarin")
        assert "gangguan" in rt.engine.failure_text("id")
        server.proc = None
        server.start()  # same port, same data
        after = await chat.state()
        assert after["version"] == before["version"] and after["slots"] == before["slots"]  # nothing half-written
        replies = await chat.send("jalan berlubang besar di depan pasar sejak kemarin")
        assert replies and (await chat.state())["slots"].get("description")
    finally:
        server.stop()


async def test_database_down_at_start_is_a_clear_error_after_retries():
    from bot.storage import connect
    from pymongo.errors import PyMongoError

    with pytest.raises(PyMongoError):
        await connect("mongodb://127.0.0.1:9/?directConnection=true", "x", attempts=2, timeout_ms=300)
