"""Dashboard, campaign and volunteer pages in Debian's Chromium: a campaign created, previewed, started,
paused, resumed and finished by clicking, with the live progress updating without a reload. Screenshots go to
``var/screenshots/backoffice-*.png``."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.backoffice.conftest import browser_cookies

from tests.outreach.helpers import add_contacts, contact_doc
from tests.staff.conftest import advance, make_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SHOTS = Path(os.environ.get("LAPOR_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))
AUDIENCE = 40

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")]


@pytest.fixture
async def rt(fake_telegram, make_runtime):
    return await make_runtime(http=True, telegram_bot_token=fake_telegram.token,
                              telegram_api_base_url=fake_telegram.base_url)


async def test_pages_in_chromium(rt, fake_telegram, signed_in):
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=60_000)  # generous under a loaded machine; fast when it is not
    a = await make_report(rt)
    await advance(rt, a["tracking_id"], "terverifikasi", "diteruskan")
    await make_report(rt, category="kesehatan")
    await add_contacts(rt, [contact_doc("telegram", str(7000 + i)) for i in range(AUDIENCE)])
    admin = await signed_in("admin")
    root = f"http://127.0.0.1:{rt.http_port}"
    base = f"{root}/staff"
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID")
            await context.add_cookies(browser_cookies(admin, root))  # the admin's signed-in session
            page = await context.new_page()
            # dashboard: plots drawn inline, numbers in the table
            await page.goto(f"{base}/dashboard")
            await expect(page.locator("#plot-over_time svg")).to_be_visible()
            await expect(page.locator('#groups tr[data-key="TOTAL"] td[data-field="received"]')).to_have_text("2")
            await page.screenshot(path=str(SHOTS / "backoffice-dashboard.png"), full_page=True)

            # a new campaign, filled in and previewed in the page
            await page.goto(f"{base}/campaigns/_new")
            await page.fill("input[name=name]", "uji-browser")
            await page.fill("input[name=goal]", "Uji dari peramban")
            await page.check("input[name=segment][value=kampus]")
            await page.check("input[name=channel][value=telegram]")
            await page.fill("textarea[name=text_id_default]", "Halo {{ contact.name }}, ayo lapor!")
            await page.fill("input[name=cap_telegram]", "4")
            await page.click("button[value=preview]")
            await expect(page.locator("[data-audience-total]")).to_have_text(str(AUDIENCE))
            await expect(page.locator("#preview pre.message").first).to_contain_text("Halo Warga 70")
            await page.screenshot(path=str(SHOTS / "backoffice-campaign-form.png"), full_page=True)
            await page.click("button[value=save]")
            await expect(page.locator("#done")).to_contain_text("Kampanye disimpan")

            # start: the figures move without reloading the page
            await page.click("button.start")
            await expect(page.locator("#done")).to_contain_text("Pengiriman dimulai")
            sent = page.locator('#run [data-figure="sent"]')
            first = await sent.text_content()
            await expect(sent).not_to_have_text(first)
            await page.screenshot(path=str(SHOTS / "backoffice-campaign-running.png"), full_page=True)
            await page.click("button.pause")
            await expect(page.locator('#run [data-figure="status_label"]')).to_have_text("dijeda")
            await page.click("button.resume")
            await expect(page.locator('#run [data-figure="status_label"]')).to_have_text("selesai")
            await expect(sent).to_have_text(str(AUDIENCE))
            await expect(page.locator("button.pause")).to_have_count(0)  # the page reloaded when the run ended
            await expect(page.locator('#runs tr[data-key="uji-browser"]')).to_contain_text("selesai")
            await page.screenshot(path=str(SHOTS / "backoffice-campaign-done.png"), full_page=True)
            await page.goto(f"{base}/campaigns")
            await expect(page.locator('tr[data-key="uji-browser"] [data-figure="sent"]')).to_have_text(str(AUDIENCE))
            await page.screenshot(path=str(SHOTS / "backoffice-campaigns.png"), full_page=True)
            await page.goto(f"{base}/campaigns/uji-browser/results")
            await page.screenshot(path=str(SHOTS / "backoffice-campaign-results.png"), full_page=True)

            # volunteers: an invite code shown after one click
            await page.goto(f"{base}/volunteers")
            await page.fill("input[name=note]", "Pelatihan")
            await page.click("#invite-h ~ form button")
            await expect(page.locator("[data-code]")).to_have_text(re.compile(r"^[A-Z0-9]{8}$"))
            await page.screenshot(path=str(SHOTS / "backoffice-volunteers.png"), full_page=True)
        finally:
            await browser.close()
    chats = {str(s["chat_id"]) for s in fake_telegram.sent if s["text"].startswith("Halo Warga")}
    assert len(chats) == AUDIENCE
