"""When did it happen? Indonesian (and some English) date phrases to a calendar date, never in the future.

The calendar arithmetic is dateparser's; this module finds the phrase in a chat message first, because
dateparser's free-text search misreads some Indonesian phrasing ("2 minggu lalu" inside a sentence,
"12/05/2026" read month-first) and does not know chat spelling ("kmrn", "2 mgg lalu").
"""
from __future__ import annotations

import datetime as dt
import re

import dateparser

_NUM_WORDS = {
    "se": 1, "satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
    "delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11, "a": 1, "an": 1, "one": 1, "two": 2,
    "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}
_UNITS = {
    "hari": "hari", "hr": "hari", "day": "hari", "days": "hari",
    "minggu": "minggu", "mgg": "minggu", "mg": "minggu", "pekan": "minggu", "week": "minggu", "weeks": "minggu",
    "bulan": "bulan", "bln": "bulan", "month": "bulan", "months": "bulan",
    "tahun": "tahun", "thn": "tahun", "th": "tahun", "year": "tahun", "years": "tahun",
}
_MONTHS = {
    "januari": 1, "jan": 1, "january": 1, "februari": 2, "feb": 2, "pebruari": 2, "february": 2,
    "maret": 3, "mar": 3, "march": 3, "april": 4, "apr": 4, "mei": 5, "may": 5, "juni": 6, "jun": 6,
    "june": 6, "juli": 7, "jul": 7, "july": 7, "agustus": 8, "agu": 8, "agt": 8, "ags": 8, "aug": 8,
    "august": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "oct": 10,
    "october": 10, "november": 11, "nov": 11, "nopember": 11, "desember": 12, "des": 12, "dec": 12,
    "december": 12,
}
_WEEKDAYS = {"senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jum'at": 4, "sabtu": 5,
             "minggu": 6, "ahad": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
             "friday": 4, "saturday": 5, "sunday": 6}

_num = r"(\d{1,3}|" + "|".join(sorted(_NUM_WORDS, key=len, reverse=True)) + r")"
_unit = r"(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
# "2 minggu lalu", "3 hari yang lalu", "seminggu yg lalu", "2 weeks ago"
_AGO_RE = re.compile(rf"\b{_num}\s*{_unit}\s+(?:yang\s+|yg\s+)?(?:lalu|lampau|kemarin|kemaren|ago)\b")
# "sejak 3 hari", "sudah 2 minggu", "udh sebulan" (a duration up to now: it started that long ago)
_SINCE_RE = re.compile(rf"\b(?:sejak|sudah|udah|udh|sdh|dah|selama|for)\s+{_num}\s*{_unit}\b")
_DMY_RE = re.compile(r"\b(\d{1,2})[/\-.](\d{1,2})(?:[/\-.](\d{2,4}))?\b")
_month = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")"
_DAY_MONTH_RE = re.compile(rf"\b(\d{{1,2}})\s*{_month}\.?(?:\s+(\d{{4}}))?\b")
_MONTH_ONLY_RE = re.compile(rf"\b(?:sejak|bulan|bln|dari|mulai|awal|akhir|pertengahan|since|in)\s+{_month}\b(?:\s+(\d{{4}}))?")
_WEEKDAY_RE = re.compile(r"\b(?:hari\s+)?(senin|selasa|rabu|kamis|jum'?at|sabtu|ahad|monday|tuesday|wednesday|"
                         r"thursday|friday|saturday|sunday)(?:\s+(?:lalu|kemarin|kemaren|kmrn|last))?\b")
_FIXED = [
    (re.compile(r"\b(?:kemarin|kemaren|kmrn|kmarin|kmren)\s+lusa\b"), -2),
    (re.compile(r"\b(?:(?:2|dua)\s+hari\s+kemarin)\b"), -2),
    (re.compile(r"\b(?:kemarin|kemaren|kmrn|kmrin|kmarin|kmren|yesterday)\b"), -1),
    (re.compile(r"\b(?:semalam|tadi\s+malam|td\s+malam|tadi\s+mlm|td\s+mlm|last\s+night)\b"), -1),
    (re.compile(r"\b(?:hari\s+ini|tadi\s+pagi|tadi\s+siang|tadi\s+sore|td\s+pagi|barusan|tadi|today|this\s+morning)\b"), 0),
]
_LAST_RE = re.compile(r"\b(minggu|pekan|bulan|tahun)\s+(?:lalu|kemarin|kemaren|kmrn)\b|\blast\s+(week|month|year)\b")


def _settings(today: dt.date) -> dict:
    return {
        "RELATIVE_BASE": dt.datetime(today.year, today.month, today.day),
        "PREFER_DATES_FROM": "past",
        "DATE_ORDER": "DMY",
        "RETURN_AS_TIMEZONE_AWARE": False,
    }


def _parse(phrase: str, today: dt.date) -> dt.date | None:
    try:
        got = dateparser.parse(phrase, languages=["id", "en"], settings=_settings(today))
    except Exception:  # dateparser raises on some odd inputs; an unknown date is not an error
        return None
    return got.date() if got else None


def _ago(n: int, unit: str, today: dt.date) -> dt.date | None:
    if n <= 0 or n > 200:
        return None
    return _parse(f"{n} {unit} lalu", today)


def _n(word: str) -> int:
    return int(word) if word.isdigit() else _NUM_WORDS.get(word, 0)


def _past(d: dt.date | None, today: dt.date) -> dt.date | None:
    return d if d is not None and d <= today else None


def resolve_date(text: str, today: dt.date | None = None) -> tuple[dt.date | None, str | None]:
    """(date, the phrase it came from) or (None, None). Dates after `today` are never returned."""
    today = today or dt.date.today()
    raw = (text or "")[:2000]
    low = raw.lower()
    # 1. "2 minggu lalu" / "sejak 3 hari" (relative to today)
    for rx in (_AGO_RE, _SINCE_RE):
        m = rx.search(low)
        if m:
            n_word, unit = m.group(1), _UNITS[m.group(2)]
            d = _past(_ago(_n(n_word), unit, today), today)
            if d:
                return d, raw[m.start():m.end()]
    # "seminggu lalu", "sebulan yang lalu" written as one word
    m = re.search(r"\bse(hari|minggu|pekan|bulan|tahun)\s+(?:yang\s+|yg\s+)?(?:lalu|kemarin)\b", low) or \
        re.search(r"\b(?:sejak|sudah|udah|udh|sdh|selama)\s+se(hari|minggu|pekan|bulan|tahun)\b", low)
    if m:
        d = _past(_ago(1, _UNITS.get(m.group(1), m.group(1)), today), today)
        if d:
            return d, raw[m.start():m.end()]
    # 2. explicit calendar dates: "12 Mei", "12 mei 2025", "12/05/2026"
    m = _DAY_MONTH_RE.search(low)
    if m:
        day, month, year = int(m.group(1)), _MONTHS[m.group(2)], m.group(3)
        d = _calendar(day, month, int(year) if year else None, today)
        if d:
            return d, raw[m.start():m.end()]
    m = _DMY_RE.search(low)
    if m and not re.match(r"\d{1,2}[.]\d{1,2}$", m.group(0)):  # "12.30" is a time, not a date
        day, month, year = int(m.group(1)), int(m.group(2)), m.group(3)
        if year and len(year) == 2:
            year = "20" + year
        d = _calendar(day, month, int(year) if year else None, today)
        if d:
            return d, raw[m.start():m.end()]
    # 3. fixed words: kemarin, tadi malam, hari ini
    for rx, delta in _FIXED:
        m = rx.search(low)
        if m:
            return today + dt.timedelta(days=delta), raw[m.start():m.end()]
    m = _LAST_RE.search(low)
    if m:
        unit = m.group(1) or {"week": "minggu", "month": "bulan", "year": "tahun"}[m.group(2)]
        d = _ago(1, _UNITS[unit], today)
        if d:
            return d, raw[m.start():m.end()]
    m = _WEEKDAY_RE.search(low)
    # "minggu" is also "week": only "hari minggu" means Sunday.
    if m and (m.group(1) != "minggu" or low[m.start():].startswith("hari")):
        wd = _WEEKDAYS[m.group(1).replace("'", "")]
        back = (today.weekday() - wd) % 7 or 7
        return today - dt.timedelta(days=back), raw[m.start():m.end()]
    m = _MONTH_ONLY_RE.search(low)
    if m:
        month, year = _MONTHS[m.group(1)], m.group(2)
        d = _calendar(1, month, int(year) if year else None, today)
        if d:
            return d, raw[m.start():m.end()]
    return None, None


def _calendar(day: int, month: int, year: int | None, today: dt.date) -> dt.date | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if year is None:
        d = _parse(f"{day} {month} {today.year}", today) or _safe(today.year, month, day)
        if d and d > today:
            d = _safe(today.year - 1, month, day)
        return d
    if not 1990 <= year <= today.year:
        return None
    return _past(_safe(year, month, day), today)


def _safe(y: int, m: int, d: int) -> dt.date | None:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return None
