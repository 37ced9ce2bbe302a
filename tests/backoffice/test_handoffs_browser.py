"""Live conversations in Debian's Chromium: the request appears without a reload, the officer takes it, the
citizen's messages appear live (script in them stays text), the reply reaches WhatsApp, hand-back."""
import os
import shutil
from pathlib import Path

import pytest

from tests.backoffice.handoff_fixtures import signed_in, wa  # noqa: F401  (fixtures)
from tests.backoffice.conftest import browser_cookies
from tests.backoffice.handoff_helpers import AGENCY, WA, ask_for_a_person

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SHOTS = Path(os.environ.get("LAPOR_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")]

XSS = '<img src=x onerror="window.pwned=1">jalannya masih rusak'


async def test_officer_holds_a_live_conversation_in_chromium(wa, signed_in):  # noqa: F811
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=30_000)
    rt, g, drv = wa
    officer = await signed_in(rt, "officer", AGENCY)
    base = str(officer._base_url).rstrip("/")
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 390, "height": 780}, locale="id-ID")
            await context.add_cookies(browser_cookies(officer, base))  # the officer's signed-in session
            page = await context.new_page()
            await page.goto(f"{base}/staff/handoffs")
            await expect(page.locator("#handoff-list tbody tr.empty")).to_have_count(1)

            h = await ask_for_a_person(rt, g, drv)  # no reload from here on: the row must appear by itself
            row = page.locator("#handoff-list tbody tr.handoff")
            await expect(row).to_have_count(1)
            await expect(row).to_contain_text("Menunggu petugas")
            await expect(page).to_have_title("(1) Percakapan langsung · LAPOR! Back Office")
            await page.screenshot(path=str(SHOTS / "handoffs-list.png"), full_page=True)

            await row.locator("a").click()
            await page.get_by_role("button", name="Ambil percakapan").click()
            await expect(page.locator("textarea[name=text]")).to_be_visible()
            n = len(g.to(WA))
            await g.wait_sent(WA, n)

            citizen = page.locator("#transcript li.from-citizen")
            before = await citizen.count()
            status, _ = await drv.text(WA, XSS)
            assert status == 200
            await expect(citizen).to_have_count(before + 1)
            await expect(citizen.last).to_contain_text(XSS)
            assert await page.evaluate("window.pwned === undefined")

            await page.fill("textarea[name=text]", "Baik, kami cek besok pagi.")
            await page.get_by_role("button", name="Kirim").click()
            sent = await g.wait_sent(WA, n + 1)
            assert "Baik, kami cek besok pagi." in g.text_of(sent[-1])
            await expect(page.locator("#transcript li.from-officer")).to_have_count(1)
            await page.screenshot(path=str(SHOTS / "handoffs-detail.png"), full_page=True)

            await page.get_by_role("button", name="Kembalikan ke bot").click()
            await expect(page.locator("main")).to_contain_text("Percakapan ini sudah selesai")
            sent = await g.wait_sent(WA, n + 2)
            assert "kembali dilayani bot" in g.text_of(sent[-1])
            assert (await rt.stores.handoffs.get(h["_id"]))["status"] == "closed"
        finally:
            await browser.close()
