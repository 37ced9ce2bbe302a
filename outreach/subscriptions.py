"""Subscribing to and leaving LAPOR! outreach messages (keywords, deep-link codes, opt-out).

Plugged into the dialogue by ``register_dialogue(registry, out)`` (called at assembly by ``outreach.register``);
the dialogue never imports this module:
- command ``subscribe`` ("DAFTAR", "berlangganan", "DAFTAR CODE" — WhatsApp click-to-chat pre-filled text) and
  the default deep link (Telegram ``/start CODE``). A known code attributes the sign-up to its campaign and
  venue (segment, institution, region); the contact keeps language, source code, source and time.
- command ``unsubscribe`` ("BERHENTI", "STOP", "UNSUBSCRIBE"), the ``berhenti`` intent, and the pending question
  ``unsubscribe`` that confirms it; opting out is immediate (queued campaign messages to the contact are
  cancelled at once) and permanent until the contact subscribes again.
Every sign-up and opt-out is also appended to ``subscription_events`` (attribution per code and venue).
"""
from __future__ import annotations

import logging

from bot.dialogue.keywords import Keywords
from bot.dialogue.registry import DialogueAPI, Registry
from bot.dialogue.turn import Turn
from bot.messages import utcnow

log = logging.getLogger(__name__)

SUB_FIELDS = ("campaign", "venue", "segment", "institution", "region")


def _event(out, turn: Turn, kind: str, sub: dict) -> None:
    """Append to ``subscription_events`` once, after the turn saved."""
    contact, fields = dict(turn.contact), {k: sub.get(k) for k in ("code", "source", *SUB_FIELDS)}

    async def store() -> None:
        try:
            await out.events.append(contact, kind, fields)
        except Exception as exc:  # bookkeeping only: the subscription itself is saved with the turn
            log.warning("subscription event not stored: %s", type(exc).__name__)

    turn.effect(store)


async def subscribe(out, turn: Turn, code: str | None) -> None:
    """Opt in; ``code`` (from a deep link or 'DAFTAR CODE') attributes the sign-up to a campaign venue."""
    old = dict(turn.contact.get("subscription") or {})
    info = await out.codes.lookup(code) if code else None
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
        _event(out, turn, "subscribed", sub)
    turn.say("outreach/subscribed", sub=sub)


async def ask_unsubscribe(turn: Turn) -> None:
    turn.state["pending"] = {"kind": "unsubscribe"}
    turn.say("outreach/confirm_unsubscribe", [("choice:ya", "choice.ya_berhenti"), ("choice:tidak", "choice.tidak")])


async def cancel_queued(stores, out, contact_id) -> int:
    """Queued campaign messages to someone who just opted out are never sent."""
    n = await stores.messages.cancel_queued_campaign(contact_id, "opted_out")
    await out.deliveries.skip_pending_of_contact(contact_id, "opted_out")
    return n


async def confirm_unsubscribe(out, kw: Keywords, turn: Turn, pend: dict) -> bool:
    p = turn.msg.payload or ""
    yes = p == "choice:ya" or kw.is_yes(turn.text) or kw.command(turn.text) == "unsubscribe"
    no = p == "choice:tidak" or kw.is_no(turn.text)
    turn.state["pending"] = None
    if yes:
        sub = dict(turn.contact.get("subscription") or {})
        sub.update(status="opted_out", opted_out_at=utcnow())
        turn.set_contact(subscription=sub)
        stores, contact_id = turn.stores, turn.contact["_id"]

        async def opt_out() -> None:
            # written at once after the turn saved: a campaign sender checking this contact must see it
            await stores.contacts.update(contact_id, {"subscription": sub})
            await cancel_queued(stores, out, contact_id)

        turn.effect(opt_out)
        _event(out, turn, "opted_out", sub)
        turn.say("outreach/unsubscribed")
        return True
    if no:
        turn.say("outreach/still_subscribed")
        return True
    return False


def register_dialogue(registry: Registry, out) -> None:
    """Plug subscribing and leaving into the dialogue (idempotent: a second call replaces the handlers).
    ``out`` is outreach's stores (``outreach.dispatch.Outreach``: codes, events, deliveries)."""

    async def cmd_subscribe(dlg: DialogueAPI, turn: Turn, code: str = "") -> None:
        await subscribe(out, turn, (code or "").strip() or None)

    async def cmd_unsubscribe(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
        await ask_unsubscribe(turn)

    async def intent_unsubscribe(dlg: DialogueAPI, turn: Turn) -> None:
        await ask_unsubscribe(turn)

    async def pending_unsubscribe(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
        return await confirm_unsubscribe(out, dlg.kw, turn, pend)

    registry.command("subscribe", cmd_subscribe, with_argument=True, idle_only=True)
    registry.command("unsubscribe", cmd_unsubscribe, with_argument=True)
    registry.intent("berhenti", intent_unsubscribe)
    registry.pending("unsubscribe", pending_unsubscribe)
    registry.deep_link(cmd_subscribe)
