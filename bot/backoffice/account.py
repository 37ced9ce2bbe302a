"""Signing in and out, the one-time setup link, the home page and the person's own account page
(language, TOTP second factor, personal API tokens)."""
from __future__ import annotations

import base64

from aiohttp import web

from bot.backoffice import security, totp
from bot.backoffice.app import console
from bot.backoffice.i18n import LANGUAGES
from bot.backoffice.pages import render
from bot.backoffice.principal import ADMIN, OFFICER
from bot.storage.staff_users import MAX_PASSWORD, MIN_PASSWORD, normalize_email

HOME = {ADMIN: "/staff/reports", OFFICER: "/staff/reports"}


def _next(value: str | None) -> str:
    """Only a path inside the console (never another site) is a place to go back to after login."""
    if value and value.startswith("/staff/") and not value.startswith("//") and "\\" not in value \
            and len(value) < 500:
        return value
    return "/staff/"


async def login_page(request: web.Request) -> web.Response:
    if request.get("staff"):
        raise web.HTTPFound(_next(request.query.get("next")))
    return render(request, "login.html", next=_next(request.query.get("next")), error=None, email="")


async def login(request: web.Request) -> web.Response:
    con = console(request)
    form = await request.post()
    email = normalize_email(str(form.get("email") or ""))[:254]
    password = str(form.get("password") or "")
    code = str(form.get("code") or "")
    nxt = _next(str(form.get("next") or ""))
    address = request.remote
    if await con.sessions.too_many_failures(email, address):
        await con.audit.record("anonymous", "staff_login_throttled", None, {"address": address})
        return render(request, "login.html", status=429, next=nxt, error="auth.throttled", email=email)
    doc = await con.users.check_password(email, password) if password else None
    if doc is not None and doc.get("totp_secret"):
        step = totp.matching_step(doc["totp_secret"], code)
        if step is None or not await con.users.use_totp_step(doc["_id"], step):
            doc = None
    if doc is None:
        await con.sessions.record_failure(email, address)
        await con.audit.record("anonymous", "staff_login_failed", None, {"address": address})
        return render(request, "login.html", status=401, next=nxt, error="auth.failed", email=email)
    await con.sessions.clear_failures(email)
    sid, _ = await con.sessions.create(doc["_id"], address=address)
    await con.audit.record(f"staff:{doc['_id']}", "staff_login", str(doc["_id"]), {"address": address})
    resp = web.HTTPSeeOther(nxt)
    security.set_session_cookie(request, resp, con.key, sid)
    raise resp


async def logout(request: web.Request) -> web.Response:
    con = console(request)
    await con.sessions.end(request["session_id"])
    await con.record(request["staff"], "staff_logout", request["staff"].id)
    resp = web.HTTPSeeOther("/staff/login")
    security.clear_session_cookie(resp)
    raise resp


async def setup_page(request: web.Request) -> web.Response:
    doc = await console(request).users.by_setup_token(request.match_info["token"])
    if doc is None:
        raise web.HTTPGone(text="errors.link_invalid")
    return render(request, "setup.html", email=doc["email"], error=None, min_chars=MIN_PASSWORD)


async def setup(request: web.Request) -> web.Response:
    con = console(request)
    token = request.match_info["token"]
    doc = await con.users.by_setup_token(token)
    if doc is None:
        raise web.HTTPGone(text="errors.link_invalid")
    form = await request.post()
    password, again = str(form.get("password") or ""), str(form.get("password_confirm") or "")
    error = ("auth.password_short" if len(password) < MIN_PASSWORD else
             "auth.password_long" if len(password) > MAX_PASSWORD else
             "auth.password_mismatch" if password != again else None)
    if error:
        return render(request, "setup.html", status=400, email=doc["email"], error=error, min_chars=MIN_PASSWORD)
    doc = await con.users.complete_setup(token, password)
    if doc is None:  # used or expired between the two reads
        raise web.HTTPGone(text="errors.link_invalid")
    await con.sessions.end_all(doc["_id"])
    sid, _ = await con.sessions.create(doc["_id"], address=request.remote)
    await con.audit.record(f"staff:{doc['_id']}", "staff_account_setup", str(doc["_id"]), {"email": doc["email"]})
    resp = web.HTTPSeeOther("/staff/")
    security.set_session_cookie(request, resp, con.key, sid)
    raise resp


