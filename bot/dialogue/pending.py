"""Answers to a question the bot asked outside slot filling (consent, cancel?, resume?, rating…).

``handle`` returns True when the message was the answer; False lets the turn continue normally
(the question is dropped), so a person who ignores a question is never stuck.
"""
from __future__ import annotations

from bot import reports as domain
from bot.dialogue import actions, held_signup
from bot.dialogue.turn import Turn
from bot.messages import utcnow
from bot.privacy import chat as privacy_chat
from bot.tracking import find_in_text


def _answer(dlg, turn: Turn, prefix: str) -> str | None:
    p = turn.msg.payload or ""
    if p.startswith(prefix):
        return p[len(prefix):]
    if p.startswith("choice:"):
        return p[len("choice:"):]
    if dlg.kw.is_yes(turn.text):
        return "ya"
    if dlg.kw.is_no(turn.text):
        return "tidak"
    return None


async def consent(dlg, turn: Turn, pend: dict) -> bool:
    ans = _answer(dlg, turn, "consent:")
    if ans not in ("ya", "tidak"):
        # Not an answer: keep the newest message too, and ask once more.
        if not held_signup.hold(dlg, turn) and turn.text:  # a sign-up code is kept apart, never overwritten
            turn.state["held"] = {"text": turn.text, "payload": turn.msg.payload}
        turn.say("welcome/consent_again", [("consent:ya", "choice.setuju"), ("consent:tidak", "choice.tidak_setuju")])
        return True
    turn.state["pending"] = None
    turn.set_contact(consent={"given": ans == "ya", "at": utcnow(), "basis": "UU 27/2022"})
    if ans == "tidak":
        turn.state[held_signup.KEY] = None  # a held sign-up code goes with the rest
        await privacy_chat.forget_declined(turn)  # only the opt-out stays
        turn.say("welcome/consent_declined")
        return True
    turn.say("welcome/consent_thanks")
    await actions.replay_held(dlg, turn)
    return True


async def confirm_cancel(dlg, turn: Turn, pend: dict) -> bool:
    ans = _answer(dlg, turn, "cancel:")
    turn.state["pending"] = None
    if ans == "ya":
        dlg.end_flow(turn)
        turn.say("filing/cancelled", actions.MENU)
        return True
    if ans == "tidak":
        turn.say("filing/continue")
        await dlg.ask_next(turn, dlg.flows[turn.state["flow"]])
        return True
    return False


