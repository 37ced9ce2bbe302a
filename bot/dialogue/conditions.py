"""Named conditions used by ``when:`` in flows."""
from __future__ import annotations


def volunteer_mode(slots: dict) -> bool:
    return bool(slots.get("volunteer_mode"))


def not_information_request(slots: dict) -> bool:
    return slots.get("type") != "permintaan_informasi"


CONDITIONS = {"volunteer_mode": volunteer_mode, "not_information_request": not_information_request}


def holds(name: str | None, slots: dict) -> bool:
    return True if not name else CONDITIONS[name](slots)
