"""Accounts, setup links, login, sessions, CSRF, throttling, TOTP and personal API tokens (HTTP level)."""
import asyncio
from datetime import timedelta

import aiohttp
from yarl import URL

from bot.backoffice import totp
from bot.backoffice.accounts import add_user
from bot.messages import utcnow
from tests.backoffice.conftest import PASSWORD, csrf_of, sign_up
from tests.staff.conftest import advance, make_report


async def _login(session, email, password, code=None):
    page = await session.get("/staff/login")
    return await session.post("/staff/login", allow_redirects=False, data={
        "csrf_token": csrf_of(await page.text()), "email": email, "password": password, "code": code or ""})


async def test_setup_link_sets_password_once_then_login_works(rt, anon):
    doc = await sign_up(anon, rt, "Petugas@Lapor.test", "officer", "dpu-53.71")
    assert doc["email"] == "petugas@lapor.test" and doc["agency"] == "DPU-53.71"
    stored = await rt.stores.db.staff_users.find_one({"_id": doc["_id"]})
    assert stored["password_hash"].startswith("$argon2id$") and PASSWORD not in str(stored)
    assert "setup_hash" not in stored
    r = await anon.get("/staff/reports")
    assert r.status == 200 and "DPU-53.71" in await r.text()


async def test_replayed_and_expired_setup_links_are_refused(rt, anon, base_url):
    _, token = await add_user(rt.stores.db, "a@lapor.test", "admin")
    page = await anon.get(f"/staff/setup/{token}")
    csrf = csrf_of(await page.text())
    r = await anon.post(f"/staff/setup/{token}", allow_redirects=False,
                        data={"csrf_token": csrf, "password": PASSWORD, "password_confirm": PASSWORD})
    assert r.status == 303
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as other:
        assert (await other.get(f"/staff/setup/{token}")).status == 410
        page = await other.get("/staff/login")
        r = await other.post(f"/staff/setup/{token}", allow_redirects=False, data={
            "csrf_token": csrf_of(await page.text()), "password": "x" * 12, "password_confirm": "x" * 12})
        assert r.status == 410
    _, token2 = await add_user(rt.stores.db, "b@lapor.test", "campaign")
    await rt.stores.db.staff_users.update_one({"email": "b@lapor.test"},
                                              {"$set": {"setup_expires_at": utcnow() - timedelta(minutes=1)}})
    assert (await anon.get(f"/staff/setup/{token2}")).status == 410
    assert (await anon.get("/staff/setup/not-a-token")).status == 410


async def test_setup_rejects_short_or_mismatched_password(rt, anon):
    _, token = await add_user(rt.stores.db, "c@lapor.test", "admin")
    csrf = csrf_of(await (await anon.get(f"/staff/setup/{token}")).text())
    for pw, again in (("short", "short"), ("long-enough-1", "long-enough-2")):
        r = await anon.post(f"/staff/setup/{token}", allow_redirects=False,
                            data={"csrf_token": csrf, "password": pw, "password_confirm": again})
        assert r.status == 400
    assert (await anon.get(f"/staff/setup/{token}")).status == 200  # still usable


async def test_wrong_password_and_unknown_email_get_the_same_answer(rt, anon, base_url):
    await add_user(rt.stores.db, "known@lapor.test", "admin")
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        await sign_up(s, rt, "real@lapor.test", "admin")
    wrong = await _login(anon, "real@lapor.test", "wrong-password")
    unknown = await _login(anon, "nobody@lapor.test", "wrong-password")
    pending = await _login(anon, "known@lapor.test", "anything-at-all")  # no password set yet
    texts = [await r.text() for r in (wrong, unknown, pending)]
    assert wrong.status == unknown.status == pending.status == 401
    assert len({t.replace("real@lapor.test", "X").replace("nobody@lapor.test", "X").replace(
        "known@lapor.test", "X") for t in texts}) == 1
    assert "Email, kata sandi atau kode salah" in texts[0]
    assert (await _login(anon, "real@lapor.test", PASSWORD)).status == 303


