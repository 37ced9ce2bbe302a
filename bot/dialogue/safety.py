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


def idle_reading(turn: Turn, it) -> str | None:
    """Outside a flow, how to read a command intent: ``"pause"`` (nothing to cancel), ``"complaint"`` (the
    message describes a problem: file it) or None (as the NLU says)."""
    if it.intent not in COMMAND_INTENTS:
        return None
    if is_pause(turn.text):
        return "pause"
    if describes_problem(turn.text, it):
        return "complaint"
    return None


def pauses_flow(turn: Turn) -> bool:
    """Inside a flow: "berhenti dulu, nanti lanjut" is not an answer but a request to stop (confirmed first)."""
    return not turn.msg.payload and bool(turn.text) and is_pause(turn.text)
