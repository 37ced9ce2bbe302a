"""The Open311 GeoReport v2 server, an aiohttp sub-application mounted at ``/open311/v2``.

``GET discovery.{fmt}``, ``GET services.{fmt}``, ``GET services/{code}.{fmt}``, ``POST requests.{fmt}``,
``GET requests.{fmt}``, ``GET requests/{id}.{fmt}`` with ``fmt`` json or xml. Requests are created
synchronously (no token endpoint). Any other path under the prefix is the spec's error array (404), a format
other than json/xml is 400. Everything a client sends is checked in :mod:`bot.open311.intake` (POST) or here
(GET filters); the reports shown are their public scope (:mod:`bot.publik.scope`). A GET may carry the
client's ``api_key``: asked by ID, the reports that client filed are then shown whatever their privacy
(an upstream-forwarding system follows what it sent), still without any reporter data.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone

from aiohttp import web

from bot import reports as domain
from bot.appkeys import RUNTIME_KEY
from bot.messages import utcnow
from bot.open311 import formats, services
from bot.open311.formats import Open311Error, check_format, error, respond
from bot.open311.intake import Intake
from bot.open311.keys import ApiKeyStore
from bot.open311.requests import as_request
from bot.publik import scope
from bot.publik.i18n import pick_language
from bot.tracking import TrackingIdError, normalize

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
INTAKE_KEY = web.AppKey("open311_intake", object)
MAX_POST_BYTES = 64 * 1024
DEFAULT_DAYS = 90
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 100, 1000
MAX_IDS = 200
LIST_CACHE = "public, max-age=60"


def _lang(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), None, request.headers.get("Accept-Language"))


def base_url(request: web.Request) -> str:
    rt = request.config_dict[RUNTIME_KEY]
    return (rt.settings.lapor_public_url or str(request.url.origin())).rstrip("/")


def _guess_format(request: web.Request) -> str:
    tail = request.path.rsplit(".", 1)
    return tail[1].lower() if len(tail) == 2 and tail[1].lower() in formats.FORMATS else "xml"


def handler(fn):
    """Open311Error -> the spec's error array in the requested format; anything else -> 500 error array."""
    async def wrapped(request: web.Request) -> web.StreamResponse:
        fmt = _guess_format(request)
        try:
            fmt = check_format(request.match_info.get("fmt", fmt))
            return await fn(request, fmt)
        except Open311Error as err:
            return error(fmt, err.status, err.description)
        except Exception:
            log.exception("open311 %s %s failed", request.method, request.path)
            return error(fmt, 500, "internal error")
    return wrapped


@handler
async def discovery(request: web.Request, fmt: str) -> web.Response:
    url = base_url(request) + PREFIX + "/"
    body = {"changeset": "2026-12-01T00:00:00+07:00", "contact": url, "key_service": url,
            "endpoints": [{"specification": "http://wiki.open311.org/GeoReport_v2", "url": url,
                           "changeset": "2026-12-01T00:00:00+07:00", "type": "production",
                           "formats": ["text/xml", "application/json"]}]}
    return respond(fmt, "discovery", body)


@handler
async def service_list(request: web.Request, fmt: str) -> web.Response:
    return respond(fmt, "services", services.service_list(_lang(request)), headers={"Cache-Control": LIST_CACHE})


@handler
async def service_definition(request: web.Request, fmt: str) -> web.Response:
    d = services.definition(request.match_info["code"], _lang(request))
    if d is None:
        raise Open311Error(404, "service_code not found")
    return respond(fmt, "service_definition", d, headers={"Cache-Control": LIST_CACHE})


@handler
async def post_request(request: web.Request, fmt: str) -> web.Response:
    if (request.content_length or 0) > MAX_POST_BYTES:
        raise Open311Error(413, f"request body over {MAX_POST_BYTES // 1024} KB")
    try:
        form = await request.post()
    except (ValueError, web.HTTPException):
        raise Open311Error(400, "the body must be application/x-www-form-urlencoded") from None
    intake: Intake = request.app[INTAKE_KEY]
    report, created = await intake.post(form)
    body = [{"service_request_id": report["tracking_id"], "service_notice": None, "account_id": None}]
    return respond(fmt, "service_requests", body, status=201 if created else 200)


def _when(value: str, name: str, *, end: bool = False) -> datetime:
    v = value.strip()
    try:
        if len(v) == 10:
            d = datetime.combine(date.fromisoformat(v), time(0), tzinfo=timezone.utc)
            return d + timedelta(days=1) if end else d
        d = datetime.fromisoformat(v)
    except (ValueError, OverflowError):
        raise Open311Error(400, f"{name} must be an ISO 8601 date-time, e.g. 2026-11-05T08:15:30+07:00") from None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if not value:
        return default
    if not (value.isascii() and value.isdigit()) or not lo <= int(value) <= hi:
        raise Open311Error(400, f"{name} must be a whole number from {lo} to {hi}")
    return int(value)