async def test_login_throttled_per_email_even_with_the_right_password(rt, anon):
    await sign_up(anon, rt, "t@lapor.test", "admin")
    await anon.post("/staff/logout", data={"csrf_token": csrf_of(await (await anon.get("/staff/account")).text())})
    for _ in range(5):
        assert (await _login(anon, "t@lapor.test", "nope-nope-nope")).status == 401
    r = await _login(anon, "t@lapor.test", PASSWORD)
    assert r.status == 429 and "Terlalu banyak" in await r.text()
    assert await rt.stores.db.staff_login_attempts.count_documents({}) >= 5


async def test_login_throttled_per_source_address(rt, anon):
    for i in range(20):
        await _login(anon, f"x{i}@lapor.test", "nope-nope-nope")
    await sign_up(anon, rt, "fresh@lapor.test", "admin")
    await anon.post("/staff/logout", data={"csrf_token": csrf_of(await (await anon.get("/staff/account")).text())})
    assert (await _login(anon, "fresh@lapor.test", PASSWORD)).status == 429


async def test_forged_expired_and_logged_out_sessions_are_signed_out(rt, signed_in, base_url):
    admin = await signed_in("admin")
    cookie = admin.cookie_jar.filter_cookies(URL(f"{base_url}/staff/"))["lapor_staff"].value
    sid, _, mac = cookie.rpartition(".")
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        for forged in (sid + ".0" * 20, "x" * 43 + "." + mac, "garbage"):
            r = await s.get("/staff/reports", allow_redirects=False, cookies={"lapor_staff": forged})
            assert r.status == 302 and r.headers["Location"].startswith("/staff/login")
        assert (await s.get("/staff/reports", allow_redirects=False, cookies={"lapor_staff": cookie})).status == 200
        await rt.stores.db.staff_sessions.update_many({}, {"$set": {"expires_at": utcnow() - timedelta(seconds=1)}})
        assert (await s.get("/staff/reports", allow_redirects=False, cookies={"lapor_staff": cookie})).status == 302
    admin2 = await signed_in("admin")
    cookie2 = admin2.cookie_jar.filter_cookies(URL(f"{base_url}/staff/"))["lapor_staff"].value
    assert (await admin2.form("/staff/logout")).status == 303
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        assert (await s.get("/staff/reports", allow_redirects=False, cookies={"lapor_staff": cookie2})).status == 302


async def test_session_cookie_is_httponly_samesite_and_scoped(rt, anon):
    _, token = await add_user(rt.stores.db, "ck@lapor.test", "admin")
    csrf = csrf_of(await (await anon.get(f"/staff/setup/{token}")).text())
    r = await anon.post(f"/staff/setup/{token}", allow_redirects=False,
                        data={"csrf_token": csrf, "password": PASSWORD, "password_confirm": PASSWORD})
    raw = [v for v in r.headers.getall("Set-Cookie") if v.startswith("lapor_staff=")][0].lower()
    assert "httponly" in raw and "samesite=lax" in raw and "path=/staff" in raw


async def test_missing_or_wrong_csrf_token_is_refused(rt, signed_in):
    admin = await signed_in("admin")
    report = await make_report(rt)
    tid = report["tracking_id"]
    for data in ({"to": "terverifikasi"}, {"to": "terverifikasi", "csrf_token": "forged"}):
        r = await admin.post(f"/staff/reports/{tid}/transition", data=data, allow_redirects=False)
        assert r.status == 403 and "Formulir kedaluwarsa" in await r.text()
    assert (await rt.stores.reports.get(tid))["status"] == "diterima"
    other = await signed_in("admin")  # another person's token is not mine
    r = await admin.post(f"/staff/reports/{tid}/transition", data={"to": "terverifikasi", "csrf_token": other.csrf})
    assert r.status == 403
    r = await admin.form(f"/staff/reports/{tid}/transition", to="terverifikasi")
    assert r.status == 303 and (await rt.stores.reports.get(tid))["status"] == "terverifikasi"


