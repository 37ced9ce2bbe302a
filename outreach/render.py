"""Rendering campaign texts for one contact, and the checks preview runs before anything is sent."""
from __future__ import annotations

import math

from jinja2 import UndefinedError
from jinja2.exceptions import SecurityError

from outreach import sandbox

# GSM 03.38 basic set; the extension characters cost two septets
GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                 "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("^{}\\[~]|€\f")
LIMITS = {"telegram": 4096, "whatsapp": 4096, "sms": 1600}


def sms_info(text: str) -> dict:
    """Encoding, length in units and number of segments of an SMS."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXT for ch in text):
        units = sum(2 if ch in GSM7_EXT else 1 for ch in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
        single, multi, enc = 70, 67, "UCS-2"
    segments = 1 if units <= single else math.ceil(units / multi)
    return {"encoding": enc, "units": units, "segments": segments, "single_limit": single}


def context(contact: dict, campaign) -> dict:
    """What a campaign text may use. Missing subscription fields are empty strings, never errors."""
    sub = {k: "" for k in ("segment", "institution", "region", "venue", "code", "campaign")}
    sub.update({k: v for k, v in (contact.get("subscription") or {}).items() if v is not None})
    c = {"name": contact.get("name") or "", "language": contact.get("language") or "id",
         "channel": contact.get("channel") or "", "institution": sub["institution"], "region": sub["region"],
         "segment": sub["segment"], "venue": sub["venue"]}
    return {"contact": c, "sub": sub, "campaign": {"name": campaign.name, "goal": campaign.goal}}


SAMPLE_CONTACT = {"name": "Sari", "language": "id", "channel": "telegram",
                  "subscription": {"segment": "kampus", "institution": "Universitas Contoh", "region": "34.71",
                                   "venue": "Stan LAPOR!", "code": "CONTOH1", "campaign": "contoh"}}


def render_text(campaign, contact: dict, channel: str | None = None) -> tuple[str, str, str]:
    """(text, language, variant) for this contact, rendered in the sandbox (``outreach.sandbox``).
    Raises jinja2 errors (missing variable, SecurityError...)."""
    lang, variant, src = campaign.source_for(contact.get("language") or "id", channel or contact.get("channel"))
    return sandbox.render(src, **context(contact, campaign)), lang, variant


def render_wa_template(campaign, contact: dict) -> dict | None:
    t = campaign.whatsapp_template
    if t is None:
        return None
    lang = contact.get("language") or "id"
    ctx = context(contact, campaign)
    return {"name": t.name, "language": t.language.get(lang) or t.language.get("id") or lang,
            "params": [sandbox.render(p, **ctx) for p in t.params]}


def check_text(text: str, channel: str, one_segment: bool = False) -> list[str]:
    """Problems with a rendered text for a channel (empty list when fine)."""
    errors = []
    if not text.strip():
        errors.append("empty text")
    if channel == "sms":
        info = sms_info(text)
        if one_segment and info["segments"] > 1:
            errors.append(f"SMS over one segment: {info['units']} {info['encoding']} characters "
                          f"(limit {info['single_limit']})")
        if info["units"] > LIMITS["sms"]:
            errors.append(f"SMS too long: {info['units']} characters (limit {LIMITS['sms']})")
    elif len(text) > LIMITS.get(channel, 4096):
        errors.append(f"{channel} text too long: {len(text)} characters (limit {LIMITS.get(channel, 4096)})")
    return errors


def try_render(campaign, contact: dict, channel: str) -> tuple[str | None, list[str], str, str]:
    """(text or None, errors, language, variant) — never raises."""
    try:
        text, lang, variant = render_text(campaign, contact, channel)
    except UndefinedError as exc:
        lang, variant, _ = campaign.source_for(contact.get("language") or "id", channel)
        return None, [f"missing variable: {exc.message}"], lang, variant
    except Exception as exc:  # SecurityError, syntax, or a runtime error such as 1/0 in a staff-written text
        lang, variant, _ = campaign.source_for(contact.get("language") or "id", channel)
        kind = "not allowed" if isinstance(exc, SecurityError) else "template error"
        return None, [f"{kind}: {exc}"], lang, variant
    return text, check_text(text, channel, campaign.sms_one_segment), lang, variant
