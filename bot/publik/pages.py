"""The public page ``/publik``: public reports and the monitoring figures, rendered on the server.

- ``/publik``: listed (``publik``) reports, newest first, 20 a page; filters ``region`` (a province or
  regency/city code), ``category``, ``status`` (``open``, ``closed`` or a detailed status); ``q`` a tracking
  ID (goes to that report when the public may see it);
- ``/publik/laporan/<id>``: one report (``publik``, or ``anonim`` asked for by its ID) with the agency's
  answer and the status history; ``/publik/laporan/<id>/foto/<n>``: its photos without metadata;
- ``/publik/statistik``: figures per province from :func:`bot.staff.stats.compute` (received, % forwarded,
  % archived, % settled, ...) with the back-office dashboard's plots (:func:`bot.backoffice.dashboard.build_plots`)
  and one of the percentages; counts over every report (no report content).

Every report shown goes through :func:`bot.publik.scope.public_report`. No JavaScript; wording in
``templates/publik/i18n/<lang>/publik.yml``, HTML in ``templates/publik/*.html``. Pages are cached in the
process for ``CACHE_SECONDS`` per path, query and language, and sent with ``Cache-Control: public``.
"""
from __future__ import annotations

import math
import time
from datetime import timedelta
from functools import lru_cache
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot import reports as domain
from bot.backoffice.pages import label, wib
from bot.appkeys import RUNTIME_KEY
from bot.messages import utcnow
from bot.publik import scope
from bot.publik.i18n import LANGUAGES, pick_language, translate
from bot.tracking import TrackingIdError, normalize

ROOT = Path(__file__).resolve().parents[2] / "templates" / "publik"
CACHE_KEY = web.AppKey("publik_cache", object)
CACHE_SECONDS = 60
CACHE_ENTRIES = 500
PAGE_SIZE = 20
STATS_DAYS = 365
CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"


class PageCache:
    """Rendered pages for a short time: a burst of readers costs one database query per page."""

    def __init__(self, ttl_s: float = CACHE_SECONDS, entries: int = CACHE_ENTRIES):
        self.ttl_s, self.entries = ttl_s, entries
        self._pages: dict[tuple, tuple[float, int, str]] = {}

    def get(self, key: tuple) -> tuple[int, str] | None:
        hit = self._pages.get(key)
        if hit is None or hit[0] < time.monotonic():
            self._pages.pop(key, None)
            return None
        return hit[1], hit[2]

    def put(self, key: tuple, status: int, html: str) -> None:
        if len(self._pages) >= self.entries:
            now = time.monotonic()
            self._pages = {k: v for k, v in self._pages.items() if v[0] >= now}
            if len(self._pages) >= self.entries:
                self._pages.pop(next(iter(self._pages)))
        self._pages[key] = (time.monotonic() + self.ttl_s, status, html)


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(ROOT)), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["wib"] = wib
    return env


def _lang(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get("lang"),
                         request.headers.get("Accept-Language"))


def _html(request: web.Request, status: int, html: str) -> web.Response:
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}" if status == 200 else "no-store"
    if request.query.get("lang") in LANGUAGES:
        resp.set_cookie("lang", request.query["lang"], httponly=True, samesite="Lax", max_age=365 * 86400)
    return resp


def render(request: web.Request, name: str, *, status: int = 200, **ctx) -> tuple[int, str]:
    lang = _lang(request)
    html = environment().get_template(name).render(
        lang=lang, path=request.path, t=lambda key, **p: translate(key, lang, **p),
        label=lambda key: label(key, lang), **ctx)
    return status, html


def cached(fn):
    """Serve from the page cache; render (and keep 200 and 404 answers) on a miss."""
    async def wrapped(request: web.Request) -> web.Response:
        cache: PageCache = request.app[CACHE_KEY]
        key = (request.path, tuple(sorted(request.query.items())), _lang(request))
        hit = cache.get(key)
        if hit is None:
            hit = await fn(request)
            if hit[0] in (200, 404):
                cache.put(key, *hit)
        return _html(request, *hit)
    return wrapped


def _regions():
    from bot.nlu.regions import all_regions

    return all_regions()


def _provinces() -> list[tuple[str, str]]:
    return sorted((r.code, r.name) for r in _regions() if r.kind == "provinsi")


def _categories() -> tuple[str, ...]:
    from bot.nlu.interpret import CATEGORIES

    return CATEGORIES


def _filters(request: web.Request) -> tuple[dict, dict]:
    """(what the form shows, MongoDB filter); unknown values are ignored, not errors."""
    q = {k: (request.query.get(k) or "").strip()[:64] for k in ("region", "category", "status", "q")}
    f = scope.listed_query()
    from bot.nlu.regions import by_code

    r = by_code(q["region"]) if q["region"] else None
    if r is not None:
        f["location.province_code" if r.kind == "provinsi" else "location.region_code"] = r.code
    else:
        q["region"] = ""
    if q["category"] in _categories():
        f["category"] = q["category"]
    else:
        q["category"] = ""
    if q["status"] == "open":
        f["status"] = {"$in": list(domain.OPEN_STATUSES)}
    elif q["status"] == "closed":
        f["status"] = {"$in": [domain.SELESAI, domain.DIARSIPKAN]}
    elif q["status"] in domain.STATUSES:
        f["status"] = q["status"]
    else:
        q["status"] = ""
    return q, f


