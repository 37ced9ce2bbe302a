"""Monitoring figures per province, agency or category (the seeds' vocabulary: forwarded, archived, settled).

received: reports filed in the period; verified / forwarded / answered: reached that stage at some time;
settled: status selesai; archived: status diarsipkan; in_progress: still open; overdue: past the deadline
of their current stage; percentages of received; median days from filing to selesai; average rating.

Besides the groups and the total, ``compute`` returns what the back-office dashboard plots (so the plots and
``GET /api/v1/stats`` are the same numbers): ``series`` (reports filed per day/week/month by current status),
``channels`` (reports per channel) and, in every group and the total, SLA compliance: a stage (verification
of a received report, the agency's answer to a forwarded one) is ``on_time`` when it ended by its deadline,
``late`` when it ended after it or is still open past it; stages not yet due count in neither.
Filters: period (``start``/``end``), ``agency``, ``province`` (code) and ``category``.
"""
from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta, timezone

from bot import reports as domain
from bot.messages import aware
from bot.untrusted import BadInput, date_param
from bot.staff.sla import is_overdue

BY = ("province", "agency", "category")
FIELDS = ("received", "verified", "forwarded", "answered", "settled", "archived", "in_progress", "overdue",
          "pct_forwarded", "pct_archived", "pct_settled", "median_days_to_settle", "avg_rating")
SLA_FIELDS = ("sla_verify_on_time", "sla_verify_late", "sla_followup_on_time", "sla_followup_late", "pct_sla_on_time")
EVERY = ("day", "week", "month")
MAX_BUCKETS = 400
PARAMS = ("by", "from", "to", "province", "category", "agency", "every")


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


def _stage_end(history: list[dict], leaving: str, after: datetime | None = None) -> datetime | None:
    """When the report first left status ``leaving`` (after ``after``), or None."""
    for h in history:
        if h.get("from") == leaving and h.get("at") and (after is None or aware(h["at"]) >= after):
            return aware(h["at"])
    return None


def _sla(r: dict, now: datetime) -> tuple[str | None, str | None]:
    """('on_time'|'late'|None, same) for the verification and the follow-up stage of one report."""
    hist = r.get("history") or []

    def judge(due, ended) -> str | None:
        if due is None:
            return None
        due = aware(due)
        if ended is not None:
            return "on_time" if ended <= due else "late"
        return "late" if now > due else None

    verify = judge(r.get("verify_due_at"), _stage_end(hist, domain.DITERIMA))
    follow = None
    if r.get("followup_due_at"):
        fwd = [aware(h["at"]) for h in hist if h.get("to") == domain.DITERUSKAN and h.get("at")]
        follow = judge(r["followup_due_at"], _stage_end(hist, domain.DITERUSKAN, fwd[-1] if fwd else None))
    return verify, follow


def _figures(reports: list[dict], now: datetime) -> dict:
    n = len(reports)
    reached = {s: 0 for s in (domain.TERVERIFIKASI, domain.DITERUSKAN, domain.DITANGGAPI)}
    settle_days, ratings = [], []
    settled = archived = in_progress = overdue = 0
    sla = dict.fromkeys(SLA_FIELDS[:4], 0)
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
        for stage, verdict in zip(("verify", "followup"), _sla(r, now)):
            if verdict:
                sla[f"sla_{stage}_{verdict}"] += 1

    def pct(x: int) -> float:
        return round(100.0 * x / n, 2) if n else 0.0

    return {"received": n, "verified": reached[domain.TERVERIFIKASI], "forwarded": reached[domain.DITERUSKAN],
            "answered": reached[domain.DITANGGAPI], "settled": settled, "archived": archived,
            "in_progress": in_progress, "overdue": overdue, "pct_forwarded": pct(reached[domain.DITERUSKAN]),
            "pct_archived": pct(archived), "pct_settled": pct(settled),
            "median_days_to_settle": round(statistics.median(settle_days), 2) if settle_days else None,
            "avg_rating": round(statistics.fmean(ratings), 2) if ratings else None, **sla,
            "pct_sla_on_time": _pct_on_time(sla)}


def _pct_on_time(sla: dict) -> float | None:
    on_time = sla["sla_verify_on_time"] + sla["sla_followup_on_time"]
    judged = on_time + sla["sla_verify_late"] + sla["sla_followup_late"]
    return round(100.0 * on_time / judged, 2) if judged else None


def _bucket(at: datetime, every: str) -> date:
    d = aware(at).astimezone(timezone.utc).date()
    if every == "week":
        return d - timedelta(days=d.weekday())
    if every == "month":
        return d.replace(day=1)
    return d


