"""Back-office wording: ``templates/backoffice/i18n/<lang>/<area>.yml`` merged into ``{"area.key": text}``.

Indonesian is the reference; a key missing in English falls back to Indonesian, an unknown key shows itself.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2] / "templates" / "backoffice" / "i18n"
LANGUAGES = ("id", "en")


@lru_cache(maxsize=None)
def catalogue(lang: str, root: Path = ROOT) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted((root / lang).glob("*.yml")):
        for key, text in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            out[f"{path.stem}.{key}"] = str(text)
    return out


def translate(key: str, lang: str = "id", **params) -> str:
    text = catalogue(lang).get(key) or catalogue("id").get(key) or key
    return text.format(**params) if params else text
