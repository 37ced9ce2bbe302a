"""A report as an Open311 service request, from its public scope (:func:`bot.publik.scope.public_report`).

Standard fields as in the spec; ``status`` is ``open`` or ``closed`` and ``lapor_status`` our detailed
status; ``status_notes`` the agency's public answer; times ISO 8601 in WIB (``+07:00``). Extensions start
with ``lapor_``. There is never any reporter data: the spec's response has no such field and we add none.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.open311.services import _label
from bot.publik.scope import BY_ID

WIB = ZoneInfo("Asia/Jakarta")


def iso(v: datetime | None) -> str | None:
    if v is None:
        return None
    return v.astimezone(WIB).isoformat(timespec="seconds")


def as_request(pub: dict, *, base_url: str, lang: str = "id") -> dict:
    loc = pub["location"]
    public = pub["privacy"] in BY_ID  # a rahasia report shown to the client that filed it has no public page
    media = f"{base_url}/publik/laporan/{pub['tracking_id']}/foto/{pub['photos'][0]}" if pub["photos"] and public \
        else pub.get("media_url")
    return {
        "service_request_id": pub["tracking_id"],
        "status": "open" if pub["open"] else "closed",
        "status_notes": pub.get("answer"),
        "service_name": _label(f"category.{pub['category']}", lang),
        "service_code": pub["category"],
        "description": pub.get("description"),
        "agency_responsible": pub.get("agency_name"),
        "service_notice": None,
        "requested_datetime": iso(pub.get("created_at")),
        "updated_datetime": iso(pub.get("updated_at")),
        "expected_datetime": iso(pub.get("due_at")),
        "address": loc.get("text"),
        "address_id": None,
        "zipcode": None,
        "lat": loc.get("latitude"),
        "long": loc.get("longitude"),
        "media_url": media,
        "lapor_status": pub["status"],
        "lapor_type": pub.get("type"),
        "lapor_region_code": loc.get("region_code"),
        "lapor_region_name": loc.get("region_name"),
        "lapor_url": f"{base_url}/publik/laporan/{pub['tracking_id']}" if public else None,
    }
