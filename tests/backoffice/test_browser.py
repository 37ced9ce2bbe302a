"""The back office in Debian's Chromium (never a downloaded browser), as a new person would use it: each role
signs in from the one-time setup link, an admin verifies and forwards, the officer finds the overdue report of
their agency and answers it, and the citizen on the WhatsApp fake receives the full answer.
Screenshots of every page go to ``var/screenshots/backoffice-*.png``."""
import os
from datetime import timedelta

import pytest

from bot.backoffice.accounts import add_user
from bot.messages import Identity, utcnow
from tests.backoffice.conftest import PASSWORD
from tests.channels.test_webchat_browser import ARGS, CHROMIUM, SHOTS
from tests.fixtures.fakes import WhatsAppDriver
from tests.staff.conftest import make_report

SECRET = "wa-app-secret-bo"
WA = "6281234567002"
ANSWER = ("Lubang di Jl. Frans Seda sudah ditambal tim Dinas PU pada 20 November. "
          "Jika masih ada kerusakan, balas pesan ini. <b>Terima kasih</b>.")

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")]


@pytest.fixture
async def rt(fake_graph, make_runtime):
    g = fake_graph
    return await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                              whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                              whatsapp_api_base_url=g.base_url)


async def test_roles_sign_in_admin_forwards_officer_answers_citizen_on_whatsapp_receives(rt, fake_graph, base_url):
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=30_000)
    g = fake_graph
    SHOTS.mkdir(parents=True, exist_ok=True)

    # the citizen wrote to the bot on WhatsApp (open 24-hour window), and has a report waiting
    async with WhatsAppDriver(g, base_url, SECRET) as drv:
        n = len(g.to(WA))
        await drv.text(WA, "halo")
        await g.wait_sent(WA, n + 1)
    contact = await rt.stores.contacts.get_or_create(Identity("whatsapp", WA, "Warga Oebobo"))
    report = await make_report(rt, contact, privacy="rahasia",
                               description="Jalan depan SDN 3 Oebobo berlubang <script>alert(1)</script>")
    other = await make_report(rt, contact, category="kesehatan")
    tid = report["tracking_id"]

    links = {}
    for role, agency in (("admin", None), ("officer", "DPU-53.71"), ("campaign", None), ("coordinator", None)):
        _, token = await add_user(rt.stores.db, f"{role}@lapor.test", role, agency, created_by="test")
        links[role] = f"{base_url}/staff/setup/{token}"

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            async def person(role):
                ctx = await browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
                page = await ctx.new_page()
                await page.goto(links[role])
                await expect(page.locator("h1")).to_have_text("Buat kata sandi")
                if role == "officer":
                    await page.screenshot(path=str(SHOTS / "backoffice-setup.png"), full_page=True)
                await page.fill("input[name=password]", PASSWORD)
                await page.fill("input[name=password_confirm]", PASSWORD)
                await page.click("button[type=submit]")
                await expect(page.locator(".who")).to_contain_text(f"{role}@lapor.test")
                # log out and in again with the login form, as on any later day
                await page.click("header form button")
                await expect(page.locator("h1")).to_have_text("Masuk")
                await page.fill("input[name=email]", f"{role}@lapor.test")
                await page.fill("input[name=password]", "salah-salah-salah")
                await page.click("main button[type=submit]")
                await expect(page.locator(".alert")).to_contain_text("salah")
                if role == "admin":
                    await page.screenshot(path=str(SHOTS / "backoffice-login.png"), full_page=True)
                await page.fill("input[name=password]", PASSWORD)
                await page.click("main button[type=submit]")
                await expect(page.locator(".who")).to_contain_text(f"{role}@lapor.test")
                return ctx, page

            # campaign staff and coordinators: their start page, and no reports
            for role in ("campaign", "coordinator"):
                ctx, page = await person(role)
                await expect(page.locator("h1")).to_have_text("Selamat datang")
                assert await page.locator("nav a[href='/staff/reports']").count() == 0
                await page.screenshot(path=str(SHOTS / f"backoffice-home-{role}.png"), full_page=True)
                resp = await page.goto(f"{base_url}/staff/reports/{tid}")
                assert resp.status == 403
                await expect(page.locator("main")).not_to_contain_text("SDN 3")
                if role == "campaign":
                    await page.screenshot(path=str(SHOTS / "backoffice-error-403.png"), full_page=True)
                await ctx.close()

            # the admin verifies and forwards (desktop width)
            ctx, admin = await person("admin")
            await admin.set_viewport_size({"width": 1280, "height": 900})
            await expect(admin.locator("h1")).to_contain_text("Laporan")
            await expect(admin.locator("table.inbox")).to_contain_text(tid)
            await expect(admin.locator("table.inbox")).to_contain_text("<script>alert(1)</script>")  # shown as text
            await admin.screenshot(path=str(SHOTS / "backoffice-inbox-admin.png"), full_page=True)
            await admin.click(f"a[href='/staff/reports/{tid}']")
            await admin.check("input[name=to][value=terverifikasi]")
            await admin.click("#transition button[type=submit]")
            await expect(admin.locator(".notice")).to_have_text("Laporan terverifikasi.")
            await admin.check("input[name=to][value=diteruskan]")
            await expect(admin.locator("input[name=agency]").first).to_have_value("DPU-53.71")
            await admin.click("#transition button[type=submit]")
            await expect(admin.locator(".notice")).to_contain_text("Laporan diteruskan")
            await admin.screenshot(path=str(SHOTS / "backoffice-report-admin.png"), full_page=True)
            await admin.goto(f"{base_url}/staff/canned")
            await admin.fill("#title", "Sudah diperbaiki")
            await admin.fill("#agency", "DPU-53.71")
            await admin.fill("#text", "Terima kasih, kerusakan sudah kami perbaiki.")
            await admin.click("main form.stack button[type=submit]")
            await expect(admin.locator(".canned-list")).to_contain_text("Sudah diperbaiki")
            await admin.screenshot(path=str(SHOTS / "backoffice-canned.png"), full_page=True)
            await admin.goto(f"{base_url}/staff/account")
            await admin.screenshot(path=str(SHOTS / "backoffice-account.png"), full_page=True)
            await admin.goto(f"{base_url}/staff/users")
            await expect(admin.locator("table")).to_contain_text("officer@lapor.test")
            await admin.screenshot(path=str(SHOTS / "backoffice-users.png"), full_page=True)
            await admin.goto(f"{base_url}/staff/reports?lang=en")
            await expect(admin.locator("header nav")).to_contain_text("Reports")
            await admin.screenshot(path=str(SHOTS / "backoffice-inbox-en.png"), full_page=True)
            await ctx.close()

            # the follow-up deadline has passed: the officer finds it among the overdue reports and answers
            await rt.stores.reports.col.update_one({"tracking_id": tid},
                                                   {"$set": {"followup_due_at": utcnow() - timedelta(days=1)}})
            ctx, officer = await person("officer")
            await officer.keyboard.press("Tab")  # the first stop is "skip to content"
            assert await officer.evaluate("document.activeElement.className") == "skip"
            await expect(officer.locator("table.inbox tr.overdue")).to_contain_text(tid)
            await expect(officer.locator("table.inbox")).not_to_contain_text(other["tracking_id"])
            await officer.click("details.filters summary")
            await officer.check("input[name=overdue]")
            await officer.click("form.grid button[type=submit]")
            await expect(officer.locator("table.inbox tbody tr")).to_have_count(1)
            await officer.screenshot(path=str(SHOTS / "backoffice-inbox-officer.png"), full_page=True)
            await officer.click(f"a[href='/staff/reports/{tid}']")
            await expect(officer.locator("main")).to_contain_text("Dirahasiakan")
            await expect(officer.locator("main")).not_to_contain_text("Warga Oebobo")
            await expect(officer.locator("main")).not_to_contain_text(WA)
            await officer.click("text=Sudah diperbaiki")
            await expect(officer.locator("#note")).to_have_value("Terima kasih, kerusakan sudah kami perbaiki.")
            await officer.fill("#note", ANSWER)
            n = len(g.to(WA))
            await officer.focus("#transition button[type=submit]")
            await officer.keyboard.press("Enter")  # keyboard only
            await expect(officer.locator(".notice")).to_have_text("Tanggapan terkirim ke pelapor.")
            await officer.screenshot(path=str(SHOTS / "backoffice-report-officer.png"), full_page=True)
            await ctx.close()
        finally:
            await browser.close()

    sent = await g.wait_sent(WA, n + 1)
    texts = [g.text_of(m) for m in sent[n:]]
    assert any(ANSWER in t and tid in t for t in texts), texts
    assert (await rt.stores.reports.get(tid))["status"] == "ditanggapi"
