"""Staff HTTP API under /api/v1 (JSON; OpenAPI document at /api/v1/openapi.json).

Roles: admin (``LAPOR_STAFF_TOKEN``) sees and moves every report; an agency token sees only the
reports forwarded to that agency and may only answer them (``ditanggapi``). Every report leaves
through ``views.serialize_report`` (privacy matrix there). Errors: ``{"error": code, "message": ...}``.
Routes are one table (``ROUTES``: method, path, handler, OpenAPI operation, role); bodies and query
parameters go through ``bot.untrusted`` (depth and size limits, strict integers and dates), so bad input is
a 4xx, never a 500.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Callable

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId

from bot import agencies
from bot import reports as domain
from bot.messages import utcnow
from bot.privacy import api as privacy_api
from bot.staff import stats as stats_mod
from bot.staff.auth import Principal, authenticate
from bot.staff.sla import overdue_query
from bot.staff.views import serialize_handoff, serialize_report
from bot.untrusted import BadInput, date_param, int_param, only_params, read_json_object

log = logging.getLogger(__name__)

PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024
MAX_BODY_DEPTH = 8  # our bodies are flat objects
MAX_NOTE_CHARS = 8000
MAX_PAGE = 100
STAFF_TARGETS = (domain.TERVERIFIKASI, domain.DITERUSKAN, domain.DITANGGAPI, domain.SELESAI, domain.DIARSIPKAN)
AGENCY_TARGETS = (domain.DITANGGAPI,)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> web.Response:
        headers = {"WWW-Authenticate": 'Bearer realm="lapor-staff"'} if self.status == 401 else None
        return web.json_response({"error": self.code, "message": self.message, **self.extra}, status=self.status,
                                 headers=headers)


def _staff(runtime):
    return runtime.staff  # assembled by Runtime.open


def _guarded(runtime, route: "Route"):
    """One handler per route: authenticate, check the role, turn ApiError/BadInput into a JSON 4xx."""
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            staff = _staff(runtime)
            who = await authenticate(request.headers.get("Authorization"), runtime.settings.lapor_staff_token,
                                     staff.tokens)
            if who is None:
                raise ApiError(401, "unauthorized", "missing or invalid bearer token")
            if route.admin_only and not who.is_admin:
                raise ApiError(403, "forbidden", "this action needs the administrator token")
            return await route.handler(request, runtime, staff, who)
        except BadInput as err:
            return ApiError(err.status, err.code, err.message).response()
        except ApiError as err:
            return err.response()
    handler.__name__ = route.handler.__name__.lstrip("_")
    return handler


def add_routes(app: web.Application, runtime) -> None:
    async def openapi(request):
        return web.json_response(openapi_document())

    app.router.add_get(f"{PREFIX}/openapi.json", openapi)
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, _guarded(runtime, route))
    privacy_api.add_routes(app, runtime)  # data rights: /contacts/{id}/data, /contacts/{id}/erase


# ------------------------------------------------------------------ helpers
def _scope(who: Principal) -> dict:
    return {} if who.is_admin else {"agency": who.agency}


async def _scoped_report(rt, who: Principal, tracking_id: str) -> dict:
    tid = (tracking_id or "").strip().upper()
    if not tid or len(tid) > 40:
        raise ApiError(404, "not_found", "no such report")
    report = await rt.stores.reports.get(tid)
    if report is None or (not who.is_admin and report.get("agency") != who.agency):
        raise ApiError(404, "not_found", "no such report")  # out of scope looks the same as unknown
    return report


async def _json_body(request: web.Request, allowed: set[str]) -> dict:
    body = await read_json_object(request, max_bytes=MAX_BODY_BYTES, max_depth=MAX_BODY_DEPTH)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unknown_fields", f"unknown fields: {', '.join(unknown)}", fields=unknown,
                       allowed=sorted(allowed))
    return body


def _opt_str(body: dict, key: str, max_chars: int) -> str | None:
    v = body.get(key)
    if v is None:
        return None
    if not isinstance(v, str):
        raise ApiError(400, "invalid_field", f"{key} must be a string")
    if len(v) > max_chars:
        raise ApiError(413, "too_large", f"{key} is longer than {max_chars} characters", limit=max_chars)
    return v


# ------------------------------------------------------------------ handlers
async def _list_reports(request, rt, staff, who: Principal):
    only_params(request.query, {"status", "category", "region", "agency", "overdue", "text", "limit", "offset"})
    q = request.query
    conds: list[dict] = [_scope(who)] if not who.is_admin else []
    if q.get("status"):
        sts = [s.strip() for s in q["status"].split(",") if s.strip()]
        if any(s not in domain.STATUSES for s in sts):
            raise ApiError(400, "invalid_parameter", f"status must be among {', '.join(domain.STATUSES)}")
        conds.append({"status": {"$in": sts}})
    if q.get("category"):
        conds.append({"category": q["category"]})
    if q.get("region"):
        reg = q["region"].strip()
        conds.append({"$or": [{"location.region_code": reg}, {"location.province_code": reg}]})
    if q.get("agency"):
        conds.append({"agency": q["agency"].strip().upper()})
    if q.get("overdue"):
        if q["overdue"] not in ("true", "false", "1", "0"):
            raise ApiError(400, "invalid_parameter", "overdue must be true or false")
        oq = overdue_query(utcnow())
        conds.append(oq if q["overdue"] in ("true", "1") else {"$nor": [oq]})
    if q.get("text"):
        text = q["text"][:200]
        conds.append({"$or": [{"description": {"$regex": re.escape(text), "$options": "i"}},
                              {"tracking_id": text.strip().upper()}]})
    limit = int_param(request.query, "limit", 20, 1, MAX_PAGE)
    offset = int_param(request.query, "offset", 0, 0, 10_000_000)
    query = {"$and": conds} if conds else {}
    total, docs = await rt.stores.reports.search(query, offset=offset, limit=limit)
    now = utcnow()
    return web.json_response({"items": [serialize_report(d, who, now=now) for d in docs], "total": total,
                              "limit": limit, "offset": offset})


async def _transition(request, rt, staff, who: Principal):
    report = await _scoped_report(rt, who, request.match_info["tracking_id"])
    body = await _json_body(request, {"to", "note", "agency", "from"})
    target = body.get("to")
    if not isinstance(target, str) or target not in STAFF_TARGETS:
        raise ApiError(400, "invalid_field", f"to must be one of {', '.join(STAFF_TARGETS)}")
    note = _opt_str(body, "note", MAX_NOTE_CHARS)
    note = note.strip() if note and note.strip() else None
    agency_code = _opt_str(body, "agency", 64)
    expected = body.get("from")
    if expected is not None and expected not in domain.STATUSES:
        raise ApiError(400, "invalid_field", f"from must be one of {', '.join(domain.STATUSES)}")
    if not who.is_admin and target not in AGENCY_TARGETS:
        raise ApiError(403, "forbidden", "an agency may only answer (ditanggapi) its reports")
    agency = None
    if target == domain.DITERUSKAN:
        code = agency_code or report.get("agency_suggested")
        agency = agencies.get(code) if code else None
        if agency is None:
            raise ApiError(400, "invalid_field", "agency: a known agency code is required to forward")
    elif agency_code is not None:
        raise ApiError(400, "invalid_field", "agency is only accepted with to=diteruskan")
    if target == domain.DITANGGAPI and not note:
        raise ApiError(400, "missing_field", "note (the agency's answer) is required for ditanggapi")
    try:
        updated, _ = await staff.transition(report["tracking_id"], target, actor=who.actor, note=note,
                                            agency=agency["code"] if agency else None, expected=expected)
    except KeyError:
        raise ApiError(404, "not_found", "no such report") from None
    except domain.TransitionError as err:
        raise ApiError(409, "illegal_transition", str(err), current=err.current, target=err.target,
                       allowed=sorted(domain.TRANSITIONS.get(err.current, ()))) from None
    notes = await staff.notifier.statuses(updated["tracking_id"])
    return web.json_response(serialize_report(updated, who, now=utcnow(), notifications=notes))


async def _attachment(request, rt, staff, who: Principal):
    report = await _scoped_report(rt, who, request.match_info["tracking_id"])
    n = request.match_info["n"]
    atts = report.get("attachments") or []
    if not (n.isascii() and n.isdigit()) or len(n) > 4 or int(n) >= len(atts) or not atts[int(n)].get("gridfs_id"):
        raise ApiError(404, "not_found", "no such attachment")
    att = atts[int(n)]
    data = await rt.stores.files.read(att["gridfs_id"])
    if data is None:
        raise ApiError(404, "not_found", "attachment bytes not stored")
    await staff.audit.record(who.actor, "attachment_download", report["tracking_id"], {"index": int(n)})
    filename = re.sub(r"[^A-Za-z0-9._-]+", "_", att.get("filename") or f"lampiran-{n}")[:100]
    return web.Response(body=data, content_type=(att.get("mime_type") or "application/octet-stream").split(";")[0],
                        headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                 "X-Content-Type-Options": "nosniff"})


async def _stats(request, rt, staff, who: Principal):
    only_params(request.query, set(stats_mod.PARAMS))
    try:
        f = stats_mod.parse_query(request.query)
    except ValueError as err:
        raise ApiError(400, "invalid_parameter", str(err)) from None
    if not who.is_admin:
        f["agency"] = who.agency  # an agency sees its own figures only, whatever it asks
    result = await stats_mod.compute(rt.stores, now=utcnow(), **f)
    return web.json_response(result)


async def _get_report(request, rt, staff, who: Principal):
    report = await _scoped_report(rt, who, request.match_info["tracking_id"])
    notes = await staff.notifier.statuses(report["tracking_id"])
    return web.json_response(serialize_report(report, who, now=utcnow(), notifications=notes))


async def _post_invite(request, rt, staff, who: Principal):
    body = await _json_body(request, {"note", "max_uses"})
    note = _opt_str(body, "note", 500)
    max_uses = body.get("max_uses", 1)
    if not isinstance(max_uses, int) or isinstance(max_uses, bool) or not 1 <= max_uses <= 10000:
        raise ApiError(400, "invalid_field", "max_uses must be an integer from 1 to 10000")
    inv = await rt.stores.volunteers.create_invite(who.actor, note=note, max_uses=max_uses)
    await staff.audit.record(who.actor, "volunteer_invite", inv["code"], {"max_uses": max_uses})
    return web.json_response({"code": inv["code"], "max_uses": inv["max_uses"], "note": inv.get("note"),
                              "created_at": inv["created_at"].isoformat()}, status=201)


async def _list_handoffs(request, rt, staff, who: Principal):
    only_params(request.query, {"status", "limit"})
    status = request.query.get("status", "open")
    if status not in ("open", "closed"):
        raise ApiError(400, "invalid_parameter", "status must be open or closed")
    limit = int_param(request.query, "limit", 50, 1, MAX_PAGE)
    docs = await rt.stores.handoffs.list(status, limit=limit)
    items = [serialize_handoff(d, await rt.stores.contacts.get(d["contact_id"])) for d in docs]
    return web.json_response({"items": items})


async def _reply_handoff(request, rt, staff, who: Principal):
    try:
        hid = ObjectId(request.match_info["handoff_id"])
    except (InvalidId, TypeError):
        raise ApiError(404, "not_found", "no such handoff") from None
    body = await _json_body(request, {"text", "close"})
    text = _opt_str(body, "text", MAX_NOTE_CHARS)
    if not text or not text.strip():
        raise ApiError(400, "missing_field", "text is required")
    close = body.get("close", False)
    if not isinstance(close, bool):
        raise ApiError(400, "invalid_field", "close must be true or false")
    doc = await rt.stores.handoffs.get(hid)
    contact = await rt.stores.contacts.get(doc["contact_id"]) if doc else None
    if doc is None or contact is None:
        raise ApiError(404, "not_found", "no such handoff")
    msg = await staff.notifier.direct(contact, "notify/staff_reply", kind="notification", priority=1,
                                      text=text.strip(), tracking_id=doc.get("tracking_id"))
    await rt.stores.handoffs.add_reply(hid, who.actor, text.strip(), close=close)
    await staff.audit.record(who.actor, "handoff_reply", str(hid), {"close": close, "chars": len(text)})
    doc = await rt.stores.handoffs.get(hid)
    return web.json_response({"handoff": serialize_handoff(doc, contact),
                              "message": {"id": str(msg.message_id), "status": "queued"}})


# ------------------------------------------------------------------ routes and their OpenAPI description
_ERROR_TEXTS = {400: "bad request (malformed JSON, unknown fields, invalid values)", 401: "missing or wrong token",
                403: "not allowed for this role", 404: "unknown or out of scope",
                409: "illegal transition or lost race", 413: "body or note too large"}
_TID = {"name": "tracking_id", "in": "path", "required": True, "schema": {"type": "string"}}
_REPORT = {"$ref": "#/components/schemas/Report"}


def _responses(desc: str, schema: dict | None = None, *codes: int) -> dict:
    out = {"200": {"description": desc, "content": {"application/json": {"schema": schema or {"type": "object"}}}}}
    for c in (401,) + codes:
        out[str(c)] = {"description": _ERROR_TEXTS[c],
                       "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return out


def _q(name: str, desc: str, typ: str = "string") -> dict:
    return {"name": name, "in": "query", "required": False, "description": desc, "schema": {"type": typ}}


def _body(schema: dict, required: bool = True) -> dict:
    return {**({"required": True} if required else {}), "content": {"application/json": {"schema": schema}}}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # under PREFIX, OpenAPI style
    handler: Callable
    doc: dict  # the OpenAPI operation
    admin_only: bool = False


ROUTES: tuple[Route, ...] = (
    Route("GET", "/reports", _list_reports, {
        "summary": "List reports (agency: only its own)", "parameters": [
            _q("status", "comma-separated statuses"), _q("category", "category"),
            _q("region", "region or province code"), _q("agency", "agency code"), _q("overdue", "true|false"),
            _q("text", "words in the description or a tracking ID"),
            _q("limit", "page size (1-100, default 20)", "integer"), _q("offset", "skip this many", "integer")],
        "responses": _responses("a page of reports: items, total, limit, offset", None, 400)}),
    Route("GET", "/reports/{tracking_id}", _get_report, {
        "summary": "One report with history and notification statuses", "parameters": [_TID],
        "responses": _responses("the report", _REPORT, 404)}),
    Route("POST", "/reports/{tracking_id}/transitions", _transition, {
        "summary": "Move a report (admin: any legal step; agency: ditanggapi only)", "parameters": [_TID],
        "requestBody": _body({"$ref": "#/components/schemas/Transition"}),
        "responses": _responses("the updated report", _REPORT, 400, 403, 404, 409, 413)}),
    Route("GET", "/reports/{tracking_id}/attachments/{n}", _attachment, {
        "summary": "Download attachment n (0-based)",
        "parameters": [_TID, {"name": "n", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "the file bytes"}, "401": {"description": _ERROR_TEXTS[401]},
                      "404": {"description": _ERROR_TEXTS[404]}}}),
    Route("GET", "/stats", _stats, {
        "summary": "Monitoring figures per group", "parameters": [
            _q("by", "province|agency|category"), _q("from", "YYYY-MM-DD (inclusive)"),
            _q("to", "YYYY-MM-DD (inclusive)"), _q("province", "province code"), _q("category", "category"),
            _q("agency", "agency code (an agency token always gets its own)"),
            _q("every", "day|week|month: period of the series (default from the span)")],
        "responses": _responses("groups and total: received, verified, forwarded, answered, settled, archived, "
                                "in_progress, overdue, pct_forwarded, pct_archived, pct_settled, "
                                "median_days_to_settle, avg_rating, SLA compliance; channels; series by status",
                                None, 400)}),
    Route("POST", "/volunteers/invites", _post_invite, {
        "summary": "Create a Kawan LAPOR! invite code (admin)",
        "requestBody": _body({"type": "object", "additionalProperties": False, "properties": {
            "note": {"type": "string"}, "max_uses": {"type": "integer"}}}, required=False),
        "responses": {**_responses("unused", None, 400, 403), "201": {"description": "the invite code"}}},
        admin_only=True),
    Route("GET", "/handoffs", _list_handoffs, {
        "summary": "Citizens who asked to talk to a person (admin)",
        "parameters": [_q("status", "open|closed"), _q("limit", "1-100", "integer")],
        "responses": _responses("items", None, 400, 403)}, admin_only=True),
    Route("POST", "/handoffs/{handoff_id}/reply", _reply_handoff, {
        "summary": "Reply to a citizen through their channel (admin)",
        "parameters": [{"name": "handoff_id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "requestBody": _body({"type": "object", "additionalProperties": False, "required": ["text"],
                              "properties": {"text": {"type": "string"}, "close": {"type": "boolean"}}}),
        "responses": _responses("the handoff and the queued message", None, 400, 403, 404, 413)},
        admin_only=True),
)


def _schemas() -> dict:
    report_fields = (("tracking_id", "string"), ("type", "string"), ("category", "string"),
                     ("description", "string"), ("location", "object"), ("incident_date", "string"),
                     ("privacy", "string"), ("agency", "string"), ("status", "string"), ("history", "array"),
                     ("attachments", "array"), ("channel", "string"), ("created_at", "string"),
                     ("rating", "object"), ("supporters", "integer"), ("volunteer", "object"),
                     ("reporter", "object"), ("deadlines", "object"), ("overdue", "boolean"),
                     ("notifications", "array"))
    return {
        "Error": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
        "Transition": {"type": "object", "additionalProperties": False, "required": ["to"], "properties": {
            "to": {"type": "string", "enum": list(STAFF_TARGETS)},
            "note": {"type": "string", "maxLength": MAX_NOTE_CHARS},
            "agency": {"type": "string", "description": "agency code, for diteruskan"},
            "from": {"type": "string", "enum": list(domain.STATUSES),
                     "description": "the status the caller saw; 409 if it changed"}}},
        "Report": {"type": "object", "properties": {k: {"type": t} for k, t in report_fields}},
    }


def openapi_document() -> dict:
    paths: dict = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = route.doc
    return {
        "openapi": "3.0.3",
        "info": {"title": "LAPOR! Bot staff API", "version": "1.0",
                 "description": "Report lifecycle for LAPOR! administrators (admin token) and agencies (agency "
                                "tokens from `laporbot staff token --agency CODE`). Agencies see only reports "
                                "forwarded to them, never the reporter of anonim/rahasia reports, never channel ids."},
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": _schemas()},
        "paths": {**paths, **privacy_api.OPENAPI_PATHS},
    }
