"""The data-rights commands in the dialogue (console identity, NLU off): English words, inside a draft,
a non-answer drops the question, and an erased contact's next message starts over."""
from tests.chat import Chat
from tests.fixtures.fakes import wait_until


async def _consented(rt, user, name="Dewi Lestari"):
    chat = Chat(rt, user=user, name=name)
    await chat.send("halo")
    await chat.send("ya", payload="consent:ya")
    return chat


async def test_english_my_data_and_a_non_answer_keeps_everything(make_runtime):
    rt = await make_runtime()
    chat = await _consented(rt, "p1")
    await chat.send("english")
    out = await chat.send("my data")
    assert chat.templates() == ["privacy/my_data"] and "Dewi Lestari" in out[0].text and "p1" not in out[0].text
    await chat.send("delete my data")
    assert chat.payloads() == ["erase:ya", "erase:tidak"]
    await chat.send("help")  # not an answer: the question is dropped, nothing erased
    assert "privacy/erased" not in chat.templates()
    assert await chat.contact() is not None and (await chat.state())["pending"] is None


async def test_erase_inside_a_draft_then_a_fresh_start(make_runtime):
    rt = await make_runtime()
    chat = await _consented(rt, "p2")
    await chat.send("lapor")
    await chat.choose(1)
    await chat.send("Lampu jalan di gang Kenanga mati sebulan")
    old = await chat.contact()
    assert (await chat.state())["flow"] == "filing"
    await chat.send("hapus data saya")
    assert chat.templates() == ["privacy/confirm_erase"]
    await chat.send("ya")
    assert chat.templates() == ["privacy/erased"]
    assert await chat.contact() is None

    async def purged():
        left = await rt.stores.messages.col.count_documents({"contact_id": old["_id"]})
        conv = await rt.stores.conversations.stored(old["_id"])
        return left == 0 and conv is None and not await rt.stores.db["erasures"].find_one({"_id": old["_id"]})

    await wait_until(purged, timeout=30, interval=0.1)
    await chat.send("halo")
    assert chat.templates() == ["welcome/first_contact"]
    assert (await chat.contact())["_id"] != old["_id"]
