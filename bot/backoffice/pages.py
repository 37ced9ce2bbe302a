"""Rendering back-office pages: one autoescaping jinja2 environment over ``templates/backoffice/``."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from bot.backoffice.i18n import LANGUAGES, translate

ROOT = Path(__file__).resolve().parents[2] / "templates" / "backoffice"
WIB = ZoneInfo("Asia/Jakarta")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(ROOT)), autoescape=select_autoescape(["html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["wib"] = wib
    return env


def wib(value) -> str:
    """A datetime (or ISO string) as local Indonesian Western time: ``2026-12-04 23:59 WIB``; '' for none."""
    if not value:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")


@lru_cache(maxsize=1)
def _bot_labels():
    from bot.templates import Renderer

    return Renderer()


def label(key: str, lang: str = "id") -> str:
    """The bot's own short label (``templates/<lang>/labels.yml``): ``label("category.kesehatan")``."""
    return _bot_labels().label(key, lang)


def label_keys(group: str) -> list[str]:
    """The values a label group names, e.g. every report category."""
    return [k for k in (_bot_labels()._load_labels("id").get(group) or {}) if k not in (None, "None")]


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
        t=lambda key, **p: translate(key, lang, **p), label=lambda key: label(key, lang), **ctx)
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.query.get("lang") in LANGUAGES:
        resp.set_cookie("lang", lang, httponly=True, samesite="Lax", max_age=365 * 86400)
    resp.headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp
