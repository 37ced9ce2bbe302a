"""Safety of commands (issue 14): an NLU intent never does something destructive on its own.

- Unsubscribe, cancel and delete-my-data always confirm (``outreach.subscriptions.ask_unsubscribe``,
  ``actions.cmd_cancel``, ``bot.privacy.chat.cmd_erase_data``); language switches come only from exact
  keywords (dialogues/keywords.yml) or the offer in ``bot.dialogue.language``.
- A command intent from the model (``berhenti``, ``batal``) on a message that also describes a problem
  ("kartu BPJS saya dinonaktifkan") is a complaint: a filing starts with the message as its description.
- "Stop for now, later" ("berhenti dulu ya nanti lanjut") is a pause: cancel-with-confirm inside a filing,
  never unsubscribe.
"""
from __future__ import annotations

import re

from bot.dialogue.turn import Turn
from bot.nlu.interpret import find_agencies
from bot.nlu.normalize import normalize

COMMAND_INTENTS = ("berhenti", "batal")
_PROBLEM = re.compile(
    r"\b(?:di)?nonaktif(?:kan)?\b|\bdiblokir\b|\bdicabut\b|\bditolak\b|\bdipersulit\b|\bdipecat\b|\bphk\b|"
    r"\brusak\b|\bberlubang\b|\bmati\b|\bpadam\b|\bbocor\b|\bmacet\b|\bbanjir\b|\bsampah\b|\blimbah\b|"
    r"\bpungli\b|\bpungutan\b|\bbelum (?:cair|dibayar|diproses|jadi|keluar|terbit|dapat)\b|\btidak (?:cair|bisa|"
    r"keluar|diproses|dilayani|berfungsi|jalan|ada (?:air|listrik))\b|\bkartu\b|\bktp\b|\bkk\b|\bbpjs\b|"
    r"\bkis\b|\bpkh\b|\bbansos\b|\bblt\b|\bsertifikat\b|\bizin\b|\bgaji\b|\bupah\b|\btagihan\b|\bsekolah\b|"
    r"\bjalan\b|\blistrik\b|\bair\b|\bsinyal\b|\bdeactivated\b|\bblocked\b|\bbroken\b|\brejected\b|\bnot paid\b|"
    r"\bcard\b|\binsurance\b|\bsalary\b|\bpermit\b|\broad\b",
    re.IGNORECASE)
_PAUSE = re.compile(
    r"^(?:berhenti|stop|udahan|cukup|pause|istirahat|break)\b.*\b(?:dulu|nanti|sebentar|bentar|besok|later|"
    r"lanjut|for now)\b|^(?:nanti|besok) (?:saja |aja |)(?:lanjut|dilanjut|diteruskan)|\blanjut(?:kan)? nanti\b|"
    r"^(?:continue|finish) later\b",
    re.IGNORECASE)


def describes_problem(text: str, it=None) -> bool:
    """The message names a problem, a public-service thing or an agency (not only a command)."""
    t = normalize(text)
    return bool(_PROBLEM.search(t) or find_agencies(t) or (it is not None and (it.locations or it.region)))


def is_pause(text: str) -> bool:
    return bool(_PAUSE.search(normalize(text).lower().strip()))


async def idle_intent(dlg, turn: Turn, it) -> bool:
    """Outside a flow: True when a command intent was re-read as a complaint or a pause (and answered)."""
    from bot.dialogue import actions

    if it.intent not in COMMAND_INTENTS:
        return False
    if is_pause(turn.text):
        turn.say("smalltalk/nothing_to_cancel", actions.MENU)
        return True
    if describes_problem(turn.text, it):
        await actions.start_filing(dlg, turn, prefill_text=turn.text)
        return True
    return False


async def pause_in_flow(dlg, turn: Turn) -> bool:
    """Inside a flow: "berhenti dulu, nanti lanjut" asks to confirm cancelling (the draft is kept on "no")."""
    from bot.dialogue import actions

    if turn.msg.payload or not turn.text or not is_pause(turn.text):
        return False
    await actions.cmd_cancel(dlg, turn)
    return True
