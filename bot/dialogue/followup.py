"""After filing: supporting a similar report, adding information, rating, objecting (which reopens the report).

Who may do what is decided once, in the registry (payload guards) and ``access`` (owner vs supporter).
Every write here is a turn effect: applied once, after the conversation saved (see ``turn``).
"""
from __future__ import annotations

from bot import reports as domain
from bot.dialogue import access
from bot.dialogue.registry import DialogueAPI, Registry
from bot.dialogue.turn import Turn
from bot.messages import utcnow


def answer(dlg: DialogueAPI, turn: Turn, prefix: str) -> str | None:
    p = turn.msg.payload or ""
    if p.startswith(prefix):
        return p[len(prefix):]
    if p.startswith("choice:"):
        return p[len("choice:"):]
    if dlg.kw.is_yes_phrase(turn.text):  # "yes please", "ya dong"
        return "ya"
    if dlg.kw.is_no(turn.text):
        return "tidak"
    return None


# ------------------------------------------------------------------ support
async def support_report(dlg: DialogueAPI, turn: Turn, tracking_id: str) -> None:
    reports, contact_id = turn.stores.reports, turn.contact["_id"]
    report = await reports.get(tracking_id)
    added = report is not None and access.party_role(report, contact_id) is None

    async def add() -> None:
        await reports.add_supporter(tracking_id, contact_id)

    if added:
        turn.effect(add)
    if turn.state.get("flow"):
        dlg.end_flow(turn)
    turn.say("filing/supported", [(f"status:{tracking_id}", "choice.cek_status")], tracking_id=tracking_id, added=added)


async def pay_support(dlg: DialogueAPI, turn: Turn, arg: str) -> None:
    await support_report(dlg, turn, arg)


# ------------------------------------------------------------------ adding information
async def pay_addinfo(dlg: DialogueAPI, turn: Turn, arg: str) -> None:
    report = await turn.stores.reports.get(arg)
    owner = report is not None and access.role_in_turn(report, turn) in access.OWNERS
    if not owner or not domain.is_open(report["status"]):
        turn.say("tracking/cannot_add")
        return
    turn.state["pending"] = {"kind": "add_info", "tracking_id": arg}
    turn.say("followup/ask_info", tracking_id=arg)


async def add_info(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    media = [{"kind": m.kind, "mime_type": m.mime_type, "filename": m.filename, "size": m.size,
              "gridfs_id": m.gridfs_id, "ref": m.ref} for m in turn.msg.media]
    if not turn.text and not media:
        turn.say("followup/nothing_added")
        return True
    reports, tid, text = turn.stores.reports, pend["tracking_id"], turn.text

    async def add() -> None:
        await reports.add_info(tid, text, media)
        await reports.mark_citizen_update(tid, "info")  # the agency's inbox flags it

    turn.effect(add)
    turn.say("followup/added", tracking_id=tid)
    return True


# ------------------------------------------------------------------ rating and objection
async def start_rating(dlg: DialogueAPI, turn: Turn, tid: str, score: str) -> None:
    report = await turn.stores.reports.get(tid)
    owner = report is not None and access.role_in_turn(report, turn) in access.OWNERS
    if not owner or report["status"] != domain.SELESAI:
        turn.say("rating/not_possible")
        return
    if not (score.isascii() and score.isdigit()) or not 1 <= int(score) <= 5:
        turn.state["pending"] = {"kind": "rating", "tracking_id": tid}
        turn.say("rating/ask", [(f"rate:{tid}:{n}", str(n)) for n in range(1, 6)], tracking_id=tid)
        return
    n = int(score)
    _set_rating(turn, tid, n, None)
    if n <= 2:
        turn.state["pending"] = {"kind": "objection", "tracking_id": tid, "score": n}
        turn.say("rating/low", [("objection:ya", "choice.ajukan_keberatan"), ("objection:tidak", "choice.tidak")],
                 tracking_id=tid)
    else:
        turn.state["pending"] = {"kind": "rating_comment", "tracking_id": tid, "score": n}
        turn.say("rating/thanks", [("choice:lewati", "choice.lewati")])


def _set_rating(turn: Turn, tid: str, score: int, comment: str | None) -> None:
    reports = turn.stores.reports

    async def rate() -> None:
        await reports.set_rating(tid, score, comment)

    turn.effect(rate)


async def pay_rate(dlg: DialogueAPI, turn: Turn, arg: str) -> None:
    tid, _, score = arg.partition(":")
    await start_rating(dlg, turn, tid, score)


async def rating(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    t = turn.text.strip()
    if t.isdigit():
        await start_rating(dlg, turn, pend["tracking_id"], t)
        return True
    return False


async def rating_comment(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    turn.state["pending"] = None
    if turn.msg.payload == "choice:lewati" or dlg.kw.is_skip(turn.text) or not turn.text:
        turn.say("rating/done")
        return True
    _set_rating(turn, pend["tracking_id"], pend["score"], turn.text)
    turn.say("rating/done")
    return True


async def objection(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    ans = answer(dlg, turn, "objection:")
    if pend.get("asked_reason"):
        reason = turn.text
        turn.state["pending"] = None
        if not reason:
            turn.say("rating/done")
            return True
        _set_rating(turn, pend["tracking_id"], pend["score"], reason)
        turn.effect(_reopen(turn, pend["tracking_id"], reason))
        return True
    if ans == "ya":
        pend["asked_reason"] = True
        turn.say("rating/ask_reason")
        return True
    turn.state["pending"] = None
    turn.say("rating/done")
    return ans is not None


def _reopen(turn: Turn, tid: str, reason: str):
    """The objection's transition and notifications; its reply depends on the outcome, so the effect says it."""
    reports, lifecycle = turn.stores.reports, turn.ports.lifecycle

    async def reopen() -> None:
        try:
            report = await reports.transition(tid, domain.DITERUSKAN, actor="warga", note=reason, by_citizen=True,
                                              extra={"objection": {"reason": reason, "at": utcnow()}})
        except (domain.TransitionError, KeyError):
            turn.say("rating/objection_failed")
            return
        await reports.mark_citizen_update(tid, "objection")
        await lifecycle.on_transition(report, actor="warga")
        turn.say("rating/objection_sent", tracking_id=tid)

    return reopen


def register(reg: Registry) -> None:
    reg.payload("support", pay_support, guard=access.OFFERED_ONLY)
    reg.payload("addinfo", pay_addinfo, guard=access.REPORT)
    reg.payload("rate", pay_rate, guard=access.REPORT)
    for kind, handler in {"add_info": add_info, "rating": rating, "rating_comment": rating_comment,
                          "objection": objection}.items():
        reg.pending(kind, handler)
