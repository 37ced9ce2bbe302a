"""The ONE place a report becomes JSON for staff. Privacy is enforced here, not by callers.

Privacy matrix (``reporter`` = who filed, ``identity`` = channel ids: phone numbers, Telegram ids):

=============  ========================  ===========================  ==========================
caller         publik                    anonim                       rahasia
=============  ========================  ===========================  ==========================
admin          reporter (name, channel,  reporter (same)              reporter (same)
               on_behalf name + phone)
agency         reporter name only        no reporter                  no reporter
=============  ========================  ===========================  ==========================

No caller ever gets a contact's channel user id; agencies never get a phone number, contact or
volunteer ids, the channel's file handles of attachments, the report's channel, nor who was notified on
which channel (an agency sees each notification's event, delivery status and time only).
"""
from __future__ import annotations

from datetime import datetime

from bot.staff.auth import Principal
from bot.staff.sla import is_overdue


def _iso(v):
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _jsonable(v):
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if hasattr(v, "binary") and hasattr(v, "generation_time"):  # ObjectId
        return str(v)
    return v


def reporter_visible(report: dict, who: Principal) -> bool:
    return who.is_admin or report.get("privacy") == "publik"


def serialize_report(report: dict, who: Principal, *, now: datetime, notifications: list[dict] | None = None,
                     base_url: str = "/api/v1") -> dict:
    tid = report["tracking_id"]
    loc = report.get("location") or {}
    out: dict = {
        "tracking_id": tid,
        "type": report.get("type"),
        "category": report.get("category"),
        "description": report.get("description"),
        "location": {"text": loc.get("text"), "region_name": loc.get("region_name"),
                     "region_code": loc.get("region_code"), "province_code": loc.get("province_code"),
                     "province_name": loc.get("province_name"),
                     "latitude": loc.get("latitude"), "longitude": loc.get("longitude")},
        "incident_date": report.get("incident_date"),
        "privacy": report.get("privacy"),
        "agency": report.get("agency"),
        "agency_suggested": report.get("agency_suggested") if who.is_admin else None,
        "status": report.get("status"),
        "history": [{"from": h.get("from"), "to": h.get("to"), "actor": h.get("actor"), "at": h.get("at"),
                     "note": h.get("note")} for h in report.get("history") or []],
        "additions": [{"text": a.get("text"), "at": a.get("at")} for a in report.get("additions") or []],
        "attachments": [{"index": i, "kind": a.get("kind"), "mime_type": a.get("mime_type"),
                         "filename": a.get("filename"), "size": a.get("size"),
                         "url": f"{base_url}/reports/{tid}/attachments/{i}" if a.get("gridfs_id") else None}
                        for i, a in enumerate(report.get("attachments") or [])],
        "channel": report.get("channel"),
        "language": report.get("language"),
        "created_at": report.get("created_at"),
        "updated_at": report.get("updated_at"),
        "rating": ({"score": report["rating"].get("score"), "comment": report["rating"].get("comment"),
                    "at": report["rating"].get("at")} if report.get("rating") else None),
        "objection": ({"reason": report["objection"].get("reason"), "at": report["objection"].get("at")}
                      if report.get("objection") else None),
        "supporters": len(report.get("supporters") or []),
        "deadlines": {"verify_due_at": report.get("verify_due_at"),
                      "followup_due_at": report.get("followup_due_at"),
                      "autoclose_at": report.get("autoclose_at")},
        "overdue": is_overdue(report, now),
        # citizen activity the agency has not seen yet (bot.storage.citizen_updates)
        "citizen_update": {"at": report.get("citizen_update_at"), "kind": report.get("citizen_update_kind"),
                           "unseen": bool(report.get("citizen_update_unseen")),
                           "seen_by_agency_at": report.get("seen_by_agency_at")},
    }
    if report.get("volunteer_id") is not None:
        out["volunteer"] = ({"assisted": True, "contact_id": str(report["volunteer_id"])} if who.is_admin
                            else {"assisted": True})
    if reporter_visible(report, who):
        ob = report.get("on_behalf") or {}
        if who.is_admin:
            rep = {"name": report.get("reporter_name") or ob.get("name"), "channel": report.get("channel"),
                   "contact_id": str(report["contact_id"]) if report.get("contact_id") is not None else None}
            if ob:
                rep["on_behalf"] = {"name": ob.get("name"), "phone": ob.get("phone"), "consent": ob.get("consent")}
        else:  # a reporter who erased their data (docs/privacy.md) is simply not there
            rep = {"name": report.get("reporter_name") or ob.get("name")} if (
                report.get("reporter_name") or ob.get("name")) else None
        if rep:
            out["reporter"] = rep
    if notifications is not None:
        out["notifications"] = notifications if who.is_admin else [
            {"event": n.get("event"), "status": n.get("status"), "at": n.get("at")} for n in notifications]
    if not who.is_admin:  # an agency needs the report, not how or to whom it travels (docs/privacy.md)
        out.pop("agency_suggested", None)
        out.pop("channel", None)
    return _jsonable(out)


def serialize_handoff(doc: dict, contact: dict | None) -> dict:
    """Handoffs are admin-only; the citizen's channel user id still stays out."""
    return _jsonable({
        "id": str(doc["_id"]), "status": doc.get("status"), "tracking_id": doc.get("tracking_id"),
        "created_at": doc.get("created_at"), "notes": doc.get("notes") or [], "replies": doc.get("replies") or [],
        "contact": ({"name": contact.get("name"), "channel": contact.get("channel"),
                     "language": contact.get("language")} if contact else None),
    })
