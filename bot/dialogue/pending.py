"""Answers to a question the bot asked outside slot filling (consent, cancel?, resume?, tracking ID, similar…).

A pending handler returns True when the message was the answer; False lets the turn continue normally
(the question is dropped), so a person who ignores a question is never stuck. Handlers are registered by
kind in the dialogue's registry (``followup`` and feature packages register their own).
"""
from __future__ import annotations

from bot.dialogue import actions, followup, held_signup, repair
from bot.dialogue.registry import DialogueAPI, Registry
from bot.dialogue.turn import Turn
from bot.messages import utcnow
from bot.privacy.rights import forget_declined
from bot.tracking import find_in_text

CONSENT_CHOICES = [("consent:ya", "choice.setuju"), ("consent:tidak", "choice.tidak_setuju")]


async def consent(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    ans = followup.answer(dlg, turn, "consent:")
    if ans not in ("ya", "tidak"):
        # Not an answer: keep the newest message too, and ask once more.
        if not held_signup.hold(dlg, turn) and turn.text:  # a sign-up code is kept apart, never overwritten
            turn.state["held"] = {"text": turn.text, "payload": turn.msg.payload}
        repair.consent_again(turn)  # never the same question three times in a row
        return True
    turn.state["pending"] = None
    turn.set_contact(consent={"given": ans == "ya", "at": utcnow(), "basis": "UU 27/2022"})
    if ans == "tidak":
        turn.state[held_signup.KEY] = None  # a held sign-up code goes with the rest
        forget_declined(turn)  # only the opt-out stays
        turn.say("welcome/consent_declined")
        return True
    if not held_signup.subscribes(dlg, turn):  # the sign-up's own reply thanks the contact
        turn.say("welcome/consent_thanks")
    await actions.replay_held(dlg, turn)
    return True


async def confirm_cancel(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    ans = followup.answer(dlg, turn, "cancel:")
    turn.state["pending"] = None
    if ans == "ya":
        dlg.end_flow(turn)
        turn.say("filing/cancelled", actions.MENU)
        return True
    if ans == "tidak":
        turn.say("filing/continue")
        await dlg.ask_next(turn)
        return True
    return False


async def resume(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    ans = p[len("resume:"):] if p.startswith("resume:") else None
    if ans is None:
        if dlg.kw.is_yes(turn.text) or turn.text.lower() in ("lanjut", "lanjutkan", "continue"):
            ans = "lanjut"
        elif dlg.kw.is_no(turn.text) or turn.text.lower() in ("buang", "hapus", "discard"):
            ans = "buang"
    turn.state["pending"] = None
    if ans == "lanjut":
        await dlg.ask_next(turn)
        return True
    if ans == "buang":
        dlg.end_flow(turn)
        turn.say("filing/discarded", actions.MENU)
        return True
    dlg.end_flow(turn)  # a new topic: the old draft is dropped and the message handled fresh
    turn.say("filing/discarded_new_topic")
    return False


async def tracking_id(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    tid, err = find_in_text(turn.text) if turn.text else (None, None)
    if tid is None and err is None and turn.text:
        raw = turn.text.strip()
        if 6 <= len(raw.replace("-", "").replace(" ", "")) <= 8:
            tid, err = find_in_text("LPR-" + raw)
    turn.state["pending"] = None
    if tid or err:
        await actions.show_status(dlg, turn, tid, err, typed=True)
        return True
    return False


async def similar(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    choice = None
    if p.startswith("support:"):
        choice = p[len("support:"):]
    elif p == "similar:new" or dlg.kw.is_no(turn.text):
        choice = "new"
    elif turn.text.strip().isdigit():
        i = int(turn.text.strip()) - 1
        opts = pend.get("options") or []
        choice = opts[i] if 0 <= i < len(opts) else ("new" if i == len(opts) else None)
    if choice is None:
        return False
    turn.state["pending"] = None
    if choice == "new":
        turn.slots["similar_checked"] = True
        await dlg.ask_next(turn)
        return True
    await followup.support_report(dlg, turn, choice)
    return True


async def human_note(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    if not turn.text or turn.msg.payload:
        return False
    handoffs, contact_id, note = turn.stores.handoffs, turn.contact["_id"], turn.text

    async def add_note() -> None:
        await handoffs.open(contact_id, note)

    turn.effect(add_note)
    turn.say("human/noted")
    return True


async def volunteer_code(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    code = turn.text.strip().split()[-1] if turn.text.strip() else ""
    if not code or len(code) > 16:
        return False
    await actions.join_volunteer(dlg, turn, code)
    return True


def register(reg: Registry) -> None:
    for kind, handler in {"consent": consent, "confirm_cancel": confirm_cancel, "resume": resume,
                          "tracking_id": tracking_id, "similar": similar, "human_note": human_note,
                          "volunteer_code": volunteer_code}.items():
        reg.pending(kind, handler)


async def handle(dlg: DialogueAPI, turn: Turn) -> bool:
    """Answer the pending question if this message does; drop the question otherwise."""
    pend = turn.state.get("pending") or {}
    handler = dlg.registry.pendings.get(pend.get("kind"))
    if handler is None:
        turn.state["pending"] = None
        return False
    handled = await handler(dlg, turn, pend)
    if not handled and turn.state.get("pending") is pend:
        turn.state["pending"] = None
    return handled
