"""Agency directory and routing suggestion (category + region -> agency).

Minimal seed; the staff-side work extends the directory. Interface used by the dialogue:
``suggest(category, region) -> dict | None``, ``get(code)``, ``search(text)``.
"""
from __future__ import annotations

NATIONAL = {
    "PLN": {"code": "PLN", "name": "PT PLN (Persero)"},
    "BPJSKES": {"code": "BPJSKES", "name": "BPJS Kesehatan"},
}
_CATEGORY_NATIONAL = {"listrik_air": "PLN"}


def get(code: str | None) -> dict | None:
    if not code:
        return None
    return NATIONAL.get(code) or ({"code": code, "name": code} if code.startswith("PEMDA-") else None)


def suggest(category: str | None, region) -> dict | None:
    if category in _CATEGORY_NATIONAL:
        return NATIONAL[_CATEGORY_NATIONAL[category]]
    if region is not None:
        return {"code": f"PEMDA-{region.code}", "name": f"Pemerintah {region.name}"}
    return None


def search(text: str) -> list[dict]:
    t = (text or "").lower()
    return [a for a in NATIONAL.values() if t and (t in a["name"].lower() or t == a["code"].lower())]
