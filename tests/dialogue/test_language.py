"""The conversation follows the citizen's language (issue 14), through the engine."""
from tests.chat import Chat
from tests.dialogue.conftest import start

ENGLISH_FIRST = "I want to complain, the shop in Surabaya sold me expired milk and refused to refund"


async def test_a_new_contact_writing_english_is_answered_in_english(rt_plain):
    chat = Chat(rt_plain, "en-first")
    await chat.send(ENGLISH_FIRST)
    assert (await chat.contact())["language"] == "en"
    assert "welcome/first_contact" in chat.templates()
    en = rt_plain.engine.renderer.render("welcome/first_contact", "en", contact={})
    assert chat.last[-1].text.split()[:3] == en.split()[:3]
    await chat.send("yes")  # consent, then the first message is handled: a filing starts with it
    st = await chat.state()
    assert st["flow"] == "filing" and st["slots"]["description"] == ENGLISH_FIRST


async def test_an_existing_contact_is_offered_the_switch_and_the_message_is_kept(rt_plain):
    chat = await start(rt_plain, "en-switch")
    assert (await chat.contact())["language"] == "id"
    await chat.send("lapor")
    await chat.send("pengaduan")
    story = "The street lights on my road have been off for three weeks now"
    await chat.send(story)
    assert chat.templates() == ["language/offer"] and "lang:en" in chat.payloads()
    assert "description" not in (await chat.state())["slots"]
    await chat.send("ya")
    assert (await chat.contact())["language"] == "en"
    assert (await chat.state())["slots"]["description"] == story  # the kept message answered the step
    # offered once: more English does not ask again
    await chat.send("Jalan Merdeka in front of the market, Kota Kupang")
    assert "language/offer" not in chat.templates()


async def test_declining_the_switch_keeps_indonesian(rt_plain):
    chat = await start(rt_plain, "en-no")
    await chat.send("I would like to know how to get a birth certificate for my son")
    assert chat.templates() == ["language/offer"]
    await chat.send(payload="lang:id")
    assert (await chat.contact())["language"] == "id"
    assert "language/offer" not in chat.templates()
