"""The public page over HTTP: publik reports only, no personal data anywhere, answer and history, filters,
search by ID, EXIF-free photos, and the monitoring figures with plots (same numbers as stats.compute)."""
from __future__ import annotations

import re
from xml.etree import ElementTree as ET

from bot.messages import utcnow
from tests.publik.conftest import personal_bits


async def fetch(client, path: str, status: int = 200) -> str:
    async with client.get(path, allow_redirects=False) as r:
        assert r.status == status, (path, r.status)
        if status == 200:
            assert r.headers["Content-Type"].startswith("text/html")
            assert "public" in r.headers["Cache-Control"]
            assert "script" not in r.headers["Content-Security-Policy"] or "'none'" in r.headers[
                "Content-Security-Policy"]
        return await r.text()


def assert_no_personal_data(html: str, world: dict) -> None:
    low = html.lower()
    for bit in personal_bits():
        assert bit.lower() not in low, bit
    assert "rahasia-tidak-boleh-tampil" not in low
    assert world["rahasia"]["tracking_id"] not in html
    for r in world.values():
        for key in ("contact_id", "volunteer_id"):
            if r.get(key) is not None:
                assert str(r[key]) not in html
    assert "dewi@example.org" not in low and "<script" not in low


async def test_list_shows_publik_reports_only_and_no_personal_data(client, world):
    html = await fetch(client, "/publik")
    for k in ("answered", "settled", "volunteer"):
        assert world[k]["tracking_id"] in html
    assert world["anonim"]["tracking_id"] not in html
    assert "Sudah kami perbaiki, terima kasih." in html  # the agency's answer
    assert_no_personal_data(html, world)
    assert "•••" in html  # the phone number and name in the description were masked
    en = await fetch(client, "/publik?lang=en")
    assert "Public reports" in en and "Laporan publik" not in en


async def test_detail_shows_answer_history_and_photo_without_metadata(client, world):
    tid = world["answered"]["tracking_id"]
    html = await fetch(client, f"/publik/laporan/{tid}")
    assert_no_personal_data(html, world)
    assert "Sudah kami perbaiki, terima kasih." in html and "Jl. Frans Seda" in html
    assert "Dinas Pekerjaan Umum" in html
    history = re.findall(r"<li>(.*?)</li>", html, re.S)
    assert len(history) == 4  # diterima, terverifikasi, diteruskan, ditanggapi
    assert "admin" not in " ".join(history)  # staff are 'petugas', never who
    src = re.search(r'<img class="photo" src="([^"]+)"', html).group(1)
    async with client.get(src) as r:
        assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
        body = await r.read()
    assert body.startswith(b"\xff\xd8") and b"Exif" not in body and b"PhoneCo" not in body
    assert b"GPSLatitude" not in body and b"Rudi Hartono" not in body
    await fetch(client, f"/publik/laporan/{tid}/foto/7", 404)
    # anonim by its ID: shown, without the reporter; rahasia: as if it did not exist
    html = await fetch(client, f"/publik/laporan/{world['anonim']['tracking_id']}")
    assert "Pungutan liar" in html
    assert_no_personal_data(html, world)
    html = await fetch(client, f"/publik/laporan/{world['rahasia']['tracking_id']}", 404)
    assert "RAHASIA" not in html and "Sudah kami perbaiki" not in html
    await fetch(client, f"/publik/laporan/{world['rahasia']['tracking_id']}/foto/0", 404)
    await fetch(client, "/publik/laporan/LPR-BUKAN", 404)


async def test_volunteer_report_shows_neither_volunteer_nor_person_filed_for(client, world):
    html = await fetch(client, f"/publik/laporan/{world['volunteer']['tracking_id']}")
    assert "Bantuan sosial untuk lansia" in html
    assert_no_personal_data(html, world)


async def test_search_by_id_and_filters(client, world):
    tid = world["settled"]["tracking_id"]
    async with client.get("/publik", params={"q": tid.lower().replace("-", " ")}, allow_redirects=False) as r:
        assert r.status == 303 and r.headers["Location"] == f"/publik/laporan/{tid}"
    html = await fetch(client, "/publik?q=" + world["rahasia"]["tracking_id"])
    assert "tidak ditemukan" in html and "RAHASIA-TIDAK" not in html
    html = await fetch(client, "/publik?region=74")
    assert tid in html and world["answered"]["tracking_id"] not in html
    html = await fetch(client, "/publik?region=53.71&category=infrastruktur")
    assert world["answered"]["tracking_id"] in html and tid not in html
    html = await fetch(client, "/publik?status=closed")
    assert tid in html and world["answered"]["tracking_id"] not in html
    html = await fetch(client, "/publik?status=ditanggapi")
    assert world["answered"]["tracking_id"] in html and tid not in html
    html = await fetch(client, "/publik?category=tidak-ada&region=99.99")  # unknown values: ignored
    assert tid in html


def _svg_values(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [d.text for d in root.iter("{http://www.w3.org/2000/svg}desc") if d.get("class") == "value"]


async def test_statistics_page_numbers_and_plots_match_stats(rt, client, world):
    from bot.staff import stats

    html = await fetch(client, "/publik/statistik")
    assert_no_personal_data(html, world)
    result = await stats.compute(rt.stores, by="province", now=utcnow())
    ntt = next(g for g in result["groups"] if g["key"] == "53")
    assert ntt["received"] == 4 and result["total"]["received"] == 5
    rows = {m.group(1): m.group(2) for m in re.finditer(r"<tr><td>([^<]+)</td>(.*?)</tr>", html, re.S)}
    cells = re.findall(r'<td class="n">([^<]*)</td>', rows["Nusa Tenggara Timur"])
    assert cells[:6] == [str(ntt["received"]), str(ntt["forwarded"]), str(ntt["pct_forwarded"]),
                         str(ntt["archived"]), str(ntt["pct_archived"]), str(ntt["settled"])]
    svgs = re.findall(r"<svg.*?</svg>", html, re.S)
    assert len(svgs) == 4 and all("<script" not in s for s in svgs)
    percent = re.search(r'id="plot-percent">\s*(<svg.*?</svg>)', html, re.S).group(1)
    values = _svg_values(percent)
    sultra = next(g for g in result["groups"] if g["key"] == "74")
    assert str(int(sultra["pct_settled"])) in values  # 100 % settled in Sulawesi Tenggara
    assert (await fetch(client, "/publik/statistik?from=kemarin", 400))


async def test_pages_are_cached_briefly(rt, client, world):
    from tests.publik.conftest import make_report

    first = await fetch(client, "/publik")
    late = await make_report(rt, privacy="publik", description="Laporan yang datang setelah halaman disimpan")
    assert await fetch(client, "/publik") == first  # served from the cache
    assert late["tracking_id"] in await fetch(client, "/publik?page=1")  # another query: rendered now
