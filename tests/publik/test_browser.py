"""The public page in Debian's Chromium with JavaScript switched off: a reader browses, filters, searches by
ID, opens a report and the statistics; no test citizen's name or number is on any page (text or HTML).
Screenshots go to ``var/screenshots/publik-*.png``."""
import os

import pytest

from tests.channels.test_webchat_browser import ARGS, CHROMIUM, SHOTS
from tests.publik.conftest import personal_bits

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")]


async def test_reader_browses_public_reports_without_javascript_and_sees_no_personal_data(rt, world):
    from playwright.async_api import async_playwright

    base = f"http://127.0.0.1:{rt.http_port}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    bits = [b.lower() for b in personal_bits()]
    seen: list[str] = []

    async def check(page, name: str) -> str:
        html = (await page.content()).lower()
        text = (await page.inner_text("body")).lower()
        for bit in bits:
            assert bit not in html and bit not in text, (name, bit)
        assert world["rahasia"]["tracking_id"].lower() not in html
        await page.screenshot(path=str(SHOTS / f"publik-{name}.png"), full_page=True)
        seen.append(name)
        return text

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            ctx = await browser.new_context(java_script_enabled=False)
            page = await ctx.new_page()
            await page.goto(f"{base}/publik")
            text = await check(page, "list")
            assert world["answered"]["tracking_id"].lower() in text
            await page.select_option("select[name=region]", "74")
            await page.click("form.grid button[type=submit]")
            await page.wait_for_url("**/publik?region=74*")
            text = await check(page, "filtered")
            assert world["settled"]["tracking_id"].lower() in text
            assert world["answered"]["tracking_id"].lower() not in text
            await page.fill("input[name=q]", world["answered"]["tracking_id"])
            await page.click("form[role=search] button")
            await page.wait_for_url(f"**/publik/laporan/{world['answered']['tracking_id']}")
            text = await check(page, "detail")
            assert "sudah kami perbaiki" in text
            assert await page.eval_on_selector("img.photo", "i => i.naturalWidth") > 0  # the cleaned photo
            await page.click("header nav a[href='/publik/statistik']")
            await page.wait_for_url("**/publik/statistik")
            await check(page, "stats")
            assert await page.locator("figure.plot svg").count() == 4
        finally:
            await browser.close()
    assert seen == ["list", "filtered", "detail", "stats"]
