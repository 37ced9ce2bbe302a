"""Dashboard: the plotted and tabled numbers are those of ``GET /api/v1/stats`` for the same filter; roles."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from bot.messages import utcnow
from bot.staff import stats as stats_mod
from tests.staff.conftest import ADMIN, advance, agency_headers, citizen, make_report

SVG = "{http://www.w3.org/2000/svg}"
SBY = ("35.78", "Kota Surabaya", "35", "Jawa Timur")
BDG = ("32.73", "Kota Bandung", "32", "Jawa Barat")


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


async def seed(rt):
    wa = await citizen(rt, "6281200000001", channel="whatsapp", name="Budi")
    sms = await citizen(rt, "6281200000002", channel="sms", name="Ani")
    a = await make_report(rt)                                              # NTT, telegram, settled
    b = await make_report(rt, wa)                                          # NTT, whatsapp, archived
    c = await make_report(rt, sms, region=SBY, category="kependudukan")    # Jatim, forwarded, overdue
    d = await make_report(rt, wa, region=SBY, category="kependudukan")     # Jatim, received, overdue
    e = await make_report(rt, region=BDG, category="kesehatan")            # Jabar, answered
    await advance(rt, a["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    await rt.stores.reports.set_rating(a["tracking_id"], 5, None)
    await advance(rt, b["tracking_id"], "diarsipkan")
    await advance(rt, c["tracking_id"], "terverifikasi", "diteruskan", agency="DUKCAPIL-35.78")
    await advance(rt, e["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", agency="DINKES-32.73")
    past = utcnow() - timedelta(days=1)
    await rt.stores.reports.col.update_one({"_id": c["_id"]}, {"$set": {"followup_due_at": past}})
    await rt.stores.reports.col.update_one({"_id": d["_id"]}, {"$set": {"verify_due_at": past}})
    await rt.stores.reports.col.update_one({"_id": a["_id"]}, {"$set": {"created_at": utcnow() - timedelta(days=3)}})
    return a, b, c, d, e


class Cells(HTMLParser):
    """Rows of the tables (``table id`` -> ``data-key`` -> ``data-field``/``data-status`` -> text)."""

    def __init__(self):
        super().__init__()
        self.tables: dict = {}
        self.table = self.row = self.cell = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(a.get("id"), {})
        elif tag == "tr" and self.table is not None and "data-key" in a:
            self.row = self.table.setdefault(a["data-key"], {})
        elif tag == "td" and self.row is not None:
            self.cell, self.text = a.get("data-field") or a.get("data-status") or "value", ""

    def handle_data(self, data):
        if self.cell:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell:
            self.row[self.cell] = self.text.strip()
            self.cell = None
        elif tag == "tr":
            self.row = None
        elif tag == "table":
            self.table = None


def tables(html: str) -> dict:
    p = Cells()
    p.feed(html)
    return p.tables


def plot(html: str, name: str) -> list[tuple[str, list[float]]]:
    """(legend, values) per series of the inline SVG plot ``name``, in drawing order."""
    m = re.search(rf'<figure class="plot" id="plot-{name}">\s*(<svg.*?</svg>)', html, re.S)
    assert m, f"plot {name} missing"
    return parse_svg(m.group(1))


def parse_svg(svg: str) -> list[tuple[str, list[float]]]:
    root = ET.fromstring(svg)
    values: dict[str, list[float]] = {}
    for g in root.iter(f"{SVG}g"):
        cls = g.get("class", "").split()
        serie = next((c for c in cls if c.startswith("serie-")), None)
        if "series" in cls and serie and serie not in values:
            vals = [float(d.text) for d in g.iter(f"{SVG}desc") if d.get("class") == "value"]
            if vals:
                values[serie] = vals
    legends = [t.text for g in root.iter(f"{SVG}g") if g.get("class", "").startswith("legend ")
               for t in g.iter(f"{SVG}text")]
    return [(legends[int(k.split("-")[1])], v) for k, v in sorted(values.items(), key=lambda kv: int(kv[0][6:]))]


def num(text: str):
    return None if text == "–" else float(text)


def same(cell: str, value) -> bool:
    return (value is None and num(cell) is None) or (value is not None and abs(num(cell) - value) < 0.006)


def check_page_equals_api(html: str, api: dict) -> None:
    t = tables(html)
    fields = stats_mod.FIELDS + stats_mod.SLA_FIELDS
    rows = t["groups"]
    assert set(rows) == {g["key"] for g in api["groups"]} | {"TOTAL"}
    for g in api["groups"] + [{"key": "TOTAL", **api["total"]}]:
        for f in fields:
            assert same(rows[g["key"]][f], g[f]), (g["key"], f, rows[g["key"]][f], g[f])
    assert {k: int(v["value"]) for k, v in t["channels"].items()} == api["channels"]
    series = api["series"]
    assert list(t["series"]) == [b["start"] for b in series["buckets"]]
    for b in series["buckets"]:
        assert {s: int(v) for s, v in t["series"][b["start"]].items()} == b["counts"]
    # the plots: over time by status (stacked), by group, channel mix, SLA compliance
    over = plot(html, "over_time")
    assert len(over) == len(series["statuses"])
    for (legend, vals), status in zip(over, series["statuses"]):
        assert vals == [b["counts"][status] for b in series["buckets"]], status
    by_group = dict(plot(html, "by_group"))
    ordered = sorted(api["groups"], key=lambda g: (-g["received"], g["name"]))
    for legend, key in (("Diterima", "received"), ("Diteruskan", "forwarded"), ("Selesai", "settled"),
                        ("Diarsipkan", "archived"), ("Terlambat", "overdue")):
        assert by_group[legend] == [g[key] for g in ordered], key
    pie = plot(html, "channels")
    assert sorted(v[0] for _, v in pie) == sorted(api["channels"].values())
    assert sum(v[0] for _, v in pie) == api["total"]["received"]
    sla = dict(plot(html, "sla"))
    tot = api["total"]
    assert sla["Tepat waktu"] == [tot["sla_verify_on_time"], tot["sla_followup_on_time"]]
    assert sla["Terlambat"] == [tot["sla_verify_late"], tot["sla_followup_late"]]


async def test_admin_dashboard_numbers_equal_the_api(rt, signed_in):
    await seed(rt)
    admin = await signed_in("admin")
    today = utcnow().date()
    period = f"from={today - timedelta(days=10)}&to={today}"
    for query in (f"by=province&{period}", f"by=agency&{period}", f"by=category&province=35&{period}",
                  f"by=province&category=kependudukan&{period}", f"by=agency&agency=DINKES-32.73&{period}",
                  f"by=province&from={today}&to={today}&every=week"):
        r = await admin.get(f"/staff/dashboard?{query}")
        assert r.status == 200, query
        html = await r.text()
        api = await (await admin.get(f"/api/v1/stats?{query}", headers=ADMIN)).json()
        check_page_equals_api(html, api)
    # the figures are not trivial: the seed is visible in them
    api = await (await admin.get(f"/api/v1/stats?by=province&{period}", headers=ADMIN)).json()
    tot = api["total"]
    assert (tot["received"], tot["settled"], tot["archived"], tot["overdue"]) == (5, 1, 1, 2)
    assert api["channels"] == {"sms": 1, "telegram": 2, "whatsapp": 2}
    assert tot["sla_verify_late"] == 1 and tot["sla_followup_late"] == 1 and tot["sla_verify_on_time"] == 4
    assert sum(sum(b["counts"].values()) for b in api["series"]["buckets"]) == 5
    # the standalone SVG has the same numbers as the inline one
    r = await admin.get(f"/staff/dashboard/plot/sla.svg?by=province&{period}")
    assert r.status == 200 and r.content_type == "image/svg+xml"
    sla = dict(parse_svg(await r.text()))
    assert sla["Terlambat"] == [1, 1]
    assert "<script" not in await r.text()
    # campaign section for admins, a bad filter is a 400 with the form, unknown plot 404
    assert (await admin.get("/staff/dashboard?from=kemarin")).status == 400
    assert (await admin.get("/staff/dashboard/plot/nope.svg")).status == 404


async def test_default_period_is_the_last_30_days(rt, signed_in):
    await seed(rt)
    await rt.stores.reports.col.update_many({}, {"$set": {"created_at": utcnow() - timedelta(days=45)}})
    admin = await signed_in("admin")
    html = await (await admin.get("/staff/dashboard")).text()
    assert tables(html)["groups"]["TOTAL"]["received"] == "0"
    today = utcnow().date()
    html = await (await admin.get(f"/staff/dashboard?from={today - timedelta(days=60)}&to={today}")).text()
    assert tables(html)["groups"]["TOTAL"]["received"] == "5"


async def test_officer_sees_only_their_agency(rt, signed_in):
    await seed(rt)
    officer = await signed_in("officer", agency="DUKCAPIL-35.78")
    today = utcnow().date()
    query = f"by=province&from={today - timedelta(days=10)}&to={today}"
    # asking for another agency in the URL changes nothing
    html = await (await officer.get(f"/staff/dashboard?{query}&agency=DINKES-32.73")).text()
    headers = await agency_headers(rt, "DUKCAPIL-35.78")
    api = await (await officer.get(f"/api/v1/stats?{query}", headers=headers)).json()
    assert api["total"]["received"] == 1
    forced = await (await officer.get(f"/api/v1/stats?{query}&agency=DINKES-32.73", headers=headers)).json()
    assert forced["total"] == api["total"] and forced["filter"]["agency"] == "DUKCAPIL-35.78"
    check_page_equals_api(html, api)
    assert 'name="agency"' not in html


async def test_roles(rt, signed_in):
    from outreach.dispatch import install

    await seed(rt)
    out = install(rt)
    await out.campaigns.sync_files(out.codes)  # what the scheduler does at start, done before the page is read
    campaign = await signed_in("campaign")
    r = await campaign.get("/staff/dashboard")
    html = await r.text()
    assert r.status == 200
    assert 'id="groups"' not in html and 'id="plot-over_time"' not in html  # no report figures
    names = sorted(c.name for c in await install(rt).campaigns.all())
    assert list(tables(html)["campaign-table"]) == names and names  # campaign figures instead
    assert [legend for legend, _ in plot(html, "campaigns")] == ["Terkirim", "Sampai", "Dibaca", "Gagal"]
    assert (await campaign.get("/staff/dashboard/plot/sla.svg")).status == 404
    coordinator = await signed_in("coordinator")
    assert (await coordinator.get("/staff/dashboard")).status == 403
    assert (await coordinator.get("/staff/dashboard/plot/sla.svg")).status == 403
    en = await (await (await signed_in("admin")).get("/staff/dashboard?lang=en")).text()
    assert "Reports per channel" in en


def test_series_periods_stay_plottable():
    from datetime import datetime, timezone

    r = [{"created_at": datetime(2026, 11, 3, 5, tzinfo=timezone.utc), "status": "diterima"},
         {"created_at": datetime(2026, 11, 9, 23, tzinfo=timezone.utc), "status": "selesai"}]
    f = stats_mod.parse_query({"from": "2026-11-01", "to": "2026-11-30"})
    s = stats_mod._series(r, f["start"], f["end"], f["every"])
    assert s["every"] == "day" and len(s["buckets"]) == 30 and s["buckets"][-1]["start"] == "2026-11-30"
    f = stats_mod.parse_query({"from": "2026-11-01", "to": "2026-11-30", "every": "week"})
    s = stats_mod._series(r, f["start"], f["end"], f["every"])
    assert [b["start"] for b in s["buckets"] if sum(b["counts"].values())] == ["2026-11-02", "2026-11-09"]
    f = stats_mod.parse_query({"from": "1970-01-01", "to": "2026-12-01", "every": "day"})
    s = stats_mod._series(r, f["start"], f["end"], f["every"])
    assert s["every"] == "month" and len(s["buckets"]) <= stats_mod.MAX_BUCKETS
    assert sum(sum(b["counts"].values()) for b in s["buckets"]) == 2
    with pytest.raises(ValueError):
        stats_mod.parse_query({"to": "9999-12-31"})  # the day after is out of range: a 400, not a crash
    f = stats_mod.parse_query({"from": "1970-01-01", "to": "9998-12-30"})
    assert stats_mod._series([], f["start"], f["end"], f["every"])["buckets"] == []
    assert len(stats_mod._series(r, f["start"], f["end"], f["every"])["buckets"]) == 1
    with pytest.raises(ValueError):
        stats_mod.parse_query({"every": "hour"})
