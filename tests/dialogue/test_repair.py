"""Repair, never loop (issue 14): a question is asked at most twice in a row, then the bot changes strategy.

Runs in degraded mode (no NLU): buttons, numbers and keywords only, the hardest case for understanding.
The autouse fixture in conftest.py also checks every conversation here for runs longer than two."""
from tests.dialogue.conftest import DEFAULTS, answer_until_filed, start, tracking_id

ENGLISH_YES = "yes that is fine, please send it"


async def _to_step(chat, slot: str, answers=None):
    for _ in range(12):
        st = await chat.state()
        if st.get("step") == slot:
            return
        await chat.send((answers or DEFAULTS)[st["step"]])
    raise AssertionError(f"never reached {slot}")


async def test_english_yes_at_the_agency_step_never_loops_and_the_report_is_filed(rt_plain):
    """The regression of the issue: twelve "Instansi itu belum ada" in a row, and no receipt."""
    chat = await start(rt_plain, "agency-yes")
    await chat.send("lapor")
    await _to_step(chat, "agency")
    for _ in range(12):
        if (await chat.state()).get("step") != "agency":
            break
        await chat.send(ENGLISH_YES)
    st = await chat.state()
    assert st["step"] != "agency" and "agency" in st["slots"]  # the yes-phrase was understood as yes
    assert chat.asked.count("filing/ask_agency") == 1
    suggested = (st["slots"].get("agency_suggestion") or {}).get("code")
    assert (st["slots"]["agency"] or {}).get("code") == suggested
    tid = await answer_until_filed(chat, dict(DEFAULTS))
    assert (await rt_plain.stores.reports.get(tid))["status"] == "diterima"


async def test_an_answer_missed_twice_at_the_agency_step_lets_staff_decide(rt_plain):
    chat = await start(rt_plain, "agency-miss")
    await chat.send("lapor")
    await _to_step(chat, "agency")
    for _ in range(12):
        if (await chat.state()).get("step") != "agency":
            break
        await chat.send("whatever you think works best")
    st = await chat.state()
    assert st["step"] != "agency" and st["slots"]["agency"] is None  # "biar petugas yang menentukan"
    assert chat.asked.count("filing/ask_agency") == 2 and "repair/default_taken" in chat.seen_templates
    tid = await answer_until_filed(chat, dict(DEFAULTS))
    assert (await rt_plain.stores.reports.get(tid))["agency_suggested"] is None


async def test_second_miss_on_a_choice_takes_the_safe_default_and_says_so(rt_plain):
    chat = await start(rt_plain, "privacy-miss")
    await chat.send("lapor")
    await _to_step(chat, "privacy")
    await chat.send("hmm entahlah")
    assert (await chat.state())["step"] == "privacy"
    await chat.send("terserah kalian saja")
    st = await chat.state()
    assert st["slots"]["privacy"] == "rahasia" and st["step"] != "privacy"
    assert "repair/default_taken" in chat.templates()


async def test_free_text_step_gives_an_example_then_takes_the_words(rt_plain):
    chat = await start(rt_plain, "desc-miss")
    await chat.send("lapor")
    await chat.send("pengaduan")
    assert (await chat.state())["step"] == "description"
    await chat.send("jalan")
    await chat.send("rusak")
    assert "repair/example" in chat.templates() and "cmd:human" in chat.payloads()
    await chat.send("jalan rusak")
    st = await chat.state()
    assert st["slots"]["description"] == "jalan rusak" and st["step"] != "description"
    assert chat.longest_repeat() <= 2


async def test_summary_alternates_strategies_and_a_person_can_be_reached(rt_plain):
    chat = await start(rt_plain, "summary-miss")
    await chat.send("lapor")
    await _to_step(chat, "confirmed")
    for _ in range(5):
        await chat.send("hmm")
    assert (await chat.state())["step"] == "confirmed"
    assert chat.longest_repeat() <= 2
    await chat.send("1")  # the numbered menu: 1 = send
    assert tracking_id(chat)


async def test_unknown_region_twice_leaves_it_to_staff(rt_plain):
    chat = await start(rt_plain, "region-miss")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send(DEFAULTS["description"])
    await chat.send("depan pasar lama")
    assert (await chat.state())["step"] == "region"
    await chat.send("pokoknya di situ")
    await chat.send("deket rumah saya")
    st = await chat.state()
    assert st["slots"].get("region", "missing") is None and st["step"] != "region"


async def test_particles_and_yang_match_choices(rt_plain):
    chat = await start(rt_plain, "particles")
    await chat.send("lapor")
    await chat.send("pengaduan dong")
    assert (await chat.state())["slots"]["type"] == "pengaduan"
    await _to_step(chat, "privacy")
    await chat.send("yang anonim dong")
    assert (await chat.state())["slots"]["privacy"] == "anonim"
    assert "errors/pick_a_choice" not in chat.templates()


async def test_status_right_after_the_receipt_needs_no_number(rt_plain):
    chat = await start(rt_plain, "one-report")
    await chat.send("lapor")
    tid = await answer_until_filed(chat, dict(DEFAULTS))
    await chat.send("cek status")
    assert "tracking/ask_id" not in chat.templates() and "tracking/status" in chat.templates()
    assert tid in " ".join(r.text for r in chat.last)


async def test_the_terms_question_is_never_asked_three_times_the_same_way(rt_plain):
    from tests.chat import Chat

    chat = Chat(rt_plain, "consent-miss")
    await chat.send("halo")
    for text in ("apa ini", "hmm", "gimana", "terus?", "entahlah"):
        await chat.send(text)
    assert chat.longest_repeat() <= 2 and "repair/consent_numbered" in chat.seen_templates
    assert (await chat.contact()).get("consent") is None  # never assumed
    await chat.send("1")
    assert (await chat.contact())["consent"]["given"] is True