async def _client(request: web.Request) -> dict | None:
    """The client app when a GET carries an ``api_key`` (optional; a wrong one is 403)."""
    if not request.query.get("api_key"):
        return None
    return await request.app[INTAKE_KEY].client(request.query)


def _own(report: dict | None, client: dict | None) -> bool:
    return bool(report and client and (report.get("open311") or {}).get("key_id") == client["_id"])


def list_query(q, client: dict | None = None) -> tuple[dict, int, int]:
    """(MongoDB filter, skip, limit) for ``GET requests`` from its query parameters. Raises Open311Error.

    With IDs, ``publik`` and ``anonim`` reports, and any report the asking client filed itself."""
    f: dict = {}
    ids_param = (q.get("service_request_id") or "").strip()
    if ids_param:
        ids = []
        for raw in ids_param.split(",")[:MAX_IDS]:
            try:
                ids.append(normalize(raw))
            except TrackingIdError:
                continue  # not one of ours: matches nothing
        f["tracking_id"] = {"$in": ids}
        f["$or"] = [{"privacy": {"$in": list(scope.BY_ID)}}] + (
            [{"open311.key_id": client["_id"]}] if client else [])
    else:
        f.update(scope.listed_query())
    codes = [c.strip() for c in (q.get("service_code") or "").split(",") if c.strip()]
    if codes:
        f["category"] = {"$in": codes[:50]}
    start = _when(q["start_date"], "start_date") if q.get("start_date") else None
    end = _when(q["end_date"], "end_date", end=True) if q.get("end_date") else None
    if not ids_param and start is None and end is None:
        start = utcnow() - timedelta(days=DEFAULT_DAYS)
    if start or end:
        f["created_at"] = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
    statuses = [s.strip().lower() for s in (q.get("status") or "").split(",") if s.strip()]
    if statuses:
        wanted: set[str] = set()
        for s in statuses:
            if s == "open":
                wanted |= set(domain.OPEN_STATUSES)
            elif s == "closed":
                wanted |= {domain.SELESAI, domain.DIARSIPKAN}
            elif s in domain.STATUSES:
                wanted.add(s)
            else:
                raise Open311Error(400, "status must be open, closed (or one of our detailed statuses)")
        f["status"] = {"$in": sorted(wanted)}
    size = _int(q.get("page_size"), "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    page = _int(q.get("page"), "page", 1, 1, 100000)
    return f, (page - 1) * size, size


@handler
async def get_requests(request: web.Request, fmt: str) -> web.Response:
    rt = request.config_dict[RUNTIME_KEY]
    client = await _client(request)
    f, skip, limit = list_query(request.query, client)
    docs = await rt.stores.reports.newest(f, offset=skip, limit=limit)
    base, lang, now = base_url(request), _lang(request), utcnow()
    by_id = "tracking_id" in f
    body = [as_request(pub, base_url=base, lang=lang) for d in docs
            if (pub := scope.public_report(d, by_id=by_id, now=now, own=by_id and _own(d, client))) is not None]
    return respond(fmt, "service_requests", body,
                   headers={"Cache-Control": "private, no-store" if client else LIST_CACHE})


@handler
async def get_request(request: web.Request, fmt: str) -> web.Response:
    rt = request.config_dict[RUNTIME_KEY]
    try:
        tid = normalize(request.match_info["id"])
    except TrackingIdError:
        raise Open311Error(404, "service_request_id not found") from None
    client = await _client(request)
    report = await rt.stores.reports.get(tid)
    pub = scope.public_report(report, by_id=True, own=_own(report, client))
    if pub is None:  # rahasia reports do not exist for the public
        raise Open311Error(404, "service_request_id not found")
    return respond(fmt, "service_requests", [as_request(pub, base_url=base_url(request), lang=_lang(request))],
                   headers={"Cache-Control": "private, no-store" if client else LIST_CACHE})


async def _unknown_path(request: web.Request) -> web.Response:
    return error(_guess_format(request), 404, "no such resource")


def build(runtime) -> web.Application:
    app = web.Application()
    keys = ApiKeyStore(runtime.stores.db)
    app[INTAKE_KEY] = intake = Intake(runtime, keys)

    async def _indexes(_app):
        try:
            await keys.ensure_indexes()
            await intake.ensure_indexes()
        except Exception as exc:  # the server still answers; the next start retries
            log.warning("open311 indexes not created: %s", type(exc).__name__)

    app.on_startup.append(_indexes)
    fmt = "{fmt:[A-Za-z0-9]+}"
    app.router.add_get(f"/discovery.{fmt}", discovery)
    app.router.add_get(f"/services.{fmt}", service_list)
    app.router.add_get(f"/services/{{code:[^/.]+}}.{fmt}", service_definition)
    app.router.add_post(f"/requests.{fmt}", post_request)
    app.router.add_get(f"/requests.{fmt}", get_requests)
    app.router.add_get(f"/requests/{{id:[^/.]+}}.{fmt}", get_request)
    app.router.add_route("*", "/{tail:.*}", _unknown_path)
    return app
