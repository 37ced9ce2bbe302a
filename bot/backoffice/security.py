"""Sessions, CSRF and request limits for ``/staff``: the three middlewares every console page runs behind.

- Session cookie ``lapor_staff``: ``<session id>.<HMAC>``; HttpOnly, SameSite=Lax, Path=/staff (Secure when
  ``LAPOR_PUBLIC_URL`` is https). The record in ``staff_sessions`` decides (logout and revocation work).
- CSRF: every non-GET request carries ``csrf_token`` (form field or ``X-CSRF-Token`` header) equal to the
  session's token; before sign-in, the token is bound to a random ``lapor_staff_pre`` cookie instead.
- Bodies over ``MAX_FORM_BYTES`` answer 413; errors render as HTML pages, never tracebacks.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from aiohttp import web

from bot.backoffice.principal import StaffUser
from bot.kept_keys import kept_key

log = logging.getLogger(__name__)

COOKIE = "lapor_staff"
PRE_COOKIE = "lapor_staff_pre"
PREFIX = "/staff"
MAX_FORM_BYTES = 64 * 1024
PUBLIC = ("/login", "/setup/", "/static/")


def load_key(settings) -> bytes:
    """HMAC key of staff sessions (``bot/kept_keys.py``)."""
    return kept_key(settings, "staff")


def sign(key: bytes, value: str) -> str:
    return f"{value}.{hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:40]}"


def unsign(key: bytes, raw: str | None) -> str | None:
    value, _, mac = (raw or "").rpartition(".")
    if not value or not mac or len(raw) > 200:
        return None
    good = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:40]
    return value if hmac.compare_digest(mac, good) else None


def pre_token(key: bytes, pre: str) -> str:
    return hmac.new(key, ("csrf:" + pre).encode(), hashlib.sha256).hexdigest()


def relative(request: web.Request) -> str:
    path = request.path
    return path[len(PREFIX):] if path.startswith(PREFIX) else path


def secure_cookies(request: web.Request) -> bool:
    from bot.appkeys import RUNTIME_KEY

    url = getattr(request.config_dict[RUNTIME_KEY].settings, "lapor_public_url", None) or ""
    return url.startswith("https://")


def set_session_cookie(request: web.Request, resp: web.StreamResponse, key: bytes, sid: str) -> None:
    resp.set_cookie(COOKIE, sign(key, sid), httponly=True, samesite="Lax", path=PREFIX,
                    secure=secure_cookies(request))


def clear_session_cookie(resp: web.StreamResponse) -> None:
    resp.del_cookie(COOKIE, path=PREFIX)


@web.middleware
async def html_errors(request: web.Request, handler):
    """Errors become a short HTML page in the reader's language; no traceback reaches a browser."""
    from bot.backoffice.pages import render

    if request.path == PREFIX:
        raise web.HTTPFound(PREFIX + "/")
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(request, "error.html", status=exc.status, code=exc.status,
                      reason=(exc.text if exc.text and exc.text.startswith("errors.") else ""))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(request, "error.html", status=500, code=500, reason="")


@web.middleware
async def limit_body(request: web.Request, handler):
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if request.content_length is not None and request.content_length > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=request.content_length,
                                                text="errors.too_large")
        body = await request.read()  # cached: request.post() parses these bytes
        if len(body) > MAX_FORM_BYTES:
            raise web.HTTPRequestEntityTooLarge(max_size=MAX_FORM_BYTES, actual_size=len(body),
                                                text="errors.too_large")
    return await handler(request)


def session_auth(console):
    """Resolve the session into ``request['staff']``; check CSRF on every non-GET; send strangers to log in."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        rel = relative(request)
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        sid = unsign(console.key, request.cookies.get(COOKIE))
        session = await console.sessions.touch(sid) if sid else None
        user = None
        if session is not None:
            doc = await console.users.get(session["user_id"])
            if doc and doc.get("active") and doc.get("password_hash"):
                user = StaffUser(id=str(doc["_id"]), email=doc["email"], role=doc["role"], agency=doc.get("agency"),
                                 lang=doc.get("lang") or "id")
        new_pre = None
        if user is not None:
            request["staff"], request["session"], request["session_id"] = user, session, sid
            request["csrf_token"] = session["csrf"]
        else:
            pre = unsign(console.key, request.cookies.get(PRE_COOKIE))
            if pre is None:
                pre = new_pre = secrets.token_urlsafe(24)
            request["csrf_token"] = pre_token(console.key, pre)
        if unsafe:
            sent = request.headers.get("X-CSRF-Token")
            if sent is None:
                form = await request.post()
                sent = form.get("csrf_token")
            if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), request["csrf_token"].encode()) \
                    or new_pre is not None:
                raise web.HTTPForbidden(text="errors.csrf")
        if user is None and not rel.startswith(PUBLIC):
            if unsafe:
                raise web.HTTPUnauthorized(text="errors.signed_out")
            target = request.path_qs if request.path_qs.startswith(PREFIX) else PREFIX + "/"
            from urllib.parse import quote

            resp = web.HTTPFound(f"{PREFIX}/login?next={quote(target, safe='')}")
            if new_pre:
                resp.set_cookie(PRE_COOKIE, sign(console.key, new_pre), httponly=True, samesite="Strict",
                                path=PREFIX, secure=secure_cookies(request))
            raise resp
        resp = await handler(request)
        if new_pre and isinstance(resp, web.StreamResponse) and not resp.prepared:
            resp.set_cookie(PRE_COOKIE, sign(console.key, new_pre), httponly=True, samesite="Strict", path=PREFIX,
                            secure=secure_cookies(request))
        if isinstance(resp, web.StreamResponse) and not resp.prepared and "Cache-Control" not in resp.headers \
                and not rel.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"
        return resp

    return middleware
