"""The inbox's query: filters from the URL, the caller's scope, SLA-deadline order, counts per status.

Officers are always limited to their agency (their ``agency`` and ``channel`` filters are ignored).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from aiohttp import web

from bot import reports as domain
from bot.staff.sla import overdue_query
from bot.storage.citizen_updates import UNSEEN

PAGE_SIZE = 25
MAX_SCAN = 20_000
FILTERS = ("status", "category", "region", "agency", "overdue", "privacy", "channel", "q", "updated")
_FAR = datetime.max.replace(tzinfo=timezone.utc)


@dataclass
class Filters:
    values: dict = field(default_factory=dict)
    page: int = 1

    def query_string(self, **override) -> str:
        from urllib.parse import urlencode

        vals = {**self.values, **override}
        return urlencode({k: v for k, v in vals.items() if v not in (None, "")})


@lru_cache(maxsize=1)
def region_groups() -> list[tuple[dict, list[dict]]]:
    """(province, its regencies and cities) for the region filter, in code order."""
    from bot.nlu.regions import all_regions

    provinces: dict[str, tuple[dict, list[dict]]] = {}
    regions = sorted(all_regions(), key=lambda r: r.code)
    for r in regions:
        if r.kind == "provinsi":
            provinces[r.code] = ({"code": r.code, "name": r.name}, [])
    for r in regions:
        if r.kind != "provinsi" and r.province_code in provinces:
            provinces[r.province_code][1].append({"code": r.code, "name": r.name})
    return list(provinces.values())


def parse(request: web.Request, *, admin: bool) -> Filters:
    q = request.query
    vals = {k: (q.get(k) or "").strip()[:100] for k in FILTERS}
    if vals["status"] and vals["status"] not in domain.STATUSES:
        raise web.HTTPBadRequest(text="errors.bad_input")
    if vals["privacy"] and vals["privacy"] not in domain.PRIVACY:
        raise web.HTTPBadRequest(text="errors.bad_input")
    if vals["overdue"] not in ("", "1") or vals["updated"] not in ("", "1"):
        raise web.HTTPBadRequest(text="errors.bad_input")
    if not admin:
        vals["agency"] = vals["channel"] = ""
    page = q.get("page", "1")
    if not (page.isascii() and page.isdigit()) or not 1 <= int(page) <= 100_000:
        raise web.HTTPBadRequest(text="errors.bad_input")
    return Filters(vals, int(page))


def conditions(f: Filters, *, scope_agency: str | None, now: datetime, with_status: bool = True) -> dict:
    v = f.values
    conds: list[dict] = []
    if scope_agency is not None:
        conds.append({"agency": scope_agency})
    if with_status and v["status"]:
        conds.append({"status": v["status"]})
    if v["category"]:
        conds.append({"category": v["category"]})
    if v["region"]:
        conds.append({"$or": [{"location.region_code": v["region"]}, {"location.province_code": v["region"]}]})
    if v["agency"]:
        conds.append({"agency": v["agency"].upper()})
    if v["privacy"]:
        conds.append({"privacy": v["privacy"]})
    if v["channel"]:
        conds.append({"channel": v["channel"]})
    if v["overdue"]:
        conds.append(overdue_query(now))
    if v["updated"]:  # citizen activity the agency has not seen (bot.storage.citizen_updates)
        conds.append(UNSEEN)
    if v["q"]:
        conds.append({"$or": [{"description": {"$regex": re.escape(v["q"]), "$options": "i"}},
                              {"tracking_id": v["q"].upper()}]})
    return {"$and": conds} if conds else {}


def deadline(doc: dict) -> datetime | None:
    """The deadline of the report's current stage (what the inbox sorts by)."""
    st = doc.get("status")
    due = (doc.get("verify_due_at") if st == domain.DITERIMA else doc.get("followup_due_at")
           if st == domain.DITERUSKAN else doc.get("autoclose_at") if st == domain.DITANGGAPI else None)
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=timezone.utc)
    return due


async def select(reports, f: Filters, *, scope_agency: str | None, now: datetime) -> tuple[list[str], dict[str, int]]:
    """Tracking IDs matching the filters (``reports``: the ``ReportStore``), soonest deadline first (no deadline
    last, newest first), and the count per status of the same filters without the status filter."""
    docs = await reports.clocks_matching(conditions(f, scope_agency=scope_agency, now=now, with_status=False),
                                         MAX_SCAN)
    counts = {s: 0 for s in domain.STATUSES}
    for d in docs:
        counts[d.get("status")] = counts.get(d.get("status"), 0) + 1
    if f.values["status"]:
        docs = [d for d in docs if d.get("status") == f.values["status"]]
    docs.sort(key=lambda d: (deadline(d) is None, deadline(d) or _FAR,
                             -(d["created_at"].timestamp() if d.get("created_at") else 0)))
    return [d["tracking_id"] for d in docs], counts


async def load(reports, ids: list[str]) -> list[dict]:
    """The reports with these tracking IDs, in the order of ``ids``."""
    found = {d["tracking_id"]: d for d in await reports.by_tracking_ids(ids)}
    return [found[i] for i in ids if i in found]
