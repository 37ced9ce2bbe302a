"""Every text the bot sends, per language: a message catalogue plus a few longer jinja2 files.

``templates/<lang>/messages.yml`` maps a key (``errors/unavailable``, ``filing/ask_location``) to jinja2
source. The few long texts with several conditional lines stay as ``templates/<lang>/<key>.j2`` files; a
key is looked up in the catalogue first, then as a file. Short names (statuses, categories, button words)
are labels in ``labels.yml``, read with ``label('status.diterima', lang)``.

Indonesian (``id``) is the reference language. ``tests/test_templates.py`` requires English to define the
same keys with the same variables; should one still be missing at run time, that key falls back to ``id``.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import BaseLoader, Environment, StrictUndefined, TemplateNotFound

class _StrictButFalsy(StrictUndefined):
    """Printing a missing variable is an error (caught in previews); testing it with ``if`` is allowed."""

    __bool__ = lambda self: False  # noqa: E731


ROOT = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("id", "en")
CATALOGUE = "messages.yml"


class Catalogue(BaseLoader):
    """jinja2 loader for template names ``<lang>/<key>``: the catalogue entry, else ``<lang>/<key>.j2``.

    A trailing ``.j2`` in the name is ignored, so ``{% include lang ~ "/notify/_subject" %}`` and the older
    ``…/_subject.j2`` spelling both work.
    """

    def __init__(self, root: Path):
        self.root = root
        self.entries: dict[str, dict[str, str]] = {lang: self._load(lang) for lang in LANGUAGES}

    def _load(self, lang: str) -> dict[str, str]:
        path = self.root / lang / CATALOGUE
        data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None
        data = data or {}
        bad = [k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise ValueError(f"{path}: every entry must be key: text (not {bad[:3]})")
        return data

    def files(self, lang: str) -> set[str]:
        """Keys kept as ``.j2`` files."""
        base = self.root / lang
        return {p.relative_to(base).as_posix()[:-3] for p in base.rglob("*.j2")} if base.is_dir() else set()

    def keys(self, lang: str) -> set[str]:
        """Every text key of a language: catalogue entries and ``.j2`` files."""
        return set(self.entries.get(lang, {})) | self.files(lang)

    def source(self, lang: str, key: str) -> str:
        """The jinja2 source of one key in one language (no fallback); ``TemplateNotFound`` if absent."""
        return self._find(lang, key)[0]

    def get_source(self, environment, template):
        lang, _, key = template.partition("/")
        return self._find(lang, key.removesuffix(".j2"))

    def _find(self, lang: str, key: str):
        if key in self.entries.get(lang, {}):
            return self.entries[lang][key], None, lambda: True
        path = self.root / lang / f"{key}.j2"
        if lang not in LANGUAGES or not key or key.startswith("/") or ".." in key.split("/") or not path.is_file():
            raise TemplateNotFound(f"{lang}/{key}")
        mtime = path.stat().st_mtime
        return path.read_text(encoding="utf-8"), str(path), lambda: path.is_file() and path.stat().st_mtime == mtime


class Renderer:
    def __init__(self, root: Path = ROOT):
        self.root = root
        self.catalogue = Catalogue(root)
        self.env = Environment(loader=self.catalogue, undefined=_StrictButFalsy,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False,
                               autoescape=False)
        self.env.filters["tanggal"] = self._format_date
        self._labels = {lang: self._load_labels(lang) for lang in LANGUAGES}
        self.env.globals["label"] = self.label

    def _load_labels(self, lang: str) -> dict:
        path = self.root / lang / "labels.yml"
        return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}

    def label(self, key: str, lang: str = "id") -> str:
        """A short label such as a status or category name: ``label('status.diterima', 'en')``."""
        for lg in (lang, "id"):
            node = self._labels.get(lg, {})
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        return key.rsplit(".", 1)[-1].replace("_", " ")

    def is_label_key(self, key: str) -> bool:
        """``choice.setuju`` names a label; "Kota Kupang" or "LPR-7K3M9QX" is already text."""
        head, _, rest = key.partition(".")
        return bool(rest) and " " not in key and isinstance(self._labels.get("id", {}).get(head), dict)

    def _format_date(self, value, lang: str = "id") -> str:
        if value is None:
            return "-"
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value[:10])
            except ValueError:
                return value
        if isinstance(value, datetime):
            value = value.date()
        months = self.label("months", lang)
        names = months.split() if isinstance(months, str) and " " in months else None
        month = names[value.month - 1] if names and len(names) == 12 else str(value.month)
        return f"{value.day} {month} {value.year}"

    def render(self, name: str, lang: str = "id", **ctx) -> str:
        lang = lang if lang in LANGUAGES else "id"
        for lg in (lang, "id"):
            try:
                tpl = self.env.get_template(f"{lg}/{name}")
            except TemplateNotFound:
                continue
            return tpl.render(lang=lg, **ctx).strip()
        raise TemplateNotFound(name)

    def render_string(self, source: str, **ctx) -> str:
        """Campaign texts arrive as strings (YAML/API); same environment, same strictness."""
        return self.env.from_string(source).render(**ctx).strip()


@lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    return Renderer()
