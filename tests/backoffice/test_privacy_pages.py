"""The privacy scope of every back-office page and of the CSV export: the same matrix as the API
(tests/staff/test_privacy.py), checked on the HTML and CSV a person receives."""
import pytest

from tests.staff.conftest import NAME, PHONE_ID, TELEGRAM_ID
from tests.staff.test_privacy import MATRIX, ON_BEHALF, ON_BEHALF_PHONE, VOLUNTEER_ID, _reports

ROLE = {"admin": "admin", "officer": "agency"}


def _no_identities(text: str, reporter, volunteer, role: str) -> None:
    for ident in (PHONE_ID, VOLUNTEER_ID, TELEGRAM_ID):
        assert ident not in text
    if role == "officer":
        assert ON_BEHALF_PHONE not in text and "81298765432" not in text
        assert str(reporter["_id"]) not in text and str(volunteer["_id"]) not in text


@pytest.mark.parametrize("role", ["admin", "officer"])
async def test_report_pages_inbox_and_csv_follow_the_privacy_matrix(rt, signed_in, role):
    ids, reporter, volunteer = await _reports(rt)
    client = await signed_in(role, agency="DPU-53.71" if role == "officer" else None)
    for privacy, (direct, assisted) in ids.items():
        may_see = MATRIX[(ROLE[role], privacy)]
        for tid in (direct, assisted):
            r = await client.get(f"/staff/reports/{tid}")
            text = await r.text()
            assert r.status == 200
            _no_identities(text, reporter, volunteer, role)
            name = NAME if tid == direct else ON_BEHALF
            assert (name in text) == may_see, (role, privacy, tid)
            if role == "admin" and tid == assisted:
                assert ON_BEHALF_PHONE in text
        r = await client.get(f"/staff/reports?privacy={privacy}")
        inbox = await r.text()
        _no_identities(inbox, reporter, volunteer, role)
        assert direct in inbox and assisted in inbox
        r = await client.get(f"/staff/reports.csv?privacy={privacy}")
        csv_text = await r.text()
        assert r.status == 200 and r.content_type == "text/csv"
        _no_identities(csv_text, reporter, volunteer, role)
        assert (NAME in csv_text) == may_see and (ON_BEHALF in csv_text) == may_see
        assert ("channel" in csv_text.splitlines()[0]) == (role == "admin")


async def test_officer_sees_no_notification_channels_and_admin_does(rt, signed_in):
    ids, *_ = await _reports(rt)
    tid = ids["publik"][0]
    admin = await signed_in("admin")
    officer = await signed_in("officer", agency="DPU-53.71")
    assert "whatsapp" in await (await admin.get(f"/staff/reports/{tid}")).text()
    assert "whatsapp" not in (await (await officer.get(f"/staff/reports/{tid}")).text()).lower()


@pytest.mark.parametrize("role", ["campaign", "coordinator"])
async def test_roles_without_reports_get_403_everywhere_reports_are(rt, signed_in, role):
    ids, *_ = await _reports(rt)
    tid = ids["rahasia"][0]
    client = await signed_in(role)
    for path in ("/staff/reports", "/staff/reports.csv", f"/staff/reports/{tid}", f"/staff/reports/{tid}/attachments/0",
                 "/staff/canned"):
        r = await client.get(path, allow_redirects=False)
        text = await r.text()
        assert r.status == 403, path
        assert tid not in text and NAME not in text
    for path in (f"/staff/reports/{tid}/transition", f"/staff/reports/{tid}/notes"):
        assert (await client.form(path, to="diarsipkan", note="x")).status == 403
    assert (await rt.stores.reports.get(tid))["status"] == "diteruskan"
    home = await client.get("/staff/")
    assert home.status == 200 and "/staff/reports" not in await home.text()


async def test_officer_of_another_agency_gets_404_for_every_report_url(rt, signed_in):
    ids, *_ = await _reports(rt)
    tid = ids["publik"][0]
    other = await signed_in("officer", agency="PLN")
    for path in (f"/staff/reports/{tid}", f"/staff/reports/{tid}/attachments/0"):
        r = await other.get(path)
        assert r.status == 404 and tid not in await r.text()
    for path in (f"/staff/reports/{tid}/transition", f"/staff/reports/{tid}/notes", f"/staff/reports/{tid}/return"):
        assert (await other.form(path, to="ditanggapi", note="jawaban")).status == 404
    assert (await other.get("/staff/reports/LPR-0000000")).status == 404  # unknown looks the same
    listed = await (await other.get("/staff/reports")).text()
    assert tid not in listed
    csv_text = await (await other.get("/staff/reports.csv")).text()
    assert len(csv_text.strip().splitlines()) == 1  # header only
    # the officer's agency/channel filters cannot widen the scope
    listed = await (await other.get("/staff/reports?agency=DPU-53.71")).text()
    assert tid not in listed


def test_each_role_maps_to_the_api_scope_or_none():
    from bot.backoffice.principal import StaffUser, api_principal

    admin = api_principal(StaffUser("1", "a@x", "admin"))
    officer = api_principal(StaffUser("2", "o@x", "officer", agency="PLN"))
    assert admin.is_admin and admin.actor == "staff:1"
    assert not officer.is_admin and officer.agency == "PLN" and officer.actor == "staff:2"
    assert api_principal(StaffUser("3", "c@x", "campaign")) is None
    assert api_principal(StaffUser("4", "k@x", "coordinator")) is None
    assert api_principal(StaffUser("5", "x@x", "officer", agency=None)) is None  # never "agency None" scope


def test_officers_may_only_answer_admins_every_legal_step():
    from bot.backoffice.reports import moves
    from bot.staff.auth import Principal

    admin, agency = Principal("admin"), Principal("agency", agency="PLN")
    assert moves({"status": "diterima"}, admin) == ["terverifikasi", "diarsipkan"]
    assert moves({"status": "terverifikasi"}, admin) == ["diteruskan", "diarsipkan"]
    assert moves({"status": "diteruskan"}, agency) == ["ditanggapi"]
    for status in ("diterima", "terverifikasi", "ditanggapi", "selesai", "diarsipkan"):
        assert moves({"status": status}, agency) == []
