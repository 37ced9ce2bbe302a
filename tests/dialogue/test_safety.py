"""Safety of commands (issue 14): a command intent never swallows a complaint, and a pause is not unsubscribe."""
import pytest

from bot.dialogue.safety import describes_problem, is_pause
from tests.dialogue.conftest import start


@pytest.mark.parametrize("text", ["kartu BPJS saya dinonaktifkan", "KTP saya belum jadi", "stop pungli di kelurahan",
                                  "my insurance card was deactivated"])
def test_problems_are_seen_in_short_messages(text):
    assert describes_problem(text)


@pytest.mark.parametrize("text", ["berhenti", "stop", "unsubscribe", "berhenti langganan", "batal", "gak jadi"])
def test_bare_commands_are_not_problems(text):
    assert not describes_problem(text)


@pytest.mark.parametrize("text,pause", [("berhenti dulu ya nanti lanjut", True), ("stop dulu, besok lanjut", True),
                                        ("nanti aja lanjutnya", True), ("lanjut nanti", True),
                                        ("berhenti", False), ("stop", False), ("continue later", True)])
def test_pauses(text, pause):
    assert is_pause(text) is pause


async def test_deactivated_health_card_is_a_complaint_not_unsubscribe(rt):
    chat = await start(rt, "bpjs")
    await chat.send("kartu BPJS saya dinonaktifkan")
    st = await chat.state()
    assert "outreach/confirm_unsubscribe" not in chat.templates()
    assert st["flow"] == "filing" and st["slots"]["description"] == "kartu BPJS saya dinonaktifkan"
    assert (await chat.contact()).get("subscription", {}).get("status") != "unsubscribed"


async def test_stop_for_now_in_a_filing_asks_to_cancel_and_keeps_the_draft_on_no(rt):
    chat = await start(rt, "pause")
    await chat.send("lapor")
    await chat.send("pengaduan")
    await chat.send("berhenti dulu ya nanti lanjut")
    assert "filing/confirm_cancel" in chat.templates()
    assert "outreach/confirm_unsubscribe" not in chat.templates()
    await chat.send("tidak")
    assert (await chat.state())["flow"] == "filing"


async def test_bare_stop_still_confirms_before_unsubscribing(rt):
    chat = await start(rt, "stop")
    await chat.send("berhenti")
    assert "outreach/confirm_unsubscribe" in chat.templates()
