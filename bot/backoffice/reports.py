"""Reports: the inbox (``/reports``), its CSV export, the report page and what staff do on it
(transition, internal note, re-route, return to the administrators) and the agencies' canned replies.

Every report leaves through ``bot.staff.views.serialize_report`` with the caller's API principal, so the
console shows exactly what the API would show that person. Campaign and coordinator roles get 403;
a report outside an officer's agency is 404 (the same as an unknown ID).
"""
from __future__ import annotations

import csv
import io
import re

from aiohttp import web

from bot import agencies
from bot import reports as domain
from bot.backoffice import inbox
from bot.backoffice.app import console
from bot.backoffice.images import strip_metadata
from bot.backoffice.pages import label_keys, render
from bot.backoffice.principal import ADMIN, OFFICER, api_principal
from bot.messages import utcnow
from bot.staff.views import serialize_report

MAX_NOTE_CHARS = 8000
MAX_TITLE_CHARS = 120
STAFF_TARGETS = (domain.TERVERIFIKASI, domain.DITERUSKAN, domain.DITANGGAPI, domain.SELESAI, domain.DIARSIPKAN)
OFFICER_TARGETS = (domain.DITANGGAPI,)
INLINE_IMAGES = ("image/jpeg", "image/png", "image/gif", "image/webp")
CSV_MAX = 10_000


def _services(runtime):
    staff = runtime.staff
    if staff is None:
        from bot.staff.services import register

        staff = register(runtime)
    return staff


def _who(request: web.Request):
    """(person, API principal); 403 for roles without reports."""
    user = request["staff"]
    who = api_principal(user) if user.can(OFFICER) else None
    if who is None:
        raise web.HTTPForbidden(text="errors.forbidden")
    return user, who


async def _scoped(request: web.Request, who) -> dict:
    tid = (request.match_info["tracking_id"] or "").strip().upper()
    report = await console(request).runtime.stores.reports.get(tid) if 0 < len(tid) <= 40 else None
    if report is None or (not who.is_admin and report.get("agency") != who.agency):
        raise web.HTTPNotFound(text="errors.not_found")  # out of scope looks like unknown
    return report


def _text(form, key: str, limit: int) -> str:
    value = form.get(key)
    value = value if isinstance(value, str) else ""
    if len(value) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(value), text="errors.too_large")
    return value.strip()


def moves(report: dict, who) -> list[str]:
    """The transitions this caller may make from the report's current status."""
    legal = domain.TRANSITIONS.get(report.get("status"), frozenset())
    targets = STAFF_TARGETS if who.is_admin else OFFICER_TARGETS
    return [t for t in targets if t in legal]


