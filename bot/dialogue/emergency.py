"""Emergencies first (issue 14): a crime in progress, violence, a medical emergency, a fire or a disaster gets
the emergency numbers at once, before consent, a pending question or a flow step.

The message is not filed. In a filing, the draft stays as it was (the message is not taken as an answer);
the citizen goes on with the next message, and a later emergency word in the same draft is taken as an
answer (someone describing a past fire to file about the fire brigade must not be stopped twice). Outside a filing the message is kept in the conversation state
and a button "file it as a report anyway" (``emergency:file``) starts a filing with it as the description
(consent is asked first when it was never given; the button is then replayed after it).
"""
from __future__ import annotations

from bot.dialogue import actions
from bot.dialogue.turn import Turn
from bot.nlu.emergency import detect

FILE_ANYWAY = "emergency:file"


async def handle(dlg, turn: Turn) -> bool:
    """True when this turn was an emergency (answered) or the "file it anyway" button."""
    if turn.msg.payload or not turn.text:
        return False
    kind = detect(turn.text)
    if kind is None:
        return False
    in_flow = bool(turn.state.get("flow"))
    if in_flow and turn.state.get("emergency_answered") == turn.state.get("draft_id"):
        return False  # answered once in this draft: the citizen who goes on is filing about it (no loop)
    if in_flow:
        turn.state["emergency_answered"] = turn.state.get("draft_id")
    choices = [] if in_flow else [(FILE_ANYWAY, "choice.tetap_lapor")]
    if not in_flow:
        turn.state["emergency"] = {"text": turn.text[:2000]}
    turn.say("emergency/numbers", choices, kind=kind, in_flow=in_flow)
    return True


async def file_anyway(dlg, turn: Turn, _arg: str = "") -> None:
    """The ``emergency:file`` button (a payload usable from anywhere; after consent it is replayed)."""
    held = (turn.state.pop("emergency", None) or {}).get("text")
    if turn.state.get("flow"):
        dlg.end_flow(turn)
    await actions.start_filing(dlg, turn, prefill_text=held)


def register(reg) -> None:
    """The "file it anyway" button works from anywhere (it names nothing, so it needs no guard)."""
    reg.payload(FILE_ANYWAY.split(":")[0], file_anyway)