@cached
async def list_page(request: web.Request) -> tuple[int, str]:
    rt = request.config_dict[RUNTIME_KEY]
    q, f = _filters(request)
    not_found = None
    if q["q"]:
        try:
            tid = normalize(q["q"])
        except TrackingIdError:
            tid = None
        if tid and scope.visible(await rt.stores.reports.get(tid), by_id=True):
            raise web.HTTPSeeOther(f"/publik/laporan/{tid}")
        not_found = q["q"]
    page = request.query.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 10000 else 1
    total, docs = await rt.stores.reports.search(f, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    now = utcnow()
    items = [p for d in docs if (p := scope.public_report(d, now=now)) is not None]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    keep = {k: v for k, v in q.items() if v and k != "q"}
    return render(request, "list.html", items=items, q=q, total=total, page=page, pages=pages, keep=keep,
                  not_found=not_found, provinces=_provinces(), categories=_categories(),
                  statuses=domain.STATUSES)


async def _visible_report(request: web.Request) -> dict | None:
    rt = request.config_dict[RUNTIME_KEY]
    try:
        tid = normalize(request.match_info["tracking_id"])
    except TrackingIdError:
        return None
    report = await rt.stores.reports.get(tid)
    return report if scope.visible(report, by_id=True) else None


@cached
async def detail_page(request: web.Request) -> tuple[int, str]:
    report = await _visible_report(request)
    if report is None:
        return render(request, "error.html", status=404, message="publik.not_found")
    return render(request, "detail.html", r=scope.public_report(report, by_id=True))


async def photo(request: web.Request) -> web.Response:
    from gridfs import AsyncGridFSBucket
    from gridfs.errors import NoFile

    from bot.privacy.exif import strip_metadata

    report = await _visible_report(request)
    n = request.match_info["n"]
    pub = scope.public_report(report, by_id=True) if report else None
    if pub is None or not (n.isascii() and n.isdigit()) or int(n) not in pub["photos"]:
        return _html(request, *render(request, "error.html", status=404, message="publik.not_found"))
    att = report["attachments"][int(n)]
    rt = request.config_dict[RUNTIME_KEY]
    try:
        stream = await AsyncGridFSBucket(rt.stores.db).open_download_stream(att["gridfs_id"])
        data = await stream.read()
    except NoFile:
        data = None
    mime = att["mime_type"].split(";")[0].strip().lower()
    data = strip_metadata(data, mime) if data else None
    if data is None:  # not stored, or it could not be cleaned: not shown
        return _html(request, *render(request, "error.html", status=404, message="publik.not_found"))
    return web.Response(body=data, content_type=mime, headers={
        "Content-Security-Policy": "default-src 'none'; sandbox", "X-Content-Type-Options": "nosniff",
        "Cache-Control": f"public, max-age={CACHE_SECONDS}", "Content-Disposition": "inline"})


@cached
async def stats_page(request: web.Request) -> tuple[int, str]:
    from bot.backoffice import plots
    from bot.backoffice.dashboard import build_plots
    from bot.publik.plots import percent_bars
    from bot.staff import stats as stats_mod

    rt = request.config_dict[RUNTIME_KEY]
    lang = _lang(request)
    today = utcnow().date()
    q = {"from": (request.query.get("from") or "").strip(), "to": (request.query.get("to") or "").strip(),
         "province": (request.query.get("province") or "").strip(), "by": "province"}
    if not q["from"] and not q["to"]:
        q["from"], q["to"] = (today - timedelta(days=STATS_DAYS - 1)).isoformat(), today.isoformat()
    try:
        f = stats_mod.parse_query(q)
    except ValueError:
        return render(request, "error.html", status=400, message="publik.bad_period")
    result = await stats_mod.compute(rt.stores, now=utcnow(), **f)
    svgs = build_plots(result, None, lang)
    groups = sorted(result["groups"], key=lambda g: (-g["received"], g["name"]))[:20]
    t = lambda key, **p: translate(key, lang, **p)  # noqa: E731
    svgs["percent"] = percent_bars(t("publik.plot_percent"), [g["name"] for g in groups],
                                 [(t(f"publik.field_{k}"), [g[k] for g in groups])
                                  for k in ("pct_forwarded", "pct_archived", "pct_settled")],
                                 colors=(plots.AMBER, plots.GREY, plots.GREEN))
    shown = {k: svgs[k] for k in ("over_time", "by_group", "percent", "sla") if k in svgs}
    return render(request, "stats.html", result=result, svgs=shown, q=q, provinces=_provinces(),
                  fields=("received", "forwarded", "pct_forwarded", "archived", "pct_archived", "settled",
                          "pct_settled", "in_progress", "median_days_to_settle"))


def add_routes(app: web.Application) -> None:
    app[CACHE_KEY] = PageCache()
    app.router.add_get("/publik", list_page)
    app.router.add_get("/publik/", list_page)
    app.router.add_get("/publik/statistik", stats_page)
    app.router.add_get("/publik/laporan/{tracking_id}", detail_page)
    app.router.add_get("/publik/laporan/{tracking_id}/foto/{n}", photo)
