"""The public scope of a report: the ONE place a report becomes data for anyone on the internet.

Built on :func:`bot.staff.views.serialize_report` in the agency scope (no channel identities, no phone
numbers, no contact ids), then narrowed to an allowlist:

- ``publik`` reports are listed; ``anonim`` ones are shown only to someone who asks for their ID;
  ``rahasia`` ones never (``public_report`` returns None), except to the Open311 client app that filed the
  report itself (``own``: another system following what it sent);
- never the reporter, the volunteer, the person filed for, the citizen's later additions, the rating
  comment, the channel, notifications nor staff identities (history entries say only *warga*, *petugas*
  or *sistem*);
- the staff note of a history entry only when it is the agency's answer (``ditanggapi``);
- the place as the street-level text the citizen gave, the region, and coordinates rounded to 3 decimals
  (about 100 m);
- in the description and the answer, anything that looks like a phone number (9 digits or more) or an e-mail address, and the
  reporter's own name, is replaced by ``•••``;
- photos only (images kept in the database), served without metadata (:mod:`bot.privacy.exif`).
"""
from __future__ import annotations

import re
from datetime import datetime, timezone

from bot import agencies, reports as domain
from bot.staff.auth import Principal
from bot.staff.views import serialize_report

LISTED = ("publik",)          # browsing: lists, search results, Open311 GET requests without IDs
BY_ID = ("publik", "anonim")  # asked for by tracking ID
PUBLIC_SCOPE = Principal("agency", agency=None)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MASK = "•••"
MIN_DIGITS = 9  # a phone number (or a 16-digit NIK); a date such as 2026-11-01 has 8
_PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d .\-()]{7,}\d(?![\w])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def listed_query() -> dict:
    return {"privacy": {"$in": list(LISTED)}}


def visible(report: dict | None, *, by_id: bool = False) -> bool:
    return bool(report) and report.get("privacy") in (BY_ID if by_id else LISTED)


def _names(report: dict) -> list[str]:
    names = [report.get("reporter_name"), (report.get("on_behalf") or {}).get("name")]
    return [n for n in names if isinstance(n, str) and len(n.strip()) >= 3]


def redact(text: str | None, report: dict) -> str | None:
    """Phone numbers, e-mail addresses and the reporter's name out of a text the public will read."""
    if not text:
        return text
    out = _EMAIL.sub(MASK, text)
    out = _PHONE.sub(lambda m: MASK if sum(c.isdigit() for c in m.group(0)) >= MIN_DIGITS else m.group(0), out)
    for name in _names(report):
        out = re.sub(re.escape(name.strip()), MASK, out, flags=re.IGNORECASE)
        for part in name.split():
            if len(part) >= 4:
                out = re.sub(rf"\b{re.escape(part)}\b", MASK, out, flags=re.IGNORECASE)
    return out


def _aware(v):
    if isinstance(v, datetime) and v.tzinfo is None:
        return v.replace(tzinfo=timezone.utc)
    return v


def _round(v):
    return round(float(v), 3) if isinstance(v, (int, float)) else None


def _actor_role(actor: str | None) -> str:
    if not actor or actor == "warga":
        return "warga"
    if actor == "sistem":
        return "sistem"
    return "petugas"


def latest_answer(report: dict) -> tuple[str | None, datetime | None]:
    for h in reversed(report.get("history") or []):
        if h.get("to") == domain.DITANGGAPI and h.get("note"):
            return h["note"], _aware(h.get("at"))
    return None, None


def public_report(report: dict, *, by_id: bool = False, now: datetime | None = None,
                  own: bool = False) -> dict | None:
    """The report as the public may see it, or None when it must not appear at all.

    ``own``: the Open311 client that filed it asks (its api_key), so any privacy level is shown, in the same
    shape (never with a reporter)."""
    if not report or not (own or visible(report, by_id=by_id)):
        return None
    now = now or datetime.now(timezone.utc)
    base = serialize_report(report, PUBLIC_SCOPE, now=now)  # agency scope first: no identities at all
    loc = base.get("location") or {}
    answer, answered_at = latest_answer(report)
    agency = agencies.get(report.get("agency"))
    status = report.get("status")
    due = report.get("verify_due_at") if status == domain.DITERIMA else \
        report.get("followup_due_at") if status == domain.DITERUSKAN else None
    photos = [i for i, a in enumerate(report.get("attachments") or [])
              if a.get("gridfs_id") and (a.get("mime_type") or "").split(";")[0].strip().lower() in IMAGE_TYPES]
    return {
        "tracking_id": base["tracking_id"],
        "type": base.get("type"),
        "category": base.get("category") or "lainnya",
        "description": redact(base.get("description"), report),
        "location": {"text": redact(loc.get("text"), report), "region_code": loc.get("region_code"),
                     "region_name": loc.get("region_name"), "province_code": loc.get("province_code"),
                     "province_name": loc.get("province_name"), "latitude": _round(loc.get("latitude")),
                     "longitude": _round(loc.get("longitude"))},
        "privacy": report.get("privacy"),
        "agency": report.get("agency"),
        "agency_name": agency["name"] if agency else report.get("agency"),
        "status": status,
        "open": domain.is_open(status),
        "answer": redact(answer, report),
        "answered_at": answered_at,
        "history": [{"from": h.get("from"), "to": h.get("to"), "at": _aware(h.get("at")),
                     "by": _actor_role(h.get("actor")), "event": h.get("event"),
                     "note": redact(h.get("note"), report) if h.get("to") == domain.DITANGGAPI else None}
                    for h in report.get("history") or []],
        "photos": photos,
        "supporters": base.get("supporters") or 0,
        "created_at": _aware(report.get("created_at")),
        "updated_at": _aware(report.get("updated_at")),
        "due_at": _aware(due),
        "media_url": report.get("media_url"),
    }