def _next_bucket(d: date, every: str) -> date:
    if every == "day":
        return d + timedelta(days=1)
    if every == "week":
        return d + timedelta(days=7)
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _series(reports: list[dict], start: datetime | None, end: datetime | None, every: str | None) -> dict:
    """Reports filed per period (UTC dates) by current status; empty periods between the first and last included.
    A period too fine for the span (over ``MAX_BUCKETS`` of them) is made coarser (day -> week -> month)."""
    times = [aware(r["created_at"]) for r in reports if r.get("created_at")]
    lo = start or (min(times) if times else None)
    hi = (end - timedelta(microseconds=1)) if end else (max(times) if times else None)
    span = (hi - lo).days if lo and hi else 0
    if every is None:
        every = "day" if span <= 62 else "week" if span <= 366 else "month"
    if every == "day" and span > MAX_BUCKETS:  # never more periods than a plot can show
        every = "week"
    if every == "week" and span > 7 * MAX_BUCKETS:
        every = "month"
    if span > 31 * MAX_BUCKETS:  # e.g. from=0001-01-01: from the first to the last report instead
        lo, hi = (max(lo, min(times)), min(hi, max(times))) if times else (None, None)
    counts: dict[date, dict[str, int]] = {}
    for r in reports:
        if r.get("created_at"):
            row = counts.setdefault(_bucket(r["created_at"], every), dict.fromkeys(domain.STATUSES, 0))
            st = r.get("status")
            if st in row:
                row[st] += 1
    buckets = []
    if lo and hi and lo <= hi:
        d, last = _bucket(lo, every), _bucket(hi, every)
        while d <= last:
            buckets.append({"start": d.isoformat(), "counts": counts.get(d, dict.fromkeys(domain.STATUSES, 0))})
            d = _next_bucket(d, every)
    return {"every": every, "statuses": list(domain.STATUSES), "buckets": buckets}


def parse_query(query) -> dict:
    """The filter of ``GET /api/v1/stats`` and the dashboard, from query parameters. Raises ValueError."""
    by = query.get("by") or "province"
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    every = query.get("every") or None
    if every is not None and every not in EVERY:
        raise ValueError(f"every must be one of {', '.join(EVERY)}")

    def when(key: str) -> datetime | None:
        try:  # one rule for dates in every query (bot/untrusted.py: years 1970-9998, UTC when naive)
            return date_param(query, key, end_of_day=key == "to")  # a date "to" includes that whole day
        except BadInput as err:
            raise ValueError(str(err)) from None

    def code(key: str, n: int = 64) -> str | None:
        v = (query.get(key) or "").strip()
        if len(v) > n:
            raise ValueError(f"{key} is too long")
        return v or None

    agency = code("agency")
    return {"by": by, "start": when("from"), "end": when("to"), "agency": agency.upper() if agency else None,
            "province": code("province"), "category": code("category"), "every": every}


async def compute(stores, *, by: str = "province", start: datetime | None = None, end: datetime | None = None,
                  agency: str | None = None, now: datetime, province: str | None = None,
                  category: str | None = None, every: str | None = None) -> dict:
    """Figures per group for reports filed in [start, end). ``agency`` restricts to one agency's reports,
    ``province`` (code) and ``category`` likewise."""
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}")
    proj = {"history.to": 1, "history.from": 1, "history.at": 1, "status": 1, "created_at": 1, "rating": 1,
            "agency": 1, "channel": 1,
            "category": 1, "location.province_code": 1, "location.province_name": 1, "verify_due_at": 1,
            "followup_due_at": 1}
    groups: dict[tuple[str, str], list[dict]] = {}
    allr: list[dict] = []
    async for r in stores.reports.for_stats(start, end, agency, proj, province=province, category=category):
        groups.setdefault(_key(r, by), []).append(r)
        allr.append(r)
    rows = [{"key": k, "name": name, **_figures(rs, now)} for (k, name), rs in sorted(groups.items())]
    channels: dict[str, int] = {}
    for r in allr:
        ch = r.get("channel") or "-"
        channels[ch] = channels.get(ch, 0) + 1
    return {"by": by, "from": start.isoformat() if start else None, "to": end.isoformat() if end else None,
            "filter": {"agency": agency, "province": province, "category": category},
            "groups": rows, "total": _figures(allr, now), "channels": dict(sorted(channels.items())),
            "series": _series(allr, start, end, every)}


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
