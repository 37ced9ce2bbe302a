"""Live conversations pages: ``/staff/handoffs`` (list) and ``/staff/handoffs/{id}`` (transcript, take, reply,
hand back). The live parts poll two JSON endpoints from ``handoffs.js``; without JavaScript a reload shows the
same. Scope and privacy: :mod:`bot.staff.handoff` (outside an officer's scope is 404, like a report).
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId

from bot.backoffice.pages import render
from bot.appkeys import RUNTIME_KEY
from bot.staff import handoff
from bot.storage.handoffs import CLOSED, REQUESTED, TAKEN

ROLES = ("officer",)  # admins too (StaffUser.can)
SCRIPT = Path(__file__).resolve().parent / "static" / "handoffs.js"
LIST_LIMIT = 300  # active handoffs read before the scope filter


def _user(request: web.Request):
    user = request["staff"]
    if not user.can(*ROLES):
        raise web.HTTPForbidden()
    return user


def _rt(request: web.Request):
    return request.config_dict[RUNTIME_KEY]


def _status_param(request: web.Request) -> str:
    status = request.query.get("status", "open")
    return status if status in ("open", CLOSED) else "open"


async def _listed(request: web.Request):
    user = _user(request)
    status = _status_param(request)
    docs = await _rt(request).stores.handoffs.list(status, limit=LIST_LIMIT)
    return user, status, await handoff.scope(_rt(request), user, docs)


async def _one(request: web.Request):
    user = _user(request)
    try:
        hid = ObjectId(request.match_info["handoff_id"])
    except (InvalidId, TypeError):
        raise web.HTTPNotFound() from None
    view = await handoff.one(_rt(request), user, hid)
    if view is None:
        raise web.HTTPNotFound()
    return user, view


def _transcript(view: handoff.View, user) -> list[dict]:
    return [{"who": e.get("who"), "text": e.get("text") or "", "kind": e.get("kind") or "text",
             "mine": e.get("actor") == user.id, "at": handoff.iso(e.get("at")),
             "at_local": handoff.local_time(e.get("at"))}
            for e in view.doc.get("transcript") or []]


async def list_page(request: web.Request) -> web.Response:
    user, status, views = await _listed(request)
    return render(request, "handoffs.html", tab=status, items=[v.for_json(user) for v in views])


async def list_json(request: web.Request) -> web.Response:
    user, status, views = await _listed(request)
    return web.json_response({"status": status, "items": [v.for_json(user) for v in views]},
                             headers={"Cache-Control": "no-store"})


async def detail_page(request: web.Request, *, error: str | None = None, status: int = 200,
                      text: str = "") -> web.Response:
    user, view = await _one(request)
    return render(request, "handoffs_detail.html", status=status, h=view.for_json(user),
                  transcript=_transcript(view, user), error=error, draft=text,
                  can_take=view.status == REQUESTED,
                  can_reply=view.status == TAKEN and view.doc.get("taken_by") == user.id,
                  can_close=(view.status == REQUESTED or (view.status == TAKEN and (
                      view.doc.get("taken_by") == user.id or user.role == "admin"))),
                  max_chars=_rt(request).settings.lapor_max_text_chars)


async def detail_json(request: web.Request) -> web.Response:
    user, view = await _one(request)
    return web.json_response({"handoff": view.for_json(user), "transcript": _transcript(view, user)},
                             headers={"Cache-Control": "no-store"})


def _back(view: handoff.View) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/staff/handoffs/{view.id}")


async def take(request: web.Request) -> web.Response:
    user, view = await _one(request)
    try:
        await handoff.take(_rt(request), view.doc, user)
    except handoff.Conflict:
        return await detail_page(request, error="handoffs.conflict_taken", status=409)
    raise _back(view)


async def reply(request: web.Request) -> web.Response:
    user, view = await _one(request)
    form = await request.post()
    text = str(form.get("text") or "").strip()
    limit = _rt(request).settings.lapor_max_text_chars
    if not text:
        return await detail_page(request, error="handoffs.error_empty", status=400)
    if len(text) > limit:
        return await detail_page(request, error="handoffs.error_too_long", status=413, text=text[:limit])
    try:
        await handoff.reply(_rt(request), view.doc, user, text)
    except handoff.Conflict:
        return await detail_page(request, error="handoffs.conflict_not_holder", status=409, text=text)
    raise _back(view)


async def close(request: web.Request) -> web.Response:
    user, view = await _one(request)
    try:
        await handoff.hand_back(_rt(request), view.doc, user)
    except handoff.Conflict:
        return await detail_page(request, error="handoffs.conflict_not_holder", status=409)
    raise _back(view)


async def script(request: web.Request) -> web.Response:
    _user(request)
    return web.Response(text=SCRIPT.read_text(encoding="utf-8"), content_type="application/javascript",
                        headers={"Cache-Control": "no-cache"})


ID = r"{handoff_id:[0-9a-fA-F]{24}}"


def routes() -> list[web.RouteDef]:
    return [
        web.get("/handoffs", list_page),
        web.get("/handoffs.json", list_json),
        web.get("/handoffs/live.js", script),
        web.get(f"/handoffs/{ID}", detail_page),
        web.get(f"/handoffs/{ID}/transcript.json", detail_json),
        web.post(f"/handoffs/{ID}/take", take),
        web.post(f"/handoffs/{ID}/reply", reply),
        web.post(f"/handoffs/{ID}/close", close),
    ]
