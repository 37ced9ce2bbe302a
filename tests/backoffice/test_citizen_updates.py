"""Issue 12: an agency is told when the citizen adds information or objects. A WhatsApp citizen adds information;
the officer's inbox flags the report (badge and filter), the staff API shows it to the agency, and opening the
report page clears the flag."""
import aiohttp
import pytest

from tests.channels.test_filed_for import consented, say
from tests.fixtures.fakes import WhatsAppDriver, wait_until
from tests.staff.conftest import advance, agency_headers, make_report

SECRET = "wa-app-secret-updates"
WA = "6281234567401"
AGENCY = "DPU-53.71"
BADGE = 'class="badge warn citizen-update"'


@pytest.fixture
async def rt(make_runtime, fake_graph):
    g = fake_graph
    return await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                              whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                              whatsapp_api_base_url=g.base_url)


def row_of(page: str, tid: str) -> str:
    start = page.index(f"/staff/reports/{tid}")
    return page[start:page.index("</tr>", start)]


async def api_view(rt, tid: str) -> dict:
    headers = await agency_headers(rt, AGENCY)
    async with aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{rt.http_port}/api/v1/reports/{tid}", headers=headers) as r:
            assert r.status == 200
            return await r.json()


async def test_citizen_adds_info_on_whatsapp_officer_sees_badge_until_opening_the_report(rt, fake_graph, signed_in):
    g = fake_graph
    async with WhatsAppDriver(g, f"http://127.0.0.1:{rt.http_port}", SECRET) as drv:
        await consented(rt, g, drv, WA)
        contact = await rt.stores.contacts.find_by_identity("whatsapp", WA)
        report = await make_report(rt, contact)
        quiet = await make_report(rt, contact)
        tid = report["tracking_id"]
        for r in (report, quiet):
            await advance(rt, r["tracking_id"], "terverifikasi", "diteruskan", agency=AGENCY)
        officer = await signed_in("officer", agency=AGENCY)
        inbox = await (await officer.get("/staff/reports")).text()
        assert BADGE not in row_of(inbox, tid)
        assert (await api_view(rt, tid))["citizen_update"]["unseen"] is False

        await say(rt, g, drv, WA, button=f"addinfo:{tid}")  # the reporter is entitled to it
        await say(rt, g, drv, WA, "Lubangnya makin besar, kemarin ada motor jatuh")
        await wait_until(lambda: rt.stores.reports.col.find_one({"tracking_id": tid, "citizen_update_unseen": True}))

    inbox = await (await officer.get("/staff/reports")).text()
    assert BADGE in row_of(inbox, tid) and BADGE not in row_of(inbox, quiet["tracking_id"])
    assert "Info baru dari warga" in row_of(inbox, tid)
    only = await (await officer.get("/staff/reports?updated=1")).text()
    assert tid in only and quiet["tracking_id"] not in only
    view = await api_view(rt, tid)
    assert view["citizen_update"]["unseen"] is True and view["citizen_update"]["kind"] == "info"
    assert "motor jatuh" in view["additions"][-1]["text"]

    page = await (await officer.get(f"/staff/reports/{tid}")).text()
    assert "motor jatuh" in page
    inbox = await (await officer.get("/staff/reports")).text()
    assert BADGE not in row_of(inbox, tid)
    assert tid not in await (await officer.get("/staff/reports?updated=1")).text()
    view = await api_view(rt, tid)
    assert view["citizen_update"]["unseen"] is False and view["citizen_update"]["seen_by_agency_at"]