# ------------------------------------------------------------------ inbox and export
async def inbox_page(request: web.Request) -> web.Response:
    user, who = _who(request)
    rt = console(request).runtime
    f = inbox.parse(request, admin=who.is_admin)
    now = utcnow()
    ids, counts = await inbox.select(rt.stores.reports, f, scope_agency=None if who.is_admin else who.agency,
                                     now=now)
    pages = max(1, -(-len(ids) // inbox.PAGE_SIZE))
    page = min(f.page, pages)
    chunk = ids[(page - 1) * inbox.PAGE_SIZE: page * inbox.PAGE_SIZE]
    items = []
    for raw in await inbox.load(rt.stores.reports, chunk):
        item = serialize_report(raw, who, now=now, base_url="/staff")
        item["deadline"] = inbox.deadline(raw)
        item["returned"] = bool(raw.get("returned")) and who.is_admin
        items.append(item)
    return render(request, "reports/inbox.html", items=items, counts=counts, total=len(ids), page=page, pages=pages,
                  f=f, statuses=domain.STATUSES, privacies=domain.PRIVACY, is_admin=who.is_admin, now=now,
                  returned_notice=request.query.get("returned") == "1", categories=label_keys("category"),
                  regions=inbox.region_groups())


CSV_COLUMNS = ("tracking_id", "status", "type", "category", "privacy", "agency", "region", "province",
               "created_at", "deadline", "overdue", "supporters", "reporter", "description")


def _cell(value) -> str:
    """No formula injection: a cell that a spreadsheet would evaluate starts with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def export_csv(request: web.Request) -> web.Response:
    user, who = _who(request)
    con = console(request)
    f = inbox.parse(request, admin=who.is_admin)
    now = utcnow()
    ids, _ = await inbox.select(con.runtime.stores.reports, f,
                                scope_agency=None if who.is_admin else who.agency, now=now)
    out = io.StringIO()
    w = csv.writer(out)
    cols = CSV_COLUMNS + (("channel",) if who.is_admin else ())
    w.writerow(cols)
    ids = ids[:CSV_MAX]
    for start in range(0, len(ids), 500):
        for raw in await inbox.load(con.runtime.stores.reports, ids[start:start + 500]):
            r = serialize_report(raw, who, now=now, base_url="/staff")
            due = inbox.deadline(raw)
            row = {**r, "region": r["location"].get("region_name"), "province": r["location"].get("province_name"),
                   "deadline": due.isoformat() if due else "", "reporter": (r.get("reporter") or {}).get("name")}
            w.writerow([_cell(row.get(c)) for c in cols])
    await con.record(user, "reports_export", None, {"rows": len(ids), "filters": f.values})
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="laporan.csv"',
                                 "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


# ------------------------------------------------------------------ one report
async def report_view(request: web.Request, *, status: int = 200, error: str | None = None,
                      note_text: str | None = None) -> web.Response:
    user, who = _who(request)
    con = console(request)
    report = await _scoped(request, who)
    tid = report["tracking_id"]
    staff = _services(con.runtime)
    notes = await staff.notifier.statuses(tid) if who.is_admin else None
    r = serialize_report(report, who, now=utcnow(), notifications=notes, base_url="/staff")
    if not who.is_admin and request.method == "GET":  # the agency has now seen the citizen's latest activity
        await con.runtime.stores.reports.seen_by_agency(report)
    canned = await con.notes.canned_for(None if who.is_admin else who.agency)
    if note_text is None and request.query.get("canned"):
        chosen = next((c for c in canned if str(c["_id"]) == request.query["canned"]), None)
        note_text = chosen["text"] if chosen else None
    suggested = agencies.get(report.get("agency_suggested")) if who.is_admin else None
    agency = agencies.get(report.get("agency"))
    returned = report.get("returned") if who.is_admin else None
    actors = {}
    for h in report.get("history") or []:
        actor = h.get("actor") or ""
        if actor.startswith("staff:") and actor not in actors:
            person = await con.users.get(actor[6:])
            actors[actor] = person["email"] if person else actor
    return render(request, "reports/report.html", status=status, r=r, moves=moves(report, who),
                  internal=await con.notes.for_report(tid), canned=canned, note_text=note_text or "",
                  suggested=suggested, agency=agency, error=error, actors=actors, is_admin=who.is_admin,
                  returned=returned,
                  can_reroute=who.is_admin and report.get("status") == domain.DITERUSKAN,
                  can_return=not who.is_admin and report.get("status") == domain.DITERUSKAN,
                  done=request.query.get("done") if request.query.get("done") in domain.STATUSES + (
                      "note", "reroute", "return") else None,
                  max_note=MAX_NOTE_CHARS)


async def report_page(request: web.Request) -> web.Response:
    return await report_view(request)


async def transition(request: web.Request) -> web.Response:
    user, who = _who(request)
    con = console(request)
    report = await _scoped(request, who)
    form = await request.post()
    target = form.get("to")
    note = _text(form, "note", MAX_NOTE_CHARS) or None
    code = _text(form, "agency", 64)
    expected = form.get("from") or None
    if target not in STAFF_TARGETS or (expected is not None and expected not in domain.STATUSES):
        raise web.HTTPBadRequest(text="errors.bad_input")
    if target not in moves({"status": expected or report["status"]}, who):
        raise web.HTTPForbidden(text="errors.forbidden")
    agency = None
    if target == domain.DITERUSKAN:
        agency = agencies.get(code or report.get("agency_suggested"))
        if agency is None:
            return await report_view(request, status=400, error="reports.error_agency", note_text=note)
    if target == domain.DITANGGAPI and not note:
        return await report_view(request, status=400, error="reports.error_answer_required", note_text=note)
    try:
        await _services(con.runtime).transition(report["tracking_id"], target, actor=who.actor, note=note,
                                                agency=agency["code"] if agency else None, expected=expected)
    except domain.TransitionError:
        return await report_view(request, status=409, error="reports.error_conflict", note_text=note)
    except KeyError:
        raise web.HTTPNotFound(text="errors.not_found") from None
    raise web.HTTPSeeOther(f"/staff/reports/{report['tracking_id']}?done={target}")


async def add_note(request: web.Request) -> web.Response:
    user, who = _who(request)
    con = console(request)
    report = await _scoped(request, who)
    text = _text(await request.post(), "note", MAX_NOTE_CHARS)
    if not text:
        raise web.HTTPBadRequest(text="errors.bad_input")
    await con.notes.add(report["tracking_id"], user.id, user.email, text)
    await con.record(user, "report_note", report["tracking_id"], {"chars": len(text)})
    raise web.HTTPSeeOther(f"/staff/reports/{report['tracking_id']}?done=note")


async def reroute(request: web.Request) -> web.Response:
    """Admin: send a forwarded report to another agency (with a reason); the citizen hears the new agency."""
    user, who = _who(request)
    if not who.is_admin:
        raise web.HTTPForbidden(text="errors.forbidden")
    con = console(request)
    report = await _scoped(request, who)
    form = await request.post()
    reason = _text(form, "note", MAX_NOTE_CHARS)
    agency = agencies.get(_text(form, "agency", 64))
    if agency is None or not reason:
        return await report_view(request, status=400, error="reports.error_reroute")
    staff = _services(con.runtime)
    updated = await con.runtime.stores.reports.reassign(
        report["tracking_id"], agency["code"], expected_agency=report.get("agency"), actor=who.actor, note=reason,
        event="dialihkan", extra={**staff.sla.on_forward(utcnow()), "returned": None})
    if updated is None:
        return await report_view(request, status=409, error="reports.error_conflict")
    await con.record(user, "report_reroute", report["tracking_id"],
                     {"from": report.get("agency"), "to": agency["code"], "reason_chars": len(reason)})
    await staff.notifier.on_transition(updated, actor=who.actor)
    raise web.HTTPSeeOther(f"/staff/reports/{report['tracking_id']}?done=reroute")


async def return_to_admin(request: web.Request) -> web.Response:
    """Officer: "not ours" — the report leaves the agency's inbox and waits for an administrator."""
    user, who = _who(request)
    if who.is_admin:
        raise web.HTTPForbidden(text="errors.forbidden")
    con = console(request)
    report = await _scoped(request, who)
    reason = _text(await request.post(), "note", MAX_NOTE_CHARS)
    if not reason:
        return await report_view(request, status=400, error="reports.error_reason_required")
    updated = await con.runtime.stores.reports.reassign(
        report["tracking_id"], None, expected_agency=who.agency, actor=who.actor, note=reason, event="dikembalikan",
        extra={"returned": {"agency": who.agency, "reason": reason, "by": user.id, "at": utcnow()}})
    if updated is None:
        return await report_view(request, status=409, error="reports.error_conflict")
    await con.record(user, "report_return", report["tracking_id"], {"agency": who.agency,
                                                                    "reason_chars": len(reason)})
    raise web.HTTPSeeOther("/staff/reports?returned=1")


async def attachment(request: web.Request) -> web.StreamResponse:
    user, who = _who(request)
    con = console(request)
    report = await _scoped(request, who)
    n = request.match_info["n"]
    atts = report.get("attachments") or []
    if not (n.isascii() and n.isdigit()) or int(n) >= len(atts) or not atts[int(n)].get("gridfs_id"):
        raise web.HTTPNotFound(text="errors.not_found")
    att = atts[int(n)]
    from gridfs import AsyncGridFSBucket
    from gridfs.errors import NoFile

    try:
        stream = await AsyncGridFSBucket(con.runtime.stores.db).open_download_stream(att["gridfs_id"])
        data = await stream.read()
    except NoFile:
        raise web.HTTPNotFound(text="errors.not_found") from None
    mime = (att.get("mime_type") or "application/octet-stream").split(";")[0].strip().lower()
    inline = mime in INLINE_IMAGES
    if inline and not who.is_admin:  # agencies never get the GPS position or camera of a citizen's photo
        data = strip_metadata(data, mime)
        if data is None:
            raise web.HTTPNotFound(text="errors.not_found")
    await con.record(user, "attachment_view", report["tracking_id"], {"index": int(n)})
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", att.get("filename") or f"lampiran-{n}")[:100]
    return web.Response(body=data, content_type=mime if inline else "application/octet-stream", headers={
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store"})


# ------------------------------------------------------------------ canned replies
async def canned_page(request: web.Request, *, status: int = 200, error: str | None = None) -> web.Response:
    user, who = _who(request)
    items = await console(request).notes.canned_for(None if who.is_admin else who.agency)
    if who.is_admin:
        items = await console(request).notes.canned.find({}).sort([("agency", 1), ("title", 1)]).to_list(500)
    return render(request, "reports/canned.html", status=status, items=items, is_admin=who.is_admin, error=error,
                  max_note=MAX_NOTE_CHARS)


async def canned_add(request: web.Request) -> web.Response:
    user, who = _who(request)
    con = console(request)
    form = await request.post()
    title, text = _text(form, "title", MAX_TITLE_CHARS), _text(form, "text", MAX_NOTE_CHARS)
    agency = who.agency
    if who.is_admin:
        code = _text(form, "agency", 64)
        agency = agencies.get(code)["code"] if code and agencies.get(code) else None
        if code and agency is None:
            return await canned_page(request, status=400, error="reports.error_agency")
    if not title or not text:
        return await canned_page(request, status=400, error="reports.error_canned")
    doc = await con.notes.add_canned(agency, title, text, user.id)
    await con.record(user, "canned_add", str(doc["_id"]), {"agency": agency})
    raise web.HTTPSeeOther("/staff/canned")


async def canned_delete(request: web.Request) -> web.Response:
    user, who = _who(request)
    con = console(request)
    doc = await con.notes.get_canned(request.match_info["canned_id"])
    if doc is None or (not who.is_admin and doc.get("agency") != who.agency):
        raise web.HTTPNotFound(text="errors.not_found")
    await con.notes.delete_canned(doc["_id"], doc.get("agency"))
    await con.record(user, "canned_delete", str(doc["_id"]), {"agency": doc.get("agency")})
    raise web.HTTPSeeOther("/staff/canned")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/reports", inbox_page), web.get("/reports.csv", export_csv),
        web.get("/reports/{tracking_id}", report_page),
        web.post("/reports/{tracking_id}/transition", transition),
        web.post("/reports/{tracking_id}/notes", add_note),
        web.post("/reports/{tracking_id}/reroute", reroute),
        web.post("/reports/{tracking_id}/return", return_to_admin),
        web.get("/reports/{tracking_id}/attachments/{n}", attachment),
        web.get("/canned", canned_page), web.post("/canned", canned_add),
        web.post("/canned/{canned_id}/delete", canned_delete),
    ]