async def resume(dlg, turn: Turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    ans = p[len("resume:"):] if p.startswith("resume:") else None
    if ans is None:
        if dlg.kw.is_yes(turn.text) or turn.text.lower() in ("lanjut", "lanjutkan", "continue"):
            ans = "lanjut"
        elif dlg.kw.is_no(turn.text) or turn.text.lower() in ("buang", "hapus", "discard"):
            ans = "buang"
    turn.state["pending"] = None
    if ans == "lanjut":
        await dlg.ask_next(turn, dlg.flows[turn.state["flow"]])
        return True
    if ans == "buang":
        dlg.end_flow(turn)
        turn.say("filing/discarded", actions.MENU)
        return True
    dlg.end_flow(turn)  # a new topic: the old draft is dropped and the message handled fresh
    turn.say("filing/discarded_new_topic")
    return False


async def tracking_id(dlg, turn: Turn, pend: dict) -> bool:
    tid, err = find_in_text(turn.text) if turn.text else (None, None)
    if tid is None and err is None and turn.text:
        raw = turn.text.strip()
        if 6 <= len(raw.replace("-", "").replace(" ", "")) <= 8:
            tid, err = find_in_text("LPR-" + raw)
    turn.state["pending"] = None
    if tid or err:
        await actions.show_status(dlg, turn, tid, err)
        return True
    return False


async def similar(dlg, turn: Turn, pend: dict) -> bool:
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
        await dlg.ask_next(turn, dlg.flows[turn.state["flow"]])
        return True
    await support_report(dlg, turn, choice)
    return True


async def support_report(dlg, turn: Turn, tracking_id: str) -> None:
    added = await turn.engine.stores.reports.add_supporter(tracking_id, turn.contact["_id"])
    if turn.state.get("flow"):
        dlg.end_flow(turn)
    turn.say("filing/supported", [(f"status:{tracking_id}", "choice.cek_status")], tracking_id=tracking_id, added=added)


async def add_info(dlg, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    media = [{"kind": m.kind, "mime_type": m.mime_type, "filename": m.filename, "size": m.size,
              "gridfs_id": m.gridfs_id, "ref": m.ref} for m in turn.msg.media]
    if not turn.text and not media:
        turn.say("followup/nothing_added")
        return True
    await turn.engine.stores.reports.add_info(pend["tracking_id"], turn.text, media)
    turn.say("followup/added", tracking_id=pend["tracking_id"])
    return True


async def start_rating(dlg, turn: Turn, tid: str, score: str) -> None:
    report = await turn.engine.stores.reports.get(tid)
    if report is None or not actions.is_party(report, turn.contact["_id"]) or report["status"] != domain.SELESAI:
        turn.say("rating/not_possible")
        return
    if not score.isdigit() or not 1 <= int(score) <= 5:
        turn.state["pending"] = {"kind": "rating", "tracking_id": tid}
        turn.say("rating/ask", [(f"rate:{tid}:{n}", str(n)) for n in range(1, 6)], tracking_id=tid)
        return
    n = int(score)
    await turn.engine.stores.reports.set_rating(tid, n, None)
    if n <= 2:
        turn.state["pending"] = {"kind": "objection", "tracking_id": tid, "score": n}
        turn.say("rating/low", [("objection:ya", "choice.ajukan_keberatan"), ("objection:tidak", "choice.tidak")],
                 tracking_id=tid)
    else:
        turn.state["pending"] = {"kind": "rating_comment", "tracking_id": tid, "score": n}
        turn.say("rating/thanks", [("choice:lewati", "choice.lewati")])


async def rating(dlg, turn: Turn, pend: dict) -> bool:
    t = turn.text.strip()
    if t.isdigit():
        await start_rating(dlg, turn, pend["tracking_id"], t)
        return True
    return False


async def rating_comment(dlg, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    if turn.msg.payload == "choice:lewati" or dlg.kw.is_skip(turn.text) or not turn.text:
        turn.say("rating/done")
        return True
    await turn.engine.stores.reports.set_rating(pend["tracking_id"], pend["score"], turn.text)
    turn.say("rating/done")
    return True


async def objection(dlg, turn: Turn, pend: dict) -> bool:
    ans = _answer(dlg, turn, "objection:")
    if pend.get("asked_reason"):
        reason = turn.text
        turn.state["pending"] = None
        if not reason:
            turn.say("rating/done")
            return True
        await turn.engine.stores.reports.set_rating(pend["tracking_id"], pend["score"], reason)
        try:
            report = await turn.engine.stores.reports.transition(
                pend["tracking_id"], domain.DITERUSKAN, actor="warga", note=reason, by_citizen=True,
                extra={"objection": {"reason": reason, "at": utcnow()}})
        except (domain.TransitionError, KeyError):
            turn.say("rating/objection_failed")
            return True
        hook = turn.engine.services.get("on_transition")
        if hook:
            await hook(report, actor="warga")
        turn.say("rating/objection_sent", tracking_id=pend["tracking_id"])
        return True
    if ans == "ya":
        pend["asked_reason"] = True
        turn.say("rating/ask_reason")
        return True
    turn.state["pending"] = None
    turn.say("rating/done")
    return ans is not None


async def human_note(dlg, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    if not turn.text or turn.msg.payload:
        return False
    await turn.engine.stores.handoffs.open(turn.contact["_id"], turn.text)
    turn.say("human/noted")
    return True


async def volunteer_code(dlg, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    code = turn.text.strip().split()[-1] if turn.text.strip() else ""
    if not code or len(code) > 16:
        return False
    await actions.join_volunteer(dlg, turn, code)
    return True


async def unsubscribe_confirm(dlg, turn: Turn, pend: dict) -> bool:
    from outreach.subscriptions import confirm_unsubscribe

    return await confirm_unsubscribe(dlg, turn, pend)


HANDLERS = {
    "consent": consent, "confirm_cancel": confirm_cancel, "resume": resume, "tracking_id": tracking_id,
    "similar": similar, "add_info": add_info, "rating": rating, "rating_comment": rating_comment,
    "objection": objection, "human_note": human_note, "volunteer_code": volunteer_code,
    "unsubscribe": unsubscribe_confirm, **privacy_chat.PENDING,
}


async def handle(dlg, turn: Turn) -> bool:
    pend = turn.state.get("pending") or {}
    handler = HANDLERS.get(pend.get("kind"))
    if handler is None:
        turn.state["pending"] = None
        return False
    handled = await handler(dlg, turn, pend)
    if not handled and turn.state.get("pending") is pend:
        turn.state["pending"] = None
    return handled
