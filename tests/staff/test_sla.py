"""Working-day clock (weekends, Indonesian national holidays) and the periodic SLA task."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.staff.sla import SlaWorker, WorkingCalendar, Sla, is_overdue
from tests.staff.conftest import advance, citizen, make_report, outbox_for

WIB = ZoneInfo("Asia/Jakarta")


def wib(*a) -> datetime:
    return datetime(*a, tzinfo=WIB)


def test_national_holidays_come_from_the_holidays_package():
    cal = WorkingCalendar()
    assert not cal.is_working_day(wib(2026, 8, 17).date())     # Hari Kemerdekaan (a Monday)
    assert not cal.is_working_day(wib(2026, 12, 25).date())    # Natal
    assert not cal.is_working_day(wib(2026, 8, 15).date())     # Saturday
    assert cal.is_working_day(wib(2026, 8, 18).date())


def test_verification_due_three_working_days_across_a_weekend_and_a_holiday():
    sla = Sla()
    # Friday 14 Aug 2026; Sat, Sun, Mon 17 Aug (Independence Day) do not count -> Thu 20 Aug, end of day WIB
    due = sla.initial_deadlines(wib(2026, 8, 14, 10, 0).astimezone(timezone.utc))["verify_due_at"]
    assert due.astimezone(WIB) == wib(2026, 8, 20, 23, 59, 59)
    assert due.tzinfo is not None
    # an ordinary week: Monday -> Thursday
    due = sla.initial_deadlines(wib(2026, 9, 7, 9, 0))["verify_due_at"]
    assert due.astimezone(WIB).date() == wib(2026, 9, 10).date()
    # filed on a Saturday night (UTC still Saturday): counts from Monday
    due = sla.initial_deadlines(wib(2026, 9, 12, 22, 0).astimezone(timezone.utc))["verify_due_at"]
    assert due.astimezone(WIB).date() == wib(2026, 9, 16).date()
    # UTC Friday 20:00 is already Saturday in WIB
    due = sla.initial_deadlines(datetime(2026, 9, 11, 20, 0, tzinfo=timezone.utc))["verify_due_at"]
    assert due.astimezone(WIB).date() == wib(2026, 9, 16).date()


def test_agency_followup_due_five_working_days_across_christmas():
    sla = Sla()
    # Wed 23 Dec 2026: Thu 24 (1), Fri 25 Natal, weekend, Mon 28 (2) ... Thu 31 (5)
    f = sla.on_forward(wib(2026, 12, 23, 14, 0))
    assert f["followup_due_at"].astimezone(WIB) == wib(2026, 12, 31, 23, 59, 59)
    # auto-close: 10 working days. Thu 24 (1), Fri 25 Natal, weekend, Mon 28 .. Thu 31 (2-5), Fri 1 Jan New Year,
    # weekend, Mon 4 (6), Tue 5 Isra Mi'raj, Wed 6 .. Fri 8 (7-9), weekend, Mon 11 (10)
    a = sla.on_answer(wib(2026, 12, 23, 14, 0))
    assert a["autoclose_at"].astimezone(WIB) == wib(2027, 1, 11, 23, 59, 59)


def test_auto_close_is_ten_working_days_across_weekends_and_holidays():
    # answered Fri 14 Aug 2026; Sat, Sun, Mon 17 (Independence Day) skipped; Tue 18 .. Fri 21 (1-4), weekend,
    # Mon 24 (5), Tue 25 (Maulid Nabi) skipped, Wed 26 .. Fri 28 (6-8), weekend, Mon 31 (9), Tue 1 Sep (10)
    a = Sla().on_answer(wib(2026, 8, 14, 10, 0).astimezone(timezone.utc))
    assert a["autoclose_at"].astimezone(WIB) == wib(2026, 9, 1, 23, 59, 59)
    assert WorkingCalendar().working_days_between(wib(2026, 8, 14, 10, 0), a["autoclose_at"]) == 10


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def test_overdue():
    now = datetime(2026, 8, 21, tzinfo=timezone.utc)
    assert is_overdue({"status": "diterima", "verify_due_at": now - timedelta(seconds=1)}, now)
    assert not is_overdue({"status": "terverifikasi", "verify_due_at": now - timedelta(days=3)}, now)
    assert is_overdue({"status": "diteruskan", "followup_due_at": now - timedelta(hours=1)}, now)
    assert not is_overdue({"status": "diteruskan", "followup_due_at": now + timedelta(hours=1)}, now)


async def test_auto_close_ten_days_after_answer_without_reply(rt):
    quiet = await citizen(rt, "100100100")
    replied = await citizen(rt, "200200200")
    a = await make_report(rt, quiet)
    b = await make_report(rt, replied)
    for r in (a, b):
        await advance(rt, r["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    await rt.stores.reports.add_info(b["tracking_id"], "Belum, jalannya masih berlubang")
    worker = SlaWorker(rt, rt.staff)
    assert (await worker.run_once())["closed"] == []  # not yet 10 working days
    ra = await rt.stores.reports.get(a["tracking_id"])
    answered, due = _utc(ra["answered_at"]), _utc(ra["autoclose_at"])
    assert WorkingCalendar().working_days_between(answered, due) == 10
    assert (await worker.run_once(now=answered + timedelta(days=10, minutes=1)))["closed"] == []  # calendar days
    later = max(due, _utc((await rt.stores.reports.get(b["tracking_id"]))["autoclose_at"])) + timedelta(minutes=1)
    result = await worker.run_once(now=later)
    assert result == {"closed": [a["tracking_id"]], "kept_open": [b["tracking_id"]]}
    ra = await rt.stores.reports.get(a["tracking_id"])
    assert ra["status"] == "selesai" and ra["history"][-1]["actor"] == "sistem" and ra["closed_automatically"]
    assert (await rt.stores.reports.get(b["tracking_id"]))["status"] == "ditanggapi"
    # the citizen is told, and asked for a rating
    last = (await outbox_for(rt, quiet["_id"]))[-1]
    assert last["template"] == "notify/auto_selesai" and "10" in last["text"]
    assert [c["payload"] for c in last["choices"]] == [f"rate:{a['tracking_id']}:{n}" for n in range(1, 6)]
    assert (await rt.staff.audit.for_target(a["tracking_id"]))[-1]["action"] == "auto_close"
    # a second round changes nothing
    assert (await worker.run_once(now=later))["closed"] == []


async def test_auto_close_waits_for_the_tenth_working_day_over_a_real_date_range(rt):
    await rt.staff.worker.stop()  # the background round would use today's date
    rep = await make_report(rt, await citizen(rt, "300300300"))
    await advance(rt, rep["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi")
    # answered on Fri 14 Aug 2026 (Independence Day on Mon 17, Maulid Nabi on Tue 25 Aug)
    await rt.stores.reports.col.update_one({"_id": rep["_id"]},
                                           {"$set": Sla().on_answer(wib(2026, 8, 14, 10, 0).astimezone(timezone.utc))})
    worker = SlaWorker(rt, rt.staff)
    for not_yet in (wib(2026, 8, 24, 10, 1), wib(2026, 8, 28, 12, 0), wib(2026, 9, 1, 23, 59)):
        assert (await worker.run_once(now=not_yet))["closed"] == [], not_yet
        assert (await rt.stores.reports.get(rep["tracking_id"]))["status"] == "ditanggapi"
    assert (await worker.run_once(now=wib(2026, 9, 2, 0, 0, 1)))["closed"] == [rep["tracking_id"]]
    assert (await rt.stores.reports.get(rep["tracking_id"]))["status"] == "selesai"


async def test_only_the_lease_holder_runs(rt):
    # another process holds a live lease (this process's own background task may have taken it first)
    await rt.stores.leases.col.update_one(
        {"_id": SlaWorker.LEASE},
        {"$set": {"owner": "another-process", "until": datetime.now(timezone.utc) + timedelta(seconds=60)}},
        upsert=True)
    assert (await SlaWorker(rt, rt.staff).run_once()) == {"skipped": True}


async def test_the_task_runs_in_the_background_and_stops_with_the_runtime(rt):
    worker = rt.staff.worker
    assert worker._task is not None and not worker._task.done()
    assert worker.stop in rt.stop_hooks  # the runtime's stop ends the task before the database closes
    task = worker._task
    await rt.stop()
    assert worker._task is None and task.done()
