"""Wording of the public side (the ``/publik`` page and Open311 service texts):
``templates/publik/i18n/<lang>/<area>.yml``, read like the back office's (``bot.backoffice.i18n``)."""
from __future__ import annotations

from pathlib import Path

from bot.backoffice.i18n import LANGUAGES, catalogue

ROOT = Path(__file__).resolve().parents[2] / "templates" / "publik" / "i18n"


def translate(key: str, lang: str = "id", **params) -> str:
    text = catalogue(lang, ROOT).get(key) or catalogue("id", ROOT).get(key) or key
    return text.format(**params) if params else text


def pick_language(query_lang: str | None, cookie_lang: str | None, accept: str | None) -> str:
    """``?lang=`` wins, then the ``lang`` cookie, then an Accept-Language starting with ``en``; else Indonesian."""
    for lang in (query_lang, cookie_lang):
        if lang in LANGUAGES:
            return lang
    return "en" if (accept or "").strip().lower().startswith("en") else "id"
