"""The Open311 GeoReport v2 server over HTTP: formats, errors, filing, duplicates, listing and privacy."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime
from xml.etree import ElementTree as ET

from bot.nlu.interpret import CATEGORIES
from tests.open311.conftest import PREFIX, advance, citizen, form, make_report

REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url",
                  "lapor_status")


def xml_doc(body: bytes) -> ET.Element:
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(body)


def aware(ts: str) -> datetime:
    d = datetime.fromisoformat(ts)
    assert d.tzinfo is not None and ts.endswith("+07:00")
    return d


async def get_json(client, path: str, status: int = 200):
    async with client.get(PREFIX + path) as r:
        assert r.status == status, await r.text()
        assert r.headers["Content-Type"].startswith("application/json")
        assert "charset=utf-8" in r.headers["Content-Type"]
        return await r.json()


async def get_xml(client, path: str, status: int = 200) -> ET.Element:
    async with client.get(PREFIX + path) as r:
        assert r.status == status
        assert r.headers["Content-Type"].startswith("text/xml")
        return xml_doc(await r.read())


async def post(client, data: dict, fmt: str = "json"):
    async with client.post(f"{PREFIX}/requests.{fmt}", data=data) as r:
        body = await r.read()
        return r.status, (json.loads(body) if fmt == "json" else xml_doc(body))


def assert_error(body, code: int) -> str:
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    assert body[0]["code"] == code and body[0]["description"]
    return body[0]["description"]


# ------------------------------------------------------------------ services and discovery
async def test_services_list_every_category_in_json_and_xml(client):
    services = await get_json(client, "/services.json")
    assert [s["service_code"] for s in services] == list(CATEGORIES)
    for s in services:
        assert set(s) == {"service_code", "service_name", "description", "metadata", "type", "keywords", "group"}
        assert s["metadata"] is True and s["type"] == "realtime" and s["service_name"]
    root = await get_xml(client, "/services.xml")
    assert root.tag == "services"
    xs = root.findall("service")
    assert [x.findtext("service_code") for x in xs] == list(CATEGORIES)
    assert {x.findtext("metadata") for x in xs} == {"true"}
    assert [x.findtext("service_name") for x in xs] == [s["service_name"] for s in services]
    en = await (await client.get(PREFIX + "/services.json", headers={"Accept-Language": "en"})).json()
    assert en[0]["service_name"] != services[0]["service_name"] or en[0]["description"] != services[0]["description"]


async def test_service_definition_and_unknown_code(client):
    d = await get_json(client, "/services/kesehatan.json")
    assert d["service_code"] == "kesehatan"
    codes = [a["code"] for a in d["attributes"]]
    assert codes == ["region", "privacy", "type"]
    privacy = d["attributes"][1]
    assert privacy["datatype"] == "singlevaluelist" and [v["key"] for v in privacy["values"]] == [
        "publik", "anonim", "rahasia"]
    root = await get_xml(client, "/services/kesehatan.xml")
    assert root.tag == "service_definition" and root.findtext("service_code") == "kesehatan"
    attrs = root.find("attributes").findall("attribute")
    assert [a.findtext("code") for a in attrs] == codes
    assert [v.findtext("key") for v in attrs[1].find("values").findall("value")] == ["publik", "anonim", "rahasia"]
    assert attrs[0].findtext("required") == "false"
    assert_error(await get_json(client, "/services/parkir_liar.json", 404), 404)
    err = await get_xml(client, "/services/parkir_liar.xml", 404)
    assert err.tag == "errors" and err.find("error").findtext("code") == "404"


async def test_discovery_and_unsupported_format_and_unknown_path(client):
    d = await get_json(client, "/discovery.json")
    assert d["endpoints"][0]["specification"].endswith("GeoReport_v2")
    assert d["endpoints"][0]["url"].endswith(PREFIX + "/")
    assert set(d["endpoints"][0]["formats"]) == {"text/xml", "application/json"}
    async with client.get(PREFIX + "/services.csv") as r:
        assert r.status == 400
        root = xml_doc(await r.read())
        assert root.tag == "errors" and "format" in root.find("error").findtext("description")
    async with client.get(PREFIX + "/nothing/here.json") as r:
        assert r.status == 404
        assert_error(await r.json(), 404)


# ------------------------------------------------------------------ POST requests: errors
async def test_post_errors_use_the_spec_error_array(rt, client, api_key):
    status, body = await post(client, form(None))
    assert status == 400 and "api_key" in assert_error(body, 400)
    status, body = await post(client, form("lapo311_not-a-real-key"))
    assert status == 403 and "api_key" in assert_error(body, 403)
    status, body = await post(client, form(api_key, service_code="parkir_liar"))
    assert status == 404 and "service_code" in assert_error(body, 404)
    status, body = await post(client, form(api_key, service_code=""))
    assert status == 400 and "service_code" in assert_error(body, 400)
    status, body = await post(client, form(api_key, lat="", long="", address_string=""))
    assert status == 400 and "location" in assert_error(body, 400)
    status, body = await post(client, form(api_key, lat="51.5072", long="-0.1276"))  # London
    assert status == 400 and "Indonesia" in assert_error(body, 400)
    status, body = await post(client, form(api_key, lat="abc"))
    assert status == 400 and "lat" in assert_error(body, 400)
    status, body = await post(client, form(api_key, description="x" * (rt.settings.lapor_max_text_chars + 1)))
    assert status == 400 and "description" in assert_error(body, 400)
    status, body = await post(client, form(api_key, **{"attribute[privacy]": "terbuka"}))
    assert status == 400 and "privacy" in assert_error(body, 400)
    status, root = await post(client, form("lapo311_wrong"), fmt="xml")
    assert status == 403 and root.tag == "errors" and root.find("error").findtext("code") == "403"
    async with client.post(f"{PREFIX}/requests.html", data=form(api_key)) as r:
        assert r.status == 400
    assert await rt.stores.reports.col.count_documents({}) == 0


async def test_revoked_key_is_refused(rt, client, api_key):
    from bot.open311.keys import ApiKeyStore

    assert await ApiKeyStore(rt.stores.db).revoke("Aplikasi Uji") == 1
    status, body = await post(client, form(api_key))
    assert status == 403 and assert_error(body, 403)


# ------------------------------------------------------------------ POST requests: filing
async def test_post_files_a_report_in_the_normal_lifecycle(rt, client, api_key):
    status, body = await post(client, form(api_key, **{"attribute[privacy]": "publik",
                                                       "attribute[region]": "53.71", "first_name": "Yohana",
                                                       "last_name": "Benu", "email": "yohana@example.org"}))
    assert status == 201
    assert len(body) == 1 and set(body[0]) == {"service_request_id", "service_notice", "account_id"}
    tid = body[0]["service_request_id"]
    report = await rt.stores.reports.get(tid)
    assert report["status"] == "diterima" and report["channel"] == "open311"
    assert report["verify_due_at"] is not None  # the SLA clock started as for a chat report
    assert report["location"]["region_code"] == "53.71" and report["location"]["province_code"] == "53"
    assert report["agency_suggested"] == "DPU-53.71"
    assert report["reporter_name"] == "Yohana Benu" and report["open311"]["client"] == "Aplikasi Uji"
    assert "yohana@example.org" not in json.dumps(report, default=str)  # e-mail is not stored
    # ... and it is a normal report for staff
    await advance(rt, tid, "terverifikasi", "diteruskan", "ditanggapi")
    [req] = await get_json(client, f"/requests/{tid}.json")
    assert set(REQUEST_FIELDS) <= set(req)
    assert req["service_request_id"] == tid and req["status"] == "open" and req["lapor_status"] == "ditanggapi"
    assert req["status_notes"] == "Sudah kami perbaiki, terima kasih."
    assert req["agency_responsible"].startswith("Dinas Pekerjaan Umum")
    assert req["service_code"] == "infrastruktur" and req["service_name"]
    assert req["address"] == "Jl. Frans Seda, Kota Kupang"
    assert req["lat"] == -10.163 and req["long"] == 123.601  # rounded to about 100 m
    assert aware(req["requested_datetime"]) <= aware(req["updated_datetime"])
    assert "Yohana" not in json.dumps(req) and "Benu" not in json.dumps(req)
    await advance(rt, tid, "selesai")
    root = await get_xml(client, f"/requests/{tid}.xml")
    assert root.tag == "service_requests"
    [x] = root.findall("request")
    assert x.findtext("service_request_id") == tid and x.findtext("status") == "closed"
    assert x.findtext("lapor_status") == "selesai" and x.findtext("status_notes") == req["status_notes"]
    assert x.find("address_id") is not None and x.find("address_id").text is None  # empty element
    aware(x.findtext("requested_datetime"))


async def test_region_from_address_string_and_default_privacy(rt, client, api_key):
    status, body = await post(client, form(api_key, lat="", long="",
                                           address_string="Jl. Ahmad Yani depan pasar, Kota Kendari"))
    assert status == 201
    report = await rt.stores.reports.get(body[0]["service_request_id"])
    assert report["location"]["region_name"] == "Kota Kendari" and report["location"]["latitude"] is None
    assert report["privacy"] == "anonim"
    status, body = await post(client, form(api_key, **{"attribute[region]": "Negeri Antah Berantah"}))
    assert status == 400 and "region" in assert_error(body, 400)


async def test_duplicate_post_returns_the_same_request(rt, client, api_key):
    data = form(api_key, description="Sampah menumpuk di TPS Oebobo sudah dua minggu tidak diangkut")
    status, first = await post(client, data)
    assert status == 201
    status, again = await post(client, data)
    assert status == 200 and again == first
    status, root = await post(client, data, fmt="xml")
    assert status == 200 and root.find("request").findtext("service_request_id") == first[0]["service_request_id"]
    # the same body at the same moment from two connections: still one report
    data2 = form(api_key, description="Drainase tersumbat di Jl. El Tari, air meluap ke jalan")
    results = await asyncio.gather(*(post(client, data2) for _ in range(4)))
    ids = {b[0]["service_request_id"] for _, b in results}
    assert len(ids) == 1 and sorted(s for s, _ in results).count(201) <= 1
    assert await rt.stores.reports.col.count_documents({"channel": "open311"}) == 2
    # another client with the same body is not a duplicate
    from bot.open311.keys import ApiKeyStore

    other, _ = await ApiKeyStore(rt.stores.db).issue("Aplikasi Lain")
    status, body = await post(client, {**data, "api_key": other})
    assert status == 201 and body[0]["service_request_id"] != first[0]["service_request_id"]


async def test_old_duplicate_window_files_again(rt, client, api_key):
    from datetime import timedelta

    from bot.open311.intake import DUPLICATE_WINDOW

    data = form(api_key, description="Jembatan kayu di Desa Oelnasi rusak, anak sekolah memutar jauh")
    _, first = await post(client, data)
    await rt.stores.db["open311_posts"].update_many({}, {"$set": {"at": datetime(2020, 1, 1)}})
    assert DUPLICATE_WINDOW < timedelta(days=1)
    status, second = await post(client, data)
    assert status == 201 and second[0]["service_request_id"] != first[0]["service_request_id"]


# ------------------------------------------------------------------ GET requests: privacy and filters
async def _three(rt):
    person = await citizen(rt, user_id="6281299990001", channel="whatsapp", name="Dewi Lestari")
    pub = await make_report(rt, person, privacy="publik")
    anon = await make_report(rt, person, privacy="anonim", category="kesehatan")
    secret = await make_report(rt, person, privacy="rahasia")
    return pub, anon, secret


async def test_only_publik_listed_anonim_by_id_without_reporter_rahasia_never(rt, client):
    pub, anon, secret = await _three(rt)
    listed = await get_json(client, "/requests.json")
    assert [r["service_request_id"] for r in listed] == [pub["tracking_id"]]
    ids = ",".join(r["tracking_id"] for r in (pub, anon, secret))
    by_ids = await get_json(client, f"/requests.json?service_request_id={ids}")
    assert {r["service_request_id"] for r in by_ids} == {pub["tracking_id"], anon["tracking_id"]}
    [a] = await get_json(client, f"/requests/{anon['tracking_id']}.json")
    assert a["service_code"] == "kesehatan"
    assert_error(await get_json(client, f"/requests/{secret['tracking_id']}.json", 404), 404)
    await get_xml(client, f"/requests/{secret['tracking_id']}.xml", 404)
    for path in ("/requests.json", f"/requests.json?service_request_id={ids}", f"/requests/{anon['tracking_id']}.json",
                 "/requests.xml", f"/requests/{pub['tracking_id']}.xml"):
        async with client.get(PREFIX + path) as r:
            text = await r.text()
        for secret_bit in ("Dewi", "Lestari", "6281299990001", secret["tracking_id"], str(pub["contact_id"])):
            assert secret_bit not in text, (path, secret_bit)


async def test_list_filters_and_paging(rt, client):
    person = await citizen(rt)
    a = await make_report(rt, person, category="infrastruktur")
    b = await make_report(rt, person, category="kesehatan")
    c = await make_report(rt, person, category="kesehatan")
    await advance(rt, c["tracking_id"], "terverifikasi", "diteruskan", "ditanggapi", "selesai")
    assert {r["service_request_id"] for r in await get_json(client, "/requests.json?service_code=kesehatan")} == {
        b["tracking_id"], c["tracking_id"]}
    closed = await get_json(client, "/requests.json?status=closed")
    assert [r["service_request_id"] for r in closed] == [c["tracking_id"]] and closed[0]["status"] == "closed"
    opened = await get_json(client, "/requests.json?status=open")
    assert {r["service_request_id"] for r in opened} == {a["tracking_id"], b["tracking_id"]}
    assert {r["status"] for r in opened} == {"open"}
    assert await get_json(client, "/requests.json?start_date=2001-01-01T00:00:00Z&end_date=2001-12-31") == []
    everything = await get_json(client, "/requests.json?start_date=2001-01-01T00:00:00%2B07:00")
    assert len(everything) == 3
    newest_first = [r["service_request_id"] for r in everything]
    assert newest_first == [c["tracking_id"], b["tracking_id"], a["tracking_id"]]
    p1 = await get_json(client, "/requests.json?page_size=2")
    p2 = await get_json(client, "/requests.json?page_size=2&page=2")
    assert [r["service_request_id"] for r in p1 + p2] == newest_first
    root = await get_xml(client, "/requests.xml?page_size=2")
    assert [x.findtext("service_request_id") for x in root.findall("request")] == newest_first[:2]
    for bad in ("status=pending", "start_date=kemarin", "page_size=0", "page=-1"):
        assert_error(await get_json(client, f"/requests.json?{bad}", 400), 400)


async def test_cli_issues_a_key_that_works(rt, client, settings, monkeypatch, capsys):
    from argparse import Namespace

    from bot.open311.keys import _cli

    monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
    monkeypatch.setenv("LAPOR_DB", settings.lapor_db)
    monkeypatch.setenv("LAPOR_DATA_DIR", str(settings.lapor_data_dir))
    assert await _cli(Namespace(name="SiPelita Kupang", revoke=False, list=False)) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("lapo311_")
    stored = await rt.stores.db["open311_keys"].find_one({"name": "SiPelita Kupang"})
    assert stored and key not in json.dumps(stored, default=str)
    status, _ = await post(client, form(key))
    assert status == 201
    assert await _cli(Namespace(name="SiPelita Kupang", revoke=True, list=False)) == 0
    status, body = await post(client, form(key, description="laporan lain setelah dicabut"))
    assert status == 403


async def test_multipart_file_instead_of_a_field_is_a_400(client, api_key):
    import aiohttp

    data = aiohttp.FormData()
    for k, v in form(api_key).items():
        if k != "description":
            data.add_field(k, v)
    data.add_field("description", b"\xff\xd8binary", filename="x.jpg", content_type="image/jpeg")
    async with client.post(f"{PREFIX}/requests.json", data=data) as r:
        assert r.status == 400
        assert "description" in assert_error(await r.json(), 400)
