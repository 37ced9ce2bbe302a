"""Reports domain: types, privacy levels, statuses and the allowed transitions between them."""
from __future__ import annotations

TYPES = ("pengaduan", "aspirasi", "permintaan_informasi")
PRIVACY = ("publik", "anonim", "rahasia")
SAFEST_FIRST = ("rahasia", "anonim", "publik")

DITERIMA, TERVERIFIKASI, DITERUSKAN, DITANGGAPI, SELESAI, DIARSIPKAN = (
    "diterima", "terverifikasi", "diteruskan", "ditanggapi", "selesai", "diarsipkan")
STATUSES = (DITERIMA, TERVERIFIKASI, DITERUSKAN, DITANGGAPI, SELESAI, DIARSIPKAN)
OPEN_STATUSES = (DITERIMA, TERVERIFIKASI, DITERUSKAN, DITANGGAPI)

# Staff transitions. diarsipkan is reachable from every open state.
TRANSITIONS: dict[str, frozenset[str]] = {
    DITERIMA: frozenset({TERVERIFIKASI, DIARSIPKAN}),
    TERVERIFIKASI: frozenset({DITERUSKAN, DIARSIPKAN}),
    DITERUSKAN: frozenset({DITANGGAPI, DIARSIPKAN}),
    DITANGGAPI: frozenset({SELESAI, DIARSIPKAN}),
    SELESAI: frozenset(),
    DIARSIPKAN: frozenset(),
}
# A citizen's objection (rating 1-2) or reply sends an answered/settled report back to the agency.
CITIZEN_REOPEN: dict[str, frozenset[str]] = {
    DITANGGAPI: frozenset({DITERUSKAN}),
    SELESAI: frozenset({DITERUSKAN}),
}


class TransitionError(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"cannot move a report from '{current}' to '{target}'")
        self.current, self.target = current, target


def allowed(current: str, target: str, *, by_citizen: bool = False) -> bool:
    table = CITIZEN_REOPEN if by_citizen else TRANSITIONS
    return target in table.get(current, frozenset())


def check(current: str, target: str, *, by_citizen: bool = False) -> None:
    if not allowed(current, target, by_citizen=by_citizen):
        raise TransitionError(current, target)


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES
