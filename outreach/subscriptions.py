"""Subscribing to and leaving LAPOR! outreach messages (keywords, deep-link codes, opt-out).

Entry points called by the dialogue (signatures fixed):
- ``subscribe(dlg, turn, code)``: "DAFTAR", "berlangganan", "DAFTAR CODE" (WhatsApp click-to-chat pre-filled
  text) and the Telegram deep link ``/start CODE``. A known code attributes the sign-up to its campaign and
  venue (segment, institution, region); the contact keeps language, source code, source and time.
- ``ask_unsubscribe`` / ``confirm_unsubscribe``: "BERHENTI", "STOP", "UNSUBSCRIBE" or the ``berhenti`` intent,
  confirmed; opting out is immediate (queued campaign messages to the contact are cancelled at once) and
  permanent until the contact subscribes again.
Every sign-up and opt-out is also appended to ``subscription_events`` (attribution per code and venue).
"""
from __future__ import annotations

import logging

from bot.messages import utcnow

log = logging.getLogger(__name__)

SUB_FIELDS = ("campaign", "venue", "segment", "institution", "region")


def _codes(turn):
    codes = turn.engine.services.get("campaign_codes")
    if codes is None:  # outreach not installed on this runtime: read the collection directly
        from outreach.codes import CampaignCodes

        codes = CampaignCodes(turn.engine.stores.contacts.col.database)
        turn.engine.services["campaign_codes"] = codes
    return codes


async def _event(turn, kind: str, sub: dict) -> None:
    try:
        await turn.engine.stores.contacts.col.database["subscription_events"].insert_one({
            "contact_id": turn.contact["_id"], "channel": turn.contact.get("channel"), "event": kind,
            "at": utcnow(), **{k: sub.get(k) for k in ("code", "source", *SUB_FIELDS)}})
    except Exception as exc:  # bookkeeping only: the subscription itself is saved with the turn
        log.warning("subscription event not stored: %s", type(exc).__name__)


async def subscribe(dlg, turn, code: str | None) -> None:
    """Opt in; ``code`` (from a deep link or 'DAFTAR CODE') attributes the sign-up to a campaign venue."""
    old = dict(turn.contact.get("subscription") or {})
    info = await _codes(turn).lookup(code) if code else None
    now = utcnow()
    if old.get("status") == "subscribed" and (not info or info["code"] == old.get("code")):
        sub = old  # already in (or the same code again): the original attribution and date, counted once
    else:
        sub = {"status": "subscribed", "since": now, "segment": "umum", "campaign": None, "venue": None,
               "institution": None, "region": None}
        if info:
            sub.update({k: info.get(k) for k in SUB_FIELDS if info.get(k)})
        sub.update(code=info["code"] if info else None, source_code=(code or None),
                   source="deep_link" if turn.msg.start_param else "keyword",
                   language=turn.lang, opted_out_at=None)
        turn.set_contact(subscription=sub, reachable=True)
        await _event(turn, "subscribed", sub)
    turn.say("outreach/subscribed", sub=sub)


async def ask_unsubscribe(dlg, turn) -> None:
    turn.state["pending"] = {"kind": "unsubscribe"}
    turn.say("outreach/confirm_unsubscribe", [("choice:ya", "choice.ya_berhenti"), ("choice:tidak", "choice.tidak")])


async def cancel_queued(stores_db, contact_id) -> int:
    """Queued campaign messages to someone who just opted out are never sent."""
    res = await stores_db["messages"].update_many(
        {"contact_id": contact_id, "status": "queued", "campaign": {"$type": "string"}},
        {"$set": {"status": "failed", "failure_reason": "opted_out", "failed_at": utcnow()}})
    await stores_db["campaign_deliveries"].update_many(
        {"contact_id": contact_id, "status": "pending"},
        {"$set": {"status": "skipped", "reason": "opted_out", "skipped_at": utcnow()}})
    return res.modified_count


async def confirm_unsubscribe(dlg, turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    yes = p == "choice:ya" or dlg.kw.is_yes(turn.text) or dlg.kw.command(turn.text) == "unsubscribe"
    no = p == "choice:tidak" or dlg.kw.is_no(turn.text)
    turn.state["pending"] = None
    if yes:
        sub = dict(turn.contact.get("subscription") or {})
        sub.update(status="opted_out", opted_out_at=utcnow())
        turn.set_contact(subscription=sub)
        db = turn.engine.stores.contacts.col.database
        # write now rather than with the turn: a campaign sender checking this contact must see it at once
        await turn.engine.stores.contacts.update(turn.contact["_id"], {"subscription": sub})
        await cancel_queued(db, turn.contact["_id"])
        await _event(turn, "opted_out", sub)
        turn.say("outreach/unsubscribed")
        return True
    if no:
        turn.say("outreach/still_subscribed")
        return True
    return False
