"""Monitoring figures per province, agency or category (the seeds' vocabulary: forwarded, archived, settled).

received: reports filed in the period; verified / forwarded / answered: reached that stage at some time;
settled: status selesai; archived: status diarsipkan; in_progress: still open; overdue: past the deadline
of their current stage; percentages of received; median days from filing to selesai; average rating.
"""
from __future__ import annotations

import statistics
from datetime import datetime

from bot import reports as domain
from bot.messages import aware
from bot.staff.sla import is_overdue

BY = ("province", "agency", "category")
FIELDS = ("received", "verified", "forwarded", "answered", "settled", "archived", "in_progress", "overdue",
          "pct_forwarded", "pct_archived", "pct_settled", "median_days_to_settle", "avg_rating")


def _key(report: dict, by: str) -> tuple[str, str]:
    if by == "province":
        loc = report.get("location") or {}
        code = loc.get("province_code")
        return (code or "-", loc.get("province_name") or "-")
    if by == "agency":
        code = report.get("agency")
        if not code:
            return ("-", "-")
        from bot import agencies

        a = agencies.get(code)
        return (code, a["name"] if a else code)
    cat = report.get("category") or "lainnya"
    return (cat, cat)


def _figures(reports: list[dict], now: datetime) -> dict:
    n = len(reports)
    reached = {s: 0 for s in (domain.TERVERIFIKASI, domain.DITERUSKAN, domain.DITANGGAPI)}
    settle_days, ratings = [], []
    settled = archived = in_progress = overdue = 0
    for r in reports:
        seen = {h.get("to") for h in r.get("history") or []}
        for s in reached:
            if s in seen:
                reached[s] += 1
        st = r.get("status")
        if st == domain.SELESAI:
            settled += 1
            done = next((h["at"] for h in reversed(r.get("history") or []) if h.get("to") == domain.SELESAI), None)
            if done and r.get("created_at"):
                settle_days.append((aware(done) - aware(r["created_at"])).total_seconds() / 86400)
        elif st == domain.DIARSIPKAN:
            archived += 1
        elif domain.is_open(st):
            in_progress += 1
        if is_overdue(r, now):
            overdue += 1
        score = (r.get("rating") or {}).get("score")
        if isinstance(score, (int, float)):
            ratings.append(score)

    def pct(x: int) -> float:
        return round(100.0 * x / n, 2) if n else 0.0

    return {"received": n, "verified": reached[domain.TERVERIFIKASI], "forwarded": reached[domain.DITERUSKAN],
            "answered": reached[domain.DITANGGAPI], "settled": settled, "archived": archived,
            "in_progress": in_progress, "overdue": overdue, "pct_forwarded": pct(reached[domain.DITERUSKAN]),
            "pct_archived": pct(archived), "pct_settled": pct(settled),
            "median_days_to_settle": round(statistics.median(settle_days), 2) if settle_days else None,
            "avg_rating": round(statistics.fmean(ratings), 2) if ratings else None}


async def compute(stores, *, by: str = "province", start: datetime | None = None, end: datetime | None = None,
                  agency: str | None = None, now: datetime) -> dict:
    """Figures per group for reports filed in [start, end). ``agency`` restricts to one agency's reports."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    proj = {"history.to": 1, "history.at": 1, "status": 1, "created_at": 1, "rating": 1, "agency": 1,
            "category": 1, "location.province_code": 1, "location.province_name": 1, "verify_due_at": 1,
            "followup_due_at": 1}
    groups: dict[tuple[str, str], list[dict]] = {}
    allr: list[dict] = []
    async for r in stores.reports.for_stats(start, end, agency, proj):
        groups.setdefault(_key(r, by), []).append(r)
        allr.append(r)
    rows = [{"key": k, "name": name, **_figures(rs, now)} for (k, name), rs in sorted(groups.items())]
    return {"by": by, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "groups": rows, "total": _figures(allr, now)}


def table(result: dict) -> str:
    """Plain-text table for ``laporbot stats``."""
    cols = ("name",) + FIELDS
    heads = {"name": result["by"], "received": "recv", "verified": "verif", "forwarded": "fwd", "answered": "ans",
             "settled": "done", "archived": "arch", "in_progress": "open", "overdue": "late",
             "pct_forwarded": "%fwd", "pct_archived": "%arch", "pct_settled": "%done",
             "median_days_to_settle": "med.days", "avg_rating": "rating"}
    rows = [{**g} for g in result["groups"]] + [{"name": "TOTAL", **result["total"]}]

    def cell(v) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.1f}"
        return str(v)

    data = [[heads[c] for c in cols]] + [[cell(r.get(c))[:40] for c in cols] for r in rows]
    widths = [max(len(row[i]) for row in data) for i in range(len(cols))]
    lines = []
    for j, row in enumerate(data):
        lines.append("  ".join(v.ljust(widths[i]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(row)))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
