import re

import pytest

from tests.chat import Chat

TID = re.compile(r"LPR-[0-9A-Z]{7}")


# Measured over every scripted conversation and printed at the end of the run (see pytest_terminal_summary).
METRICS = {"questions_to_file": [], "turns": 0, "nlu_turns": 0, "longest_repeat": 0, "chats": 0}
MAX_REPEAT = 2  # issue 14: no question asked more than twice in a row


@pytest.fixture(autouse=True)
def no_question_asked_three_times():
    """Every scripted conversation: the longest run of the same question is at most MAX_REPEAT."""
    Chat.made.clear()
    yield
    runs = [c.longest_repeat() for c in Chat.made]
    METRICS["chats"] += len(runs)
    METRICS["longest_repeat"] = max([METRICS["longest_repeat"], *runs])
    worst = max(runs, default=0)
    assert worst <= MAX_REPEAT, [c.asked for c in Chat.made if c.longest_repeat() == worst][0]


@pytest.fixture
async def rt(make_runtime, rasa_url):
    """A runtime with the real trained Rasa model behind the NLU client."""
    runtime = await make_runtime(nlu_url=rasa_url)
    yield runtime
    METRICS["turns"] += runtime.engine.metrics["turns"]
    METRICS["nlu_turns"] += runtime.engine.metrics["nlu_turns"]


@pytest.fixture
async def rt_plain(make_runtime):
    """A runtime whose NLU is off (degraded mode): buttons, numbers and keywords only."""
    return await make_runtime()


def pytest_terminal_summary(terminalreporter):
    if METRICS["chats"]:
        terminalreporter.write_line(f"dialogue metrics: {METRICS['chats']} conversations, longest run of the same "
                                    f"question {METRICS['longest_repeat']} (at most {MAX_REPEAT} allowed)")
    if METRICS.get("scripted"):
        done, total = METRICS["scripted"]
        terminalreporter.write_line(f"dialogue metrics: messy/English scripted conversations completed {done} of {total}")
    q = sorted(METRICS["questions_to_file"])
    if not q or not METRICS["turns"]:
        return
    median = q[len(q) // 2] if len(q) % 2 else (q[len(q) // 2 - 1] + q[len(q) // 2]) / 2
    terminalreporter.write_line(
        f"dialogue metrics: {len(q)} filings, bot questions to file median {median}, worst {q[-1]}; "
        f"{METRICS['turns']} turns, {METRICS['nlu_turns']} called the NLU, "
        f"{METRICS['turns'] - METRICS['nlu_turns']} answered without it")


async def start(rt, user="w1", channel="console", first="halo"):
    chat = Chat(rt, user, channel)
    await chat.send(first)
    await chat.send("ya")
    return chat


def tracking_id(chat) -> str | None:
    for r in chat.last:
        m = TID.search(r.text)
        if m:
            return m.group(0)
    return None


async def answer_until_filed(chat, answers: dict, limit: int = 15) -> str:
    """Answer whatever the bot asks from ``answers`` (keyed by the step's slot) until a receipt arrives.

    Returns the tracking id. Counts questions in ``chat.questions``.
    """
    chat.questions = getattr(chat, "questions", 0)
    for _ in range(limit):
        tid = tracking_id(chat)
        if tid and "filing/receipt" in chat.templates():
            asked = [t for t in chat.seen_templates if t.startswith("filing/ask") or t == "filing/summary"]
            METRICS["questions_to_file"].append(len(asked))
            chat.seen_templates.clear()
            return tid
        state = await chat.state()
        step = state.get("step")
        chat.questions += 1
        if step not in answers:
            raise AssertionError(f"unexpected question for {step}: {chat.templates()} {chat.last[-1].text!r}")
        ans = answers[step]
        if isinstance(ans, dict):
            await chat.send(**ans)
        else:
            await chat.send(ans)
    raise AssertionError("not filed after %d answers" % limit)


async def steps_asked_until_filed(chat, answers: dict | None = None) -> set[str]:
    """Answer with DEFAULTS until the flow ends; the set of steps the bot asked."""
    asked = set()
    for _ in range(12):
        st = await chat.state()
        if not st.get("flow"):
            break
        asked.add(st["step"])
        await chat.send((answers or DEFAULTS)[st["step"]])
    return asked


DEFAULTS = {
    "type": "pengaduan", "description": "Jalan di depan pasar berlubang besar dan sering bikin motor jatuh",
    "location": "Jl. Ahmad Yani, Kota Kendari", "region": "1", "incident_date": "kemarin", "category": "1",
    "agency": "1", "attachments": "lewati", "privacy": "rahasia", "confirmed": "kirim",
    "on_behalf_name": "Siti Aminah", "on_behalf_phone": "081234567890", "on_behalf_consent": "ya",
}
