"""Monitoring figures (API and ``laporbot stats``) and the ``laporbot staff token`` command."""
import asyncio
from datetime import timedelta

from bot.messages import utcnow
from bot.staff import stats
from tests.staff.conftest import ADMIN, advance, agency_headers, make_report

SBY = ("35.78", "Kota Surabaya", "35", "Jawa Timur")


async def _seed(rt):
    a = await make_report(rt)                                         # NTT, settled, rating 4
    b = await make_report(rt)                                         # NTT, archived
    c = await make_report(rt, region=SBY, category="kependudukan")    # Jatim, forwarded, overdue
    d = await make_report(rt, region=SBY, category="kependudukan")    # Jatim, just received
    await advance(rt, a["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    await rt.stores.reports.set_rating(a["tracking_id"], 4, None)
    await advance(rt, b["tracking_id"], "diarsipkan")
    await advance(rt, c["tracking_id"], "terverifikasi", "diteruskan", agency="DUKCAPIL-35.78")
    await rt.stores.reports.col.update_one({"_id": c["_id"]}, {"$set": {"followup_due_at": utcnow() - timedelta(days=1)}})
    # a settled time of 2 days for the median
    await rt.stores.reports.col.update_one({"_id": a["_id"]}, {"$set": {"created_at": utcnow() - timedelta(days=2)}})
    return a, b, c, d


async def test_stats_by_province_agency_category(rt, client):
    await _seed(rt)
    r = await client.get("/api/v1/stats?by=province", headers=ADMIN)
    body = await r.json()
    assert r.status == 200
    rows = {g["key"]: g for g in body["groups"]}
    ntt, jatim = rows["53"], rows["35"]
    assert ntt["name"] == "Nusa Tenggara Timur"
    assert (ntt["received"], ntt["verified"], ntt["forwarded"], ntt["answered"], ntt["settled"], ntt["archived"],
            ntt["in_progress"]) == (2, 1, 1, 1, 1, 1, 0)
    assert ntt["pct_forwarded"] == 50.0 and ntt["pct_archived"] == 50.0 and ntt["pct_settled"] == 50.0
    assert 1.9 < ntt["median_days_to_settle"] < 2.1 and ntt["avg_rating"] == 4.0
    assert (jatim["received"], jatim["in_progress"], jatim["overdue"], jatim["settled"]) == (2, 2, 1, 0)
    assert jatim["median_days_to_settle"] is None and jatim["avg_rating"] is None
    assert body["total"]["received"] == 4 and body["total"]["pct_settled"] == 25.0
    for field in stats.FIELDS:
        assert field in body["total"]
    by_agency = {g["key"]: g for g in (await (await client.get("/api/v1/stats?by=agency", headers=ADMIN)).json())["groups"]}
    assert by_agency["DUKCAPIL-35.78"]["received"] == 1 and by_agency["-"]["received"] == 2
    by_cat = {g["key"]: g for g in (await (await client.get("/api/v1/stats?by=category", headers=ADMIN)).json())["groups"]}
    assert by_cat["kependudukan"]["received"] == 2
    # period filter
    today = utcnow().date()
    r = await client.get(f"/api/v1/stats?from={today}&to={today}", headers=ADMIN)
    assert (await r.json())["total"]["received"] == 3  # report a was filed two days ago
    r = await client.get(f"/api/v1/stats?to={today - timedelta(days=5)}", headers=ADMIN)
    assert (await r.json())["total"]["received"] == 0
    for bad in ("by=village", "from=yesterday", "foo=1"):
        assert (await client.get(f"/api/v1/stats?{bad}", headers=ADMIN)).status == 400
    # an agency sees its own figures only
    h = await agency_headers(rt, "DUKCAPIL-35.78")
    assert (await (await client.get("/api/v1/stats", headers=h)).json())["total"]["received"] == 1
    assert (await client.get("/api/v1/stats")).status == 401


async def test_stats_table(rt):
    await _seed(rt)
    result = await stats.compute(rt.stores, by="province", now=utcnow())
    text = stats.table(result)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["province", "recv", "verif"]
    assert any(line.startswith("Nusa Tenggara Timur") for line in lines)
    assert lines[-1].startswith("TOTAL") and " 4 " in lines[-1]


def _run_cli(argv, settings, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("LAPOR_DB", settings.lapor_db)
    rc = main(argv)
    return rc, capsys.readouterr()


async def test_laporbot_staff_token_and_stats_commands(rt, client, settings, monkeypatch, capsys):
    await _seed(rt)
    rc, out = await asyncio.to_thread(_run_cli, ["staff", "token", "--agency", "dukcapil-35.78"], settings,
                                      monkeypatch, capsys)
    assert rc == 0
    token = out.out.strip()
    assert token.startswith("lapag_") and "DUKCAPIL-35.78" in out.err
    r = await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 200 and (await r.json())["total"] == 1
    rc, out = await asyncio.to_thread(_run_cli, ["staff", "token", "--agency", "NOPE"], settings, monkeypatch, capsys)
    assert rc == 2 and "unknown agency" in out.err
    rc, out = await asyncio.to_thread(_run_cli, ["staff", "token", "--agency", "DUKCAPIL-35.78", "--revoke"],
                                      settings, monkeypatch, capsys)
    assert rc == 0
    assert (await client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})).status == 401
    rc, out = await asyncio.to_thread(_run_cli, ["stats", "--by", "category"], settings, monkeypatch, capsys)
    assert rc == 0 and "kependudukan" in out.out and "TOTAL" in out.out
