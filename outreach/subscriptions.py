"""Subscribing to and leaving LAPOR! outreach messages (keywords, deep-link codes, opt-out)."""
from __future__ import annotations

from bot.messages import utcnow


async def subscribe(dlg, turn, code: str | None) -> None:
    """Opt in; ``code`` (from a deep link or 'DAFTAR CODE') attributes the sign-up to a campaign venue."""
    sub = {"status": "subscribed", "since": utcnow(), "code": code, "segment": "umum"}
    codes = turn.engine.services.get("campaign_codes")
    if code and codes:
        info = await codes.lookup(code)
        if info:
            sub.update({k: info.get(k) for k in ("campaign", "venue", "segment", "institution", "region") if info.get(k)})
    turn.set_contact(subscription=sub)
    turn.say("outreach/subscribed", sub=sub)


async def ask_unsubscribe(dlg, turn) -> None:
    turn.state["pending"] = {"kind": "unsubscribe"}
    turn.say("outreach/confirm_unsubscribe", [("choice:ya", "choice.ya_berhenti"), ("choice:tidak", "choice.tidak")])


async def confirm_unsubscribe(dlg, turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    yes = p == "choice:ya" or dlg.kw.is_yes(turn.text) or dlg.kw.command(turn.text) == "unsubscribe"
    no = p == "choice:tidak" or dlg.kw.is_no(turn.text)
    turn.state["pending"] = None
    if yes:
        sub = dict(turn.contact.get("subscription") or {})
        sub.update(status="opted_out", opted_out_at=utcnow())
        turn.set_contact(subscription=sub)
        turn.say("outreach/unsubscribed")
        return True
    if no:
        turn.say("outreach/still_subscribed")
        return True
    return False
