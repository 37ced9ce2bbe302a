"""Repair, never loop: the same question is asked at most twice in a row.

The runtime calls ``on_miss`` when the answer to a flow step could not be used. The first miss keeps
the normal behaviour (say why, ask again). From the second miss on the bot changes strategy and says so:

- a step with a sensible default takes it (agency and region: staff decide; date and attachments: none;
  privacy: *rahasia*, the most protective; type: *pengaduan*; category: *lainnya*), and the flow moves on;
  the summary lets the citizen change it before sending;
- a free-text step gets an example answer and a "talk to a person" button; from the third miss the text
  is taken as it is (description, place, name) so the report can still be filed;
- the summary alternates a numbered menu and the offer of a person;
- the volunteer's consent question never defaults (consent is never assumed): the report for another
  person is stopped;
- the terms question for a new contact (``consent_again``) alternates its usual wording with a numbered one
  that also offers a person; consent is never assumed.

The miss count lives in the conversation state (``repair``) and is cleared when a step is answered.
"""
from __future__ import annotations

from bot.dialogue.turn import Turn

# slot -> the value taken on the second miss.
DEFAULTS = {"agency": None, "region": None, "incident_date": None, "attachments": [], "privacy": "rahasia",
            "type": "pengaduan", "category": "lainnya"}
# Free-text steps whose answer is taken as written from the third miss.
TAKE_AS_IS = {"description", "location", "on_behalf_name"}
HUMAN = ("cmd:human", "choice.bicara_petugas")


def misses(turn: Turn, slot: str) -> int:
    rep = turn.state.get("repair") or {}
    return rep.get("misses", 0) if rep.get("slot") == slot else 0


def clear(turn: Turn) -> None:
    turn.state.pop("repair", None)


def _count(turn: Turn, slot: str) -> int:
    n = misses(turn, slot) + 1
    turn.state["repair"] = {"slot": slot, "misses": n}
    return n


async def on_miss(dlg, turn: Turn, step, flow) -> bool:
    """Count a miss at ``step``; True when a repair strategy answered (the caller then stops)."""
    n = _count(turn, step.slot)
    if n < 2:
        return False
    slot = step.slot
    if slot in DEFAULTS:
        value = DEFAULTS[slot]
        turn.slots[slot] = list(value) if isinstance(value, list) else value
        turn.slots.pop("region_candidates", None) if slot == "region" else None
        turn.slots.pop("agency_options", None) if slot == "agency" else None
        clear(turn)
        turn.say("repair/default_taken", slot=slot, value=value)
        await dlg.ask_next(turn)
        return True
    if slot == "on_behalf_consent":
        dlg.end_flow(turn)
        clear(turn)
        turn.say("repair/consent_not_assumed", [HUMAN])
        return True
    if slot == "confirmed":
        if n % 2 == 0:
            turn.say("repair/summary_numbered", [("confirm", "choice.kirim"), ("edit:description", "edit.description"),
                                                 ("edit:location", "edit.location"),
                                                 ("edit:privacy", "edit.privacy")])
        else:
            turn.say("repair/summary_person", [("confirm", "choice.kirim"), HUMAN])
        return True
    text = " ".join(turn.text.split())
    if n >= 3 and slot in TAKE_AS_IS and text:
        clear(turn)
        value = {"text": text[:200]} if slot == "location" else text[:80] if slot == "on_behalf_name" else text
        turn.slots[slot] = value
        turn.say("repair/taken_as_written", slot=slot)
        await dlg.ask_next(turn)
        return True
    if n >= 3 and slot == "on_behalf_phone":
        clear(turn)
        turn.slots[slot] = None
        turn.say("repair/default_taken", slot=slot, value=None)
        await dlg.ask_next(turn)
        return True
    turn.say("repair/example", [HUMAN], slot=slot)
    return True


def consent_again(turn: Turn) -> None:
    """The consent question again: the usual wording, then alternately a numbered one with a person to ask."""
    n = misses(turn, "_consent") + 1
    turn.state["repair"] = {"slot": "_consent", "misses": n}
    choices = [("consent:ya", "choice.setuju"), ("consent:tidak", "choice.tidak_setuju")]
    if n % 2:
        turn.say("welcome/consent_again", choices)
    else:
        turn.say("repair/consent_numbered", choices + [HUMAN])


def longest_repeat(questions: list[str | None]) -> int:
    """Longest run of the same question asked on consecutive turns (``None``: no question that turn)."""
    best = run = 0
    prev = None
    for q in questions:
        run = run + 1 if q is not None and q == prev else (1 if q is not None else 0)
        prev = q
        best = max(best, run)
    return best