async def test_login_without_csrf_is_refused(rt, anon):
    await sign_up(anon, rt, "n@lapor.test", "admin")
    async with aiohttp.ClientSession(base_url=str(anon._base_url), cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        r = await s.post("/staff/login", data={"email": "n@lapor.test", "password": PASSWORD}, allow_redirects=False)
        assert r.status == 403


async def test_anonymous_pages_redirect_to_login_and_posts_are_refused(anon):
    r = await anon.get("/staff/reports?status=diterima", allow_redirects=False)
    assert r.status == 302
    from urllib.parse import parse_qs, urlsplit

    loc = urlsplit(r.headers["Location"])
    assert loc.path == "/staff/login" and parse_qs(loc.query)["next"] == ["/staff/reports?status=diterima"]
    page = await anon.get("/staff/login")
    r = await anon.post("/staff/reports/LPR-XXXXXXX/notes", allow_redirects=False,
                        data={"csrf_token": csrf_of(await page.text()), "note": "x"})
    assert r.status == 401
    r = await anon.get("/staff", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/staff/"
    assert (await anon.get("/staff/static/backoffice.css")).status == 200  # public, no login needed
    r = await anon.get("/staff/login?next=https://evil.example/")
    assert 'value="/staff/"' in await r.text()


async def test_totp_second_factor(rt, signed_in, anon):
    admin = await signed_in("admin", email="otp@lapor.test")
    assert (await admin.form("/staff/account/totp")).status == 303
    secret = (await rt.stores.db.staff_users.find_one({"email": "otp@lapor.test"}))["totp_pending"]
    assert 'src="data:image/svg+xml;base64,' in await (await admin.get("/staff/account")).text()
    assert (await admin.form("/staff/account/totp/confirm", code="000000" if totp.code_at(
        secret, totp.now_step()) != "000000" else "111111")).status == 400
    r = await admin.form("/staff/account/totp/confirm", code=totp.code_at(secret, totp.now_step() + 1))
    assert r.status == 303
    assert (await _login(anon, "otp@lapor.test", PASSWORD)).status == 401  # no code
    assert (await _login(anon, "otp@lapor.test", PASSWORD, "123")).status == 401
    # a code already used (the confirm step) is not accepted again; the next step's code is
    code_next = totp.code_at(secret, totp.now_step() + 1)
    assert (await _login(anon, "otp@lapor.test", PASSWORD, code_next)).status == 401
    await rt.stores.db.staff_users.update_one({"email": "otp@lapor.test"}, {"$set": {"totp_last_step": 0}})
    assert (await _login(anon, "otp@lapor.test", PASSWORD, totp.code_at(secret, totp.now_step()))).status == 303


def test_totp_matches_rfc6238_vector():
    import base64

    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp.code_at(secret, 59 // 30) == "287082"          # RFC 6238 appendix B, SHA-1, 8 -> 6 digits
    assert totp.code_at(secret, 1111111109 // 30) == "081804"
    assert totp.matching_step(secret, "081804", at=1111111109) == 1111111109 // 30


async def test_personal_api_token_acts_with_the_persons_scope(rt, signed_in, client_api):
    officer = await signed_in("officer", agency="DPU-53.71")
    r = await officer.form("/staff/account/tokens", label="integrasi")
    import re

    token = re.search(r'id="new-token">(lapst_[^<]+)<', await r.text()).group(1)
    mine, theirs = await make_report(rt), await make_report(rt)
    await advance(rt, mine["tracking_id"], "terverifikasi", "diteruskan")
    await advance(rt, theirs["tracking_id"], "terverifikasi", "diteruskan", agency="PLN")
    h = {"Authorization": f"Bearer {token}"}
    listed = await (await client_api.get("/api/v1/reports", headers=h)).json()
    assert [x["tracking_id"] for x in listed["items"]] == [mine["tracking_id"]]
    assert (await client_api.get(f"/api/v1/reports/{theirs['tracking_id']}", headers=h)).status == 404
    r = await client_api.post(f"/api/v1/reports/{mine['tracking_id']}/transitions", headers=h,
                              json={"to": "ditanggapi", "note": "Sudah diperbaiki."})
    assert r.status == 200
    audit = await rt.stores.db.audit.find_one({"action": "transition", "target": mine["tracking_id"],
                                             "details.to": "ditanggapi"})
    assert audit["actor"] == f"staff:{officer.user['_id']}"
    tok = await rt.stores.db.staff_api_tokens.find_one({})
    assert token not in str(tok)
    assert (await officer.form(f"/staff/account/tokens/{tok['_id']}/revoke")).status == 303
    assert (await client_api.get("/api/v1/reports", headers=h)).status == 401
    campaign = await signed_in("campaign")
    assert (await campaign.form("/staff/account/tokens", label="x")).status == 403


async def test_disabled_account_is_signed_out(rt, signed_in):
    officer = await signed_in("officer", agency="DPU-53.71", email="off@lapor.test")
    from bot.storage.staff_users import StaffUserStore

    await StaffUserStore(rt.stores.db).set_active("off@lapor.test", False)
    assert (await officer.get("/staff/reports", allow_redirects=False)).status == 302


async def test_cli_user_add_prints_a_setup_link(rt, settings, monkeypatch, capsys, anon):
    from tests.staff.test_stats_cli import _run_cli

    rc, out = await asyncio.to_thread(_run_cli, ["staff", "user", "add", "Cli@Lapor.test", "--role", "officer",
                                                 "--agency", "pln"], settings, monkeypatch, capsys)
    assert rc == 0 and "PLN" in out.err
    link = out.out.strip()
    assert "/staff/setup/" in link
    token = link.rsplit("/", 1)[1]
    assert token not in str(await rt.stores.db.staff_users.find_one({"email": "cli@lapor.test"}))
    assert (await anon.get(f"/staff/setup/{token}")).status == 200
    rc, out = await asyncio.to_thread(_run_cli, ["staff", "user", "add", "bad", "--role", "officer"], settings,
                                      monkeypatch, capsys)
    assert rc == 2
    rc, out = await asyncio.to_thread(_run_cli, ["staff", "user", "list"], settings, monkeypatch, capsys)
    assert "cli@lapor.test\tofficer\tPLN\tactive, setup pending" in out.out
    audit = await rt.stores.db.audit.find_one({"action": "staff_user_add"})
    assert audit["details"]["agency"] == "PLN"


async def test_admin_manages_accounts_in_the_console(rt, signed_in, anon):
    import re

    admin = await signed_in("admin")
    r = await admin.form("/staff/users", email="baru@lapor.test", role="officer", agency="")
    assert r.status == 400 and "Akun tidak dibuat" in await r.text()
    r = await admin.form("/staff/users", email="baru@lapor.test", role="officer", agency="pln")
    link = re.search(r'id="setup-link">([^<]+)<', await r.text()).group(1)
    assert link.startswith(f"http://127.0.0.1:{rt.http_port}/staff/setup/")
    path = "/staff/setup/" + link.rsplit("/", 1)[1]
    assert (await anon.get(path)).status == 200
    doc = await rt.stores.db.staff_users.find_one({"email": "baru@lapor.test"})
    assert doc["agency"] == "PLN" and doc["created_by"] == f"staff:{admin.user['_id']}"
    assert (await admin.form(f"/staff/users/{doc['_id']}/disable")).status == 303
    assert (await anon.get(path)).status == 410  # a disabled account's link stops working
    assert (await admin.form(f"/staff/users/{admin.user['_id']}/disable")).status == 400
    officer = await signed_in("officer", agency="PLN")
    assert (await officer.get("/staff/users")).status == 403
    assert (await officer.form("/staff/users", email="x@lapor.test", role="admin")).status == 403
    actions = [a["action"] for a in await rt.stores.db.audit.find({}).to_list(100)]
    assert "staff_user_add" in actions and "staff_user_disable" in actions
