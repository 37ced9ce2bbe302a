"""``/staff/users`` (admins): the people with an account, adding one (its setup link is shown once),
a new setup link for a forgotten password, disabling and enabling. Same rules as ``laporbot staff user``."""
from __future__ import annotations

from aiohttp import web

from bot.backoffice.accounts import AccountError, add_user, setup_url
from bot.backoffice.app import console
from bot.backoffice.pages import render
from bot.backoffice.principal import ADMIN, ROLES


def _admin(request: web.Request):
    user = request["staff"]
    if user.role != ADMIN:
        raise web.HTTPForbidden(text="errors.forbidden")
    return user


async def users_page(request: web.Request, *, link: str | None = None, link_for: str | None = None,
                     error: str | None = None, status: int = 200) -> web.Response:
    _admin(request)
    people = await console(request).users.list()
    return render(request, "users.html", status=status, people=people, roles=ROLES, link=link, link_for=link_for,
                  error=error)


async def users(request: web.Request) -> web.Response:
    return await users_page(request)


async def add(request: web.Request) -> web.Response:
    user = _admin(request)
    con = console(request)
    form = await request.post()
    email, role = str(form.get("email") or "")[:254], str(form.get("role") or "")
    agency = str(form.get("agency") or "").strip()[:64] or None
    try:
        doc, token = await add_user(con.runtime.stores.db, email, role, agency, created_by=f"staff:{user.id}")
    except AccountError:
        return await users_page(request, error="users.error_add", status=400)
    return await users_page(request, link=setup_url(con.runtime.settings, token, origin=str(request.url.origin())), link_for=doc["email"])


async def _target(request: web.Request) -> dict:
    doc = await console(request).users.get(request.match_info["user_id"])
    if doc is None:
        raise web.HTTPNotFound(text="errors.not_found")
    return doc


async def reset(request: web.Request) -> web.Response:
    user = _admin(request)
    con = console(request)
    doc = await _target(request)
    token = await con.users.new_setup_link(doc["email"])
    await con.record(user, "staff_user_reset", str(doc["_id"]))
    return await users_page(request, link=setup_url(con.runtime.settings, token, origin=str(request.url.origin())), link_for=doc["email"])


async def set_active(request: web.Request) -> web.Response:
    user = _admin(request)
    con = console(request)
    doc = await _target(request)
    active = request.match_info["action"] == "enable"
    if str(doc["_id"]) == user.id and not active:
        return await users_page(request, error="users.error_self", status=400)
    await con.users.set_active(doc["email"], active)
    if not active:
        await con.sessions.end_all(doc["_id"])
    await con.record(user, "staff_user_enable" if active else "staff_user_disable", str(doc["_id"]))
    raise web.HTTPSeeOther("/staff/users")


def routes() -> list[web.RouteDef]:
    return [web.get("/users", users), web.post("/users", add), web.post("/users/{user_id}/reset", reset),
            web.post("/users/{user_id}/{action:enable|disable}", set_active)]
