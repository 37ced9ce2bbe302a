"""The web chat page in Debian's Chromium (never a downloaded browser): file a report by clicking and typing."""
import os
import shutil
from pathlib import Path

import pytest

from tests.channels.helpers import DESCRIPTION, JPEG

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SHOTS = Path(os.environ.get("LAPOR_SCREENSHOT_DIR", Path(__file__).resolve().parents[2] / "var" / "screenshots"))

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian chromium not installed")]


async def test_webchat_in_chromium_files_a_report(make_runtime, tmp_path):
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=30_000)  # generous under a loaded machine; fast when it is not

    rt = await make_runtime(http=True)
    url = f"http://127.0.0.1:{rt.http_port}/webchat"
    photo = tmp_path / "lubang.jpg"
    photo.write_bytes(JPEG)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 780}, locale="id-ID")
            await page.goto(url)
            await expect(page.locator("#status")).to_have_text("Terhubung")
            log = page.locator("#log li.bot")

            async def say(text):
                n = await log.count()
                await page.fill("#input", text)
                await page.keyboard.press("Enter")
                await expect(log).not_to_have_count(n, timeout=30000)

            async def click(name=None, index=0):
                n = await log.count()
                buttons = page.locator("#choices button")
                btn = buttons.filter(has_text=name).first if name else buttons.nth(index)
                await btn.click()
                await expect(log).not_to_have_count(n, timeout=30000)

            await say("halo")
            await click("Setuju")
            await say("lapor")
            await click("Pengaduan")
            await say(DESCRIPTION)
            await say("Jalan Sudirman depan pasar")
            await click(index=0)  # Kota Kupang
            await click(index=0)  # category
            await click(index=0)  # agency
            n = await log.count()
            await page.set_input_files("#file", str(photo))
            await expect(log).not_to_have_count(n, timeout=30000)
            for _ in range(3):
                if await page.locator("#choices button", has_text="Rahasia").count():
                    break
                await click(index=0)
            await click("Rahasia")
            await click(index=0)  # Kirim / confirm
            await expect(log.last).to_contain_text("LPR-")
            SHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SHOTS / "webchat-report.png"), full_page=False)
            # reload: the conversation is still there (signed cookie + history)
            await page.reload()
            await expect(page.locator("#log li.bot").last).to_contain_text("LPR-")
            # English chrome
            await page.click("button[data-lang=en]")
            await expect(page.locator("#send")).to_have_text("Send")
            assert await page.evaluate("document.documentElement.lang") == "en"
        finally:
            await browser.close()
    report = await rt.stores.db.reports.find_one({})
    assert report["channel"] == "webchat" and report["attachments"]
