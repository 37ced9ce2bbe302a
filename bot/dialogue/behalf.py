"""The person a volunteer filed for: their reports, once they prove they own the number the volunteer gave.

On WhatsApp and SMS the channel's user id is the phone number, so the channel proves it. On Telegram and the
web chat the person types the number ("verifikasi nomor" / "verify my number"), the bot sends a one-time code
to it by SMS (through the outbox, so only when some report was filed for that number) and the person types the
code back: ``CODE_TRIES`` tries, valid ``CODE_TTL``, at most ``CODES_PER_DAY`` codes per contact a day and as
many per number a day (every web chat visit is a new contact). The number is then kept on the contact as
``verified_phone``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta, timezone

from bot.dialogue.registry import DialogueAPI, Registry
from bot.dialogue.turn import Turn
from bot.messages import Identity, OutboundMessage, utcnow
from bot.phones import normalize_phone

PHONE_CHANNELS = ("whatsapp", "sms")  # channels whose user id is the phone number
CODE_TTL = timedelta(minutes=10)
CODE_TRIES = 3
CODES_PER_DAY = 3


def verified_phone(turn: Turn) -> str | None:
    """The E.164 number this contact has proved to own, or None."""
    ident = turn.msg.identity
    if ident.channel == "whatsapp":  # a wa_id is the number in international form without "+"
        return normalize_phone("+" + ident.user_id.lstrip("+"))
    if ident.channel == "sms":
        return normalize_phone(ident.user_id)
    return turn.contact.get("verified_phone")


def filed_for(report: dict, phone: str | None) -> bool:
    ob = report.get("on_behalf") or {}
    return bool(phone and ob.get("phone") and normalize_phone(ob["phone"]) == phone)


async def reports_for(turn: Turn, limit: int = 5) -> list[dict]:
    """Reports a volunteer filed for this contact's proved number (newest first)."""
    phone = verified_phone(turn)
    if not phone:
        return []
    return await turn.stores.reports.filed_for(phone, limit)


def offer(turn: Turn) -> list[tuple[str, str]]:
    """The "verify my number" button under "my reports" where the channel does not prove a number."""
    if turn.msg.identity.channel in PHONE_CHANNELS or turn.contact.get("verified_phone"):
        return []
    return [("cmd:verify_phone", "choice.verifikasi_nomor")]


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


# ------------------------------------------------------------------ verification dialogue
async def cmd_verify(dlg: DialogueAPI, turn: Turn, _arg: str = "") -> None:
    if turn.msg.identity.channel in PHONE_CHANNELS:
        turn.say("behalf/phone_channel")
        return
    turn.state["pending"] = {"kind": "behalf_phone"}
    turn.say("behalf/ask_phone")


async def got_phone(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    phone = normalize_phone(turn.text) or (normalize_phone(turn.msg.contact.phone) if turn.msg.contact else None)
    if phone is None:
        turn.state["pending"] = None
        turn.say("behalf/bad_phone")
        return True
    now = utcnow()
    sent = [t for t in (turn.state.get("behalf_codes") or []) if now - _aware(t) < timedelta(days=1)]
    if len(sent) >= CODES_PER_DAY:
        turn.state["pending"] = None
        turn.say("behalf/too_many")
        return True
    code = f"{secrets.randbelow(10**6):06d}"
    turn.state["behalf_codes"] = sent + [now]
    turn.state["pending"] = {"kind": "behalf_code", "phone": phone, "digest": _digest(code),
                             "expires": now + CODE_TTL, "tries": 0}
    stores, renderer, lang = turn.stores, turn.ports.renderer, turn.lang
    minutes = int(CODE_TTL.total_seconds() // 60)

    async def send_code() -> None:
        if not await stores.reports.any_filed_for(phone):
            return  # nobody filed for this number: no SMS (same reply, so nothing is revealed)
        sent = await stores.messages.count_sent_since("sms", phone, "behalf/code_sms", utcnow() - timedelta(days=1))
        if sent >= CODES_PER_DAY:
            return  # the number's daily allowance is used: no SMS bombing through fresh visits
        text = renderer.render("behalf/code_sms", lang, code=code, minutes=minutes)
        await stores.messages.queue([OutboundMessage(identity=Identity("sms", phone), text=text, kind="notification",
                                                     template="behalf/code_sms", priority=0)])

    turn.effect(send_code)
    turn.say("behalf/code_sent", minutes=minutes)
    return True


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


async def got_code(dlg: DialogueAPI, turn: Turn, pend: dict) -> bool:
    typed = "".join(ch for ch in turn.text if ch.isdigit())
    if not typed:
        return False  # not an answer: the dialogue routes it as usual
    if utcnow() > _aware(pend["expires"]):
        turn.state["pending"] = None
        turn.say("behalf/code_expired")
        return True
    if hmac.compare_digest(_digest(typed), pend["digest"]):
        turn.state["pending"] = None
        turn.set_contact(verified_phone=pend["phone"])
        turn.say("behalf/verified")
        await dlg.registry.commands["my_reports"].handler(dlg, turn, "")  # their list, now with those reports
        return True
    pend["tries"] = pend.get("tries", 0) + 1
    if pend["tries"] >= CODE_TRIES:
        turn.state["pending"] = None
        turn.say("behalf/code_locked")
    else:
        turn.say("behalf/code_wrong", count=CODE_TRIES - pend["tries"])
    return True


def register(reg: Registry) -> None:
    reg.command("verify_phone", cmd_verify, idle_only=True)
    reg.pending("behalf_phone", got_phone)
    reg.pending("behalf_code", got_code)
