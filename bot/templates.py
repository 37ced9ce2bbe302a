"""Every text the bot sends is a jinja2 template under ``templates/<lang>/``; labels in ``labels.yml``.

Indonesian (``id``) is the reference language; a template missing in ``en`` falls back to ``id``.
"""
from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

class _StrictButFalsy(StrictUndefined):
    """Printing a missing variable is an error (caught in previews); testing it with ``if`` is allowed."""

    __bool__ = lambda self: False  # noqa: E731


ROOT = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("id", "en")


class Renderer:
    def __init__(self, root: Path = ROOT):
        self.root = root
        self.env = Environment(loader=FileSystemLoader(str(root)), undefined=_StrictButFalsy,
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
                tpl = self.env.get_template(f"{lg}/{name}.j2")
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