async def home(request: web.Request) -> web.Response:
    user = request["staff"]
    if user.role in HOME:
        raise web.HTTPFound(HOME[user.role])
    return render(request, "home.html")


# ------------------------------------------------------------------ account page
async def account_page(request: web.Request, *, new_token: str | None = None, error: str | None = None,
                       status: int = 200) -> web.Response:
    con = console(request)
    user = request["staff"]
    doc = await con.users.get(user.id)
    pending = doc.get("totp_pending")
    qr = None
    if pending:
        import segno

        svg = segno.make(totp.uri(pending, user.email), error="m").svg_inline(scale=4)
        qr = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    tokens = await con.users.tokens_of(user.id) if user.role in (ADMIN, OFFICER) else []
    return render(request, "account.html", status=status, totp_on=bool(doc.get("totp_secret")), pending=pending,
                  qr=qr, tokens=tokens, new_token=new_token, error=error,
                  can_tokens=user.role in (ADMIN, OFFICER))


async def account(request: web.Request) -> web.Response:
    return await account_page(request)


async def set_lang(request: web.Request) -> web.Response:
    form = await request.post()
    lang = form.get("lang")
    if lang not in LANGUAGES:
        raise web.HTTPBadRequest(text="errors.bad_input")
    await console(request).users.set_lang(request["staff"].id, lang)
    resp = web.HTTPSeeOther("/staff/account")
    resp.del_cookie("lang")
    raise resp


async def totp_start(request: web.Request) -> web.Response:
    con = console(request)
    await con.users.set_totp_pending(request["staff"].id, totp.new_secret())
    raise web.HTTPSeeOther("/staff/account")


async def totp_confirm(request: web.Request) -> web.Response:
    con = console(request)
    user = request["staff"]
    doc = await con.users.get(user.id)
    form = await request.post()
    step = totp.matching_step(doc.get("totp_pending") or "", str(form.get("code") or ""))
    if step is None:
        return await account_page(request, error="account.totp_wrong", status=400)
    await con.users.set_totp(user.id, doc["totp_pending"])
    await con.users.use_totp_step(user.id, step)
    await con.record(user, "staff_totp_on", user.id)
    raise web.HTTPSeeOther("/staff/account")


async def totp_off(request: web.Request) -> web.Response:
    con = console(request)
    user = request["staff"]
    doc = await con.users.get(user.id)
    form = await request.post()
    step = totp.matching_step(doc.get("totp_secret") or "", str(form.get("code") or ""))
    if step is None or not await con.users.use_totp_step(user.id, step):
        return await account_page(request, error="account.totp_wrong", status=400)
    await con.users.set_totp(user.id, None)
    await con.record(user, "staff_totp_off", user.id)
    raise web.HTTPSeeOther("/staff/account")


async def token_create(request: web.Request) -> web.Response:
    con = console(request)
    user = request["staff"]
    if user.role not in (ADMIN, OFFICER):
        raise web.HTTPForbidden(text="errors.forbidden")
    form = await request.post()
    label = str(form.get("label") or "").strip()[:80] or "API"
    token, doc = await con.users.issue_token(await con.users.get(user.id), label)
    await con.record(user, "staff_api_token", user.id, {"token_id": str(doc["_id"])})
    return await account_page(request, new_token=token)


async def token_revoke(request: web.Request) -> web.Response:
    con = console(request)
    user = request["staff"]
    if not await con.users.revoke_token(user.id, request.match_info["token_id"]):
        raise web.HTTPNotFound(text="errors.not_found")
    await con.record(user, "staff_api_token_revoke", user.id, {"token_id": request.match_info["token_id"]})
    raise web.HTTPSeeOther("/staff/account")


def routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_page), web.post("/login", login), web.post("/logout", logout),
        web.get("/setup/{token}", setup_page), web.post("/setup/{token}", setup),
        web.get("/", home), web.get("/account", account), web.post("/account/lang", set_lang),
        web.post("/account/totp", totp_start), web.post("/account/totp/confirm", totp_confirm),
        web.post("/account/totp/off", totp_off), web.post("/account/tokens", token_create),
        web.post("/account/tokens/{token_id}/revoke", token_revoke),
    ]

