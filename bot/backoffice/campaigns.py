"""Campaign pages ``/staff/campaigns`` (admin and campaign staff; everyone else 403).

- list with live progress (``<name>/progress.json`` polled by ``_live.js`` while a run goes on; without
  JavaScript a reload shows the same numbers);
- create or edit in the page, or from a campaign file (YAML pasted or uploaded), validated by the campaign
  model and ``outreach.preview.preview`` exactly as ``laporbot campaign preview`` / ``POST /api/v1/campaigns``;
  "preview" shows the audience count and one rendered message per language and channel before saving;
- campaign page: settings, audience and rendered preview, start / pause / resume / cancel
  (``outreach.control``), a test send to a staff contact (``outreach.preview.send_test``);
- staff contacts (``_staff``): tag or untag the contacts test sends may go to;
- results: figures and the attribution table (``outreach.stats.campaign_stats``) with a QR code per sign-up
  code (``outreach.qr``).
Paths under ``/campaigns/_…`` are the console's own: campaign names never start with ``_``.
Every change is audited with the person's id.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from aiohttp import web
from bson import ObjectId

from bot.backoffice import campaign_form as cf
from bot.backoffice.i18n import translate
from bot.backoffice.pages import language, render
from bot.backoffice.principal import CAMPAIGN
from bot.appkeys import RUNTIME_KEY
from outreach import control

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,63}$")
DONE = ("saved", "started", "paused", "resumed", "cancelled", "test_sent", "test_queued", "tagged", "untagged")
LIVE_JS = Path(__file__).with_name("campaigns_live.js")


# ------------------------------------------------------------------ helpers
def _user(request: web.Request):
    user = request.get("staff")
    if user is None or not user.can(CAMPAIGN):
        raise web.HTTPForbidden()
    return user


def _rt(request: web.Request):
    return request.config_dict[RUNTIME_KEY]


def _out(request: web.Request):
    from outreach.dispatch import install

    return install(_rt(request))


async def _audit(request: web.Request, action: str, target: str, details: dict | None = None) -> None:
    staff = getattr(_rt(request), "staff", None)
    if staff is not None:
        await staff.audit.record(f"staff:{request['staff'].id}", action, target, details or {})


async def _campaign(request: web.Request):
    name = request.match_info["name"]
    c = await _out(request).campaigns.get(name) if NAME_RE.match(name) else None
    if c is None:
        raise web.HTTPNotFound()
    return c


async def _form(request: web.Request):
    if request.content_length is not None and request.content_length > cf.MAX_SPEC_BYTES * 2:
        raise web.HTTPRequestEntityTooLarge(max_size=cf.MAX_SPEC_BYTES * 2, actual_size=request.content_length)
    return await request.post()


def _redirect(path: str, done: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/staff{path}?done={done}")


def _done(request: web.Request) -> str | None:
    d = request.query.get("done")
    return d if d in DONE else None


async def progress(rt, c) -> dict:
    """Figures of a campaign and its latest run: what the list and the campaign page show and poll."""
    from outreach.stats import campaign_stats

    s = await campaign_stats(rt, c)
    run_id, run = control.latest_run(await control_runs(rt, c.name))
    status = "running" if run_id and control.is_running_here(rt, run_id) else run.get("status") or "never"
    rate = 0.0
    if run_id:
        row = await rt.stores.messages.sent_span(run_id)
        if row is not None:
            span = (row["last"] - row["first"]).total_seconds()
            rate = round(60.0 * row["n"] / span, 1) if span > 0 else float(row["n"])
    done = s["sent"] + s["failed"]
    return {"campaign": c.name, "run": run_id, "status": status, "audience": s["audience"], "queued": s["queued"],
            "sent": s["sent"], "delivered": s["delivered"], "read": s["read"], "failed": s["failed"],
            "opted_out": s["opted_out"], "replies": s["replies"], "rate_per_min": rate,
            "pct_done": round(min(100.0, 100.0 * done / s["audience"]), 1) if s["audience"] else 0.0}


async def control_runs(rt, name: str) -> dict:
    from outreach.dispatch import install

    return await install(rt).campaigns.runs(name)


def _links() -> dict:
    return {"telegram_bot": os.environ.get("TELEGRAM_BOT_USERNAME"),
            "whatsapp_number": os.environ.get("WHATSAPP_DISPLAY_NUMBER")}


# ------------------------------------------------------------------ list, progress, script
async def list_page(request: web.Request) -> web.Response:
    _user(request)
    rt = _rt(request)
    rows = []
    for c in sorted(await _out(request).campaigns.all(), key=lambda c: c.name):
        rows.append({"c": c, "p": await progress(rt, c)})
    return render(request, "campaigns.html", rows=rows)


async def one_progress(request: web.Request) -> web.Response:
    _user(request)
    c = await _campaign(request)
    p = await progress(_rt(request), c)
    p["status_label"] = translate(f"campaigns.status_{p['status']}", language(request))
    return web.json_response(p, headers={"Cache-Control": "no-store"})


async def live_js(request: web.Request) -> web.Response:
    _user(request)
    return web.Response(text=LIVE_JS.read_text(encoding="utf-8"), content_type="application/javascript",
                        charset="utf-8", headers={"Cache-Control": "no-cache"})


# ------------------------------------------------------------------ create / edit / import
async def _show_form(request, values: dict, *, editing: str | None, errors=None, preview=None, status=200):
    return render(request, "campaigns_form.html", status=status, values=values, editing=editing,
                  errors=errors or [], preview=preview, template_files=cf.template_files(),
                  segments=_segments(), channels=_channels(), langs=_langs(), variants=cf.VARIANTS)


async def new_form(request: web.Request) -> web.Response:
    _user(request)
    return await _show_form(request, cf.fields_of(None), editing=None)


async def edit_form(request: web.Request) -> web.Response:
    _user(request)
    c = await _campaign(request)
    return await _show_form(request, cf.fields_of(c), editing=c.name)


async def post_form(request: web.Request) -> web.Response:
    """``action`` = preview | save | import (a campaign file into the form, nothing saved)."""
    user = _user(request)
    editing = None
    if "name" in request.match_info:
        editing = (await _campaign(request)).name
    form = await _form(request)
    action = form.get("action")
    if action == "import":
        upload = form.get("spec_file")
        text = upload.file.read(cf.MAX_SPEC_BYTES + 1).decode("utf-8", "replace") \
            if hasattr(upload, "file") else str(form.get("spec_text") or "")
        try:
            c = cf.from_yaml(text, name=editing)
        except cf.FormError as err:
            values = cf.fields_of(await _out(request).campaigns.get(editing)) if editing else cf.fields_of(None)
            return await _show_form(request, values, editing=editing, errors=err.errors, status=400)
        values = cf.fields_of(c)
        if editing:
            values["name"] = editing
        return await _show_form(request, values, editing=editing, preview=await _preview(request, c))
    try:
        values, c = cf.from_form(form)
    except cf.FormError as err:
        return await _show_form(request, err.values, editing=editing, errors=err.errors, status=400)
    if editing and c.name != editing:
        values["name"] = editing
        return await _show_form(request, values, editing=editing, status=400,
                                errors=[{"field": "name", "error": "the name of a campaign cannot change"}])
    p = await _preview(request, c)
    if action != "save" or p["errors"]:
        errors = [{"field": "template", "error": e} for e in p["errors"]] if action == "save" else []
        return await _show_form(request, values, editing=editing, preview=p, errors=errors,
                                status=400 if errors else 200)
    out = _out(request)
    if not editing and await out.campaigns.exists(c.name):
        return await _show_form(request, values, editing=None, preview=p, status=409,
                                errors=[{"field": "name", "error": "a campaign with this name exists"}])
    run_id, run = control.latest_run(await out.campaigns.runs(c.name))
    if run_id and (run.get("status") == "running" or control.is_running_here(_rt(request), run_id)):
        return await _show_form(request, values, editing=editing, preview=p, status=409,
                                errors=[{"field": "campaign", "error": "pause or cancel the running campaign first"}])
    from outreach.campaigns import save_codes

    await out.ensure_indexes()
    await out.campaigns.save(c, "console")
    await save_codes(out.codes, c)
    await _audit(request, "campaign_save", c.name, {"new": not editing, "by": user.email})
    raise _redirect(f"/campaigns/{c.name}", "saved")


async def _preview(request: web.Request, c) -> dict:
    from outreach.preview import preview

    return await preview(_rt(request), c)


# ------------------------------------------------------------------ campaign page, run controls, test send
async def detail(request: web.Request, *, error: str | None = None, detail_lines=(), status: int = 200):
    _user(request)
    c = await _campaign(request)
    rt = _rt(request)
    out = _out(request)
    runs = await out.campaigns.runs(c.name)
    run_id, run = control.latest_run(runs)
    doc = await out.campaigns.origin(c.name)
    staff_contacts = await rt.stores.contacts.tagged("staff", 200)
    return render(request, "campaigns_detail.html", status=status, c=c, p=await progress(rt, c),
                  preview=await _preview(request, c), run_id=run_id, run=run, runs=runs,
                  source=(doc or {}).get("source"), staff_contacts=staff_contacts, done=_done(request),
                  error=error, error_lines=list(detail_lines), live=control.is_running_here(rt, run_id or ""))


async def detail_page(request: web.Request) -> web.Response:
    return await detail(request)


async def run_action(request: web.Request) -> web.Response:
    _user(request)
    c = await _campaign(request)
    rt = _rt(request)
    action = request.match_info["action"]
    run_id, _ = control.latest_run(await control_runs(rt, c.name))
    try:
        if action == "start":
            run_id = await control.start(rt, c)
        elif run_id is None:
            raise control.RunError("not_running")
        elif action == "pause":
            await control.pause(rt, c.name, run_id)
        elif action == "resume":
            await control.resume(rt, c, run_id)
        else:
            await control.cancel(rt, c.name, run_id)
    except control.RunError as err:
        return await detail(request, error=err.code, detail_lines=err.detail, status=409)
    await _audit(request, f"campaign_{action}", run_id)
    raise _redirect(f"/campaigns/{c.name}",
                    {"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}[action])


async def test_send(request: web.Request) -> web.Response:
    from outreach.preview import NotStaff, send_test

    _user(request)
    c = await _campaign(request)
    form = await _form(request)
    ref = str(form.get("contact") or "").strip()
    try:
        if not ObjectId.is_valid(ref):
            raise LookupError(ref)
        r = await send_test(_rt(request), c, ref)
    except NotStaff:
        return await detail(request, error="not_staff", status=400)
    except LookupError:
        return await detail(request, error="no_contact", status=400)
    except ValueError as exc:
        return await detail(request, error="template_errors", detail_lines=[str(exc)], status=400)
    await _audit(request, "campaign_test_send", c.name, {"contact": ref, "channel": r["channel"]})
    raise _redirect(f"/campaigns/{c.name}", "test_sent" if r["sender"] else "test_queued")


# ------------------------------------------------------------------ staff contacts
async def staff_page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    _user(request)
    contacts = await _rt(request).stores.contacts.tagged("staff", 500)
    return render(request, "campaigns_staff.html", status=status, contacts=contacts, done=_done(request),
                  error=error)


async def staff_post(request: web.Request) -> web.Response:
    from outreach.preview import find_contact

    _user(request)
    form = await _form(request)
    rt = _rt(request)
    action = form.get("action")
    if action == "tag":
        ref = str(form.get("ref") or "").strip()[:200]
        contact = await find_contact(rt, ref) if ref else None
        if contact is None:
            return await staff_page(request, error="no_contact", status=400)
        await rt.stores.contacts.add_tag(contact["_id"], "staff")
    elif action == "untag":
        cid = str(form.get("contact") or "")
        if not ObjectId.is_valid(cid):
            return await staff_page(request, error="no_contact", status=400)
        contact = {"_id": ObjectId(cid)}
        if not await rt.stores.contacts.remove_tag(contact["_id"], "staff"):
            return await staff_page(request, error="no_contact", status=400)
    else:
        raise web.HTTPBadRequest()
    await _audit(request, f"staff_contact_{action}", str(contact["_id"]))
    raise _redirect("/campaigns/_staff", f"{action}ged")


# ------------------------------------------------------------------ results, QR
async def results(request: web.Request) -> web.Response:
    from outreach.stats import campaign_stats

    _user(request)
    c = await _campaign(request)
    rt = _rt(request)
    s = await campaign_stats(rt, c)
    attributed = {row["code"]: row for row in s["attribution"]["codes"]}
    codes = []
    for doc in await _out(request).codes.for_campaign(c.name):
        row = attributed.pop(doc["_id"], None) or {"signups": 0, "reports": 0}
        codes.append({"code": doc["_id"], "venue": doc.get("venue"), "institution": doc.get("institution"),
                      "segment": doc.get("segment"), "signups": row["signups"], "reports": row["reports"], "qr": True})
    for row in attributed.values():  # sign-ups without a code of this campaign (e.g. "-")
        codes.append({**row, "segment": None, "qr": False})
    links = _links()
    return render(request, "campaigns_results.html", c=c, s=s, codes=codes, p=await progress(rt, c),
                  qr_ready=bool(links["telegram_bot"] or links["whatsapp_number"]),
                  runs=await _out(request).campaigns.runs(c.name))


async def qr(request: web.Request) -> web.Response:
    from outreach.qr import qr_image, signup_link

    _user(request)
    c = await _campaign(request)
    kind = request.match_info["kind"]
    info = await _out(request).codes.lookup(request.match_info["code"])
    if kind not in ("svg", "png") or info is None or info.get("campaign") != c.name:
        raise web.HTTPNotFound()
    try:
        link = signup_link(info["code"], **_links())
    except ValueError:
        raise web.HTTPConflict(reason="set TELEGRAM_BOT_USERNAME or WHATSAPP_DISPLAY_NUMBER for sign-up links") from None
    body = qr_image(link, kind)
    return web.Response(body=body, content_type="image/svg+xml" if kind == "svg" else "image/png",
                        headers={"Content-Disposition": f'attachment; filename="{c.name}-{info["code"]}.{kind}"',
                                 "X-Content-Type-Options": "nosniff"})


def _segments():
    from outreach.codes import SEGMENTS

    return SEGMENTS


def _channels():
    from outreach.campaigns import CHANNELS

    return CHANNELS


def _langs():
    from outreach.campaigns import LANGS

    return LANGS


def routes() -> list[web.RouteDef]:
    return [
        web.get("/campaigns", list_page),
        web.get("/campaigns/_live.js", live_js),
        web.get("/campaigns/_new", new_form),
        web.post("/campaigns/_new", post_form),
        web.get("/campaigns/_staff", staff_page),
        web.post("/campaigns/_staff", staff_post),
        web.get(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}", detail_page),
        web.get(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/edit", edit_form),
        web.post(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/edit", post_form),
        web.get(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/progress.json", one_progress),
        web.post(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/{action:start|pause|resume|cancel}", run_action),
        web.post(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/test", test_send),
        web.get(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/results", results),
        web.get(r"/campaigns/{name:[a-z0-9][a-z0-9_-]{1,63}}/qr/{code}.{kind:svg|png}", qr),
    ]

