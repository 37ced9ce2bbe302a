"""Rendering back-office pages: one autoescaping jinja2 environment over ``templates/backoffice/``."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.backoffice.i18n import LANGUAGES, translate

ROOT = Path(__file__).resolve().parents[2] / "templates" / "backoffice"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(ROOT)), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def language(request: web.Request) -> str:
    """``?lang=`` wins, then the ``lang`` cookie, then the signed-in person's language, then Indonesian."""
    for lang in (request.query.get("lang"), request.cookies.get("lang")):
        if lang in LANGUAGES:
            return lang
    user = request.get("staff")
    return getattr(user, "lang", None) or "id"


def render(request: web.Request, name: str, *, status: int = 200, **ctx) -> web.Response:
    lang = language(request)
    html = environment().get_template(name).render(
        user=request.get("staff"), csrf_token=request.get("csrf_token", ""), lang=lang, path=request.path,
        t=lambda key, **p: translate(key, lang, **p), **ctx)
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.query.get("lang") in LANGUAGES:
        resp.set_cookie("lang", lang, httponly=True, samesite="Lax", max_age=365 * 86400)
    resp.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp
