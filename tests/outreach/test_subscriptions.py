"""Sign-up by deep link and keyword, opt-out, attribution to filed reports, staff API, QR."""
from __future__ import annotations

from outreach.dispatch import install
from outreach.stats import campaign_stats
from tests.chat import Chat


async def _consented(chat: Chat):
    """Get past the first-contact consent question whatever the first message was."""
    replies = await chat.send("halo")
    if any(c.payload.startswith("consent:") for r in replies for c in r.choices):
        await chat.send("setuju", payload="consent:ya")


async def _setup(rt):
    out = install(rt)
    await out.ensure_indexes()
    await out.campaigns.sync_files(out.codes)
    return out


async def test_deep_link_and_click_to_chat_record_attribution(make_runtime):
    rt = await make_runtime()
    await _setup(rt)
    tg = Chat(rt, user="9001", channel="telegram")
    await _consented(tg)
    await tg.send("/start KAMPUS-UNSRI", start="KAMPUS-UNSRI")
    sub = (await tg.contact())["subscription"]
    assert sub["status"] == "subscribed" and sub["campaign"] == "goes-to-campus"
    assert sub["segment"] == "kampus" and sub["institution"] == "Universitas Sriwijaya" and sub["region"] == "16"
    assert sub["code"] == "KAMPUS-UNSRI" and sub["source"] == "deep_link" and sub["language"] == "id"
    assert sub["since"] is not None
    wa = Chat(rt, user="628123", channel="whatsapp")
    await _consented(wa)
    await wa.send("DAFTAR kampus-unsri")  # WhatsApp click-to-chat pre-filled text, any case
    sub = (await wa.contact())["subscription"]
    assert sub["code"] == "KAMPUS-UNSRI" and sub["source"] == "keyword" and sub["venue"].startswith("Stan")
    plain = Chat(rt, user="628999", channel="whatsapp")
    await _consented(plain)
    await plain.send("DAFTAR")
    sub = (await plain.contact())["subscription"]
    assert sub["status"] == "subscribed" and sub["segment"] == "umum" and sub["code"] is None
    # opt-out: confirmed, immediate, permanent until DAFTAR again
    await wa.send("STOP")
    assert (await wa.contact())["subscription"]["status"] == "subscribed"
    await wa.send("ya")
    assert (await wa.contact())["subscription"]["status"] == "opted_out"
    await wa.send("DAFTAR")
    assert (await wa.contact())["subscription"]["status"] == "subscribed"


async def test_attribution_from_deep_links_to_filed_reports(make_runtime):
    rt = await make_runtime()
    await _setup(rt)
    people = []
    for i, code in enumerate(["KAMPUS-UNSRI", "KAMPUS-UNSRI", "KAMPUS-UNAIR"]):
        chat = Chat(rt, user=f"77{i}", channel="telegram")
        await _consented(chat)
        await chat.send(f"/start {code}", start=code)
        people.append(await chat.contact())
    # two reports by the first person, one by the third, none by the second
    for p in (people[0], people[0], people[2]):
        await rt.stores.reports.create({"contact_id": p["_id"], "description": "Jalan rusak", "category": "infrastruktur"})
    c = await rt.outreach.campaigns.get("goes-to-campus")
    st = await campaign_stats(rt, c)
    a = st["attribution"]
    assert a["signups"] == 3 and a["reports"] == 3 and a["reporting_contacts"] == 2
    rows = {r["code"]: r for r in a["codes"]}
    assert rows["KAMPUS-UNSRI"]["signups"] == 2 and rows["KAMPUS-UNSRI"]["reports"] == 2
    assert rows["KAMPUS-UNAIR"]["signups"] == 1 and rows["KAMPUS-UNAIR"]["reports"] == 1


async def test_staff_api_create_and_stats(make_runtime):
    import aiohttp
    from aiohttp import web

    from outreach.api import add_routes

    rt = await make_runtime()
    app = web.Application()
    add_routes(app, rt)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/api/v1/campaigns"
    auth = {"Authorization": f"Bearer {rt.settings.lapor_staff_token}"}
    body = {"name": "api-uji", "goal": "Uji API", "template": {"id": {"default": "Halo {{ contact.name }}",
                                                                       "sms": "Halo"}, "en": "Hi"},
            "audience": {"segment": ["kampus"], "channel": ["telegram"]}, "rate_caps": {"telegram": 10},
            "codes": [{"code": "API-1", "venue": "Booth", "segment": "kampus"}]}
    try:
        async with aiohttp.ClientSession() as s:
            async with s.post(base, json=body) as r:
                assert r.status == 401
            async with s.post(base, json=body, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}) as r:
                assert r.status == 401
            async with s.post(base, json={**body, "template": {"id": "Halo {{ contact.nmae }}"}}, headers=auth) as r:
                assert r.status == 422 and "missing variable" in str(await r.json())
            async with s.post(base, json=body, headers=auth) as r:
                assert r.status == 201, await r.text()
            async with s.post(base, json=body, headers=auth) as r:
                assert r.status == 200
            async with s.get(f"{base}/api-uji/stats", headers=auth) as r:
                st = await r.json()
                assert r.status == 200 and st["campaign"] == "api-uji" and st["sent"] == 0
            async with s.get(f"{base}/nope/stats", headers=auth) as r:
                assert r.status == 404
    finally:
        await runner.cleanup()
    assert (await rt.outreach.codes.lookup("api-1"))["campaign"] == "api-uji"


def test_qr_png_and_svg(tmp_path):
    from outreach.qr import signup_link, write_qr

    link = signup_link("KAMPUS-UNSRI", telegram_bot="@LaporBot")
    assert link == "https://t.me/LaporBot?start=KAMPUS-UNSRI"
    assert signup_link("X1", whatsapp_number="+62 811-1708") == "https://wa.me/628111708?text=DAFTAR%20X1"
    png, svg = write_qr(link, tmp_path, "campus")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "<svg" in svg.read_text()
