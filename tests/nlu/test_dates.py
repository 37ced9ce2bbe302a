import datetime as dt

import pytest

from bot.nlu.dates import resolve_date

TODAY = dt.date(2026, 11, 23)  # a Monday


@pytest.mark.parametrize("text, expected", [
    ("kemarin", dt.date(2026, 11, 22)),
    ("kmrn sore listrik mati", dt.date(2026, 11, 22)),
    ("2 minggu lalu", dt.date(2026, 11, 9)),
    ("sejak 3 hari yang lalu", dt.date(2026, 11, 20)),
    ("udh 3 hari air mati", dt.date(2026, 11, 20)),
    ("seminggu yg lalu", dt.date(2026, 11, 16)),
    ("sebulan lalu", dt.date(2026, 10, 23)),
    ("12 Mei", dt.date(2026, 5, 12)),
    ("12 mei 2025", dt.date(2025, 5, 12)),
    ("tanggal 12/05/2026", dt.date(2026, 5, 12)),  # day first, as written in Indonesia
    ("25 desember", dt.date(2025, 12, 25)),         # no year and in the future -> last year
    ("rabu lalu", dt.date(2026, 11, 18)),
    ("tadi malam", dt.date(2026, 11, 22)),
    ("hari ini", TODAY),
    ("2 weeks ago", dt.date(2026, 11, 9)),
    ("sejak maret", dt.date(2026, 3, 1)),
])
def test_resolves(text, expected):
    got, phrase = resolve_date(text, today=TODAY)
    assert got == expected
    assert phrase and phrase.lower() in text.lower()


@pytest.mark.parametrize("text", ["besok", "halo", "", "jam 12.30", "31 februari", "tahun 2099 nanti", "🙂"])
def test_no_date_or_not_in_future(text):
    got, _ = resolve_date(text, today=TODAY)
    assert got is None or got <= TODAY


def test_never_in_future_default_today():
    got, _ = resolve_date("1 januari")
    assert got is not None and got <= dt.date.today()
