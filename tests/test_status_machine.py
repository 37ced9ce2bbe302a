"""Every allowed and every forbidden report transition, for staff and for citizens."""
import itertools

import pytest

from bot import reports as R

ALLOWED_STAFF = {
    ("diterima", "terverifikasi"), ("diterima", "diarsipkan"),
    ("terverifikasi", "diteruskan"), ("terverifikasi", "diarsipkan"),
    ("diteruskan", "ditanggapi"), ("diteruskan", "diarsipkan"),
    ("ditanggapi", "selesai"), ("ditanggapi", "diarsipkan"),
}
ALLOWED_CITIZEN = {("ditanggapi", "diteruskan"), ("selesai", "diteruskan")}


@pytest.mark.parametrize("current,target", list(itertools.product(R.STATUSES, R.STATUSES)))
def test_staff_transition_table(current, target):
    assert R.allowed(current, target) is ((current, target) in ALLOWED_STAFF)
    if (current, target) not in ALLOWED_STAFF:
        with pytest.raises(R.TransitionError):
            R.check(current, target)


@pytest.mark.parametrize("current,target", list(itertools.product(R.STATUSES, R.STATUSES)))
def test_citizen_reopen_table(current, target):
    assert R.allowed(current, target, by_citizen=True) is ((current, target) in ALLOWED_CITIZEN)


def test_archiving_is_possible_from_every_open_state_and_final_states_are_final():
    for s in R.OPEN_STATUSES:
        assert R.allowed(s, R.DIARSIPKAN)
    for s in (R.SELESAI, R.DIARSIPKAN):
        assert not any(R.allowed(s, t) for t in R.STATUSES)


async def test_transition_appends_history_and_racing_callers_get_exactly_one_win(stores):
    import asyncio

    rep = await stores.reports.create({"type": "pengaduan", "description": "x", "privacy": "publik"})
    tid = rep["tracking_id"]
    await stores.reports.transition(tid, "terverifikasi", actor="admin:a", note="ok")
    results = await asyncio.gather(
        stores.reports.transition(tid, "diteruskan", actor="admin:a", extra={"agency": "A"}),
        stores.reports.transition(tid, "diteruskan", actor="admin:b", extra={"agency": "B"}),
        return_exceptions=True)
    wins = [r for r in results if isinstance(r, dict)]
    losses = [r for r in results if isinstance(r, R.TransitionError)]
    assert len(wins) == 1 and len(losses) == 1
    final = await stores.reports.get(tid)
    assert [h["to"] for h in final["history"]] == ["diterima", "terverifikasi", wins[0]["status"]]
    assert final["history"][1]["actor"] == "admin:a" and final["history"][1]["note"] == "ok"
    # a caller who saw an older status loses even when the move would be legal from the new one
    with pytest.raises(R.TransitionError):
        await stores.reports.transition(tid, "diarsipkan", actor="admin:c", expected="terverifikasi")
    with pytest.raises(KeyError):
        await stores.reports.transition("LPR-0000000", "terverifikasi", actor="x")
