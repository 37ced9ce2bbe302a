"""What bench/fuzz_outside.py found, each through HTTP: a 4xx or the normal page, never a 500 (``'²'.isdigit()``
is True but ``int('²')`` fails; a static file name longer than the file system allows)."""
import logging

import aiohttp
import pytest


@pytest.fixture
async def site(make_runtime, caplog):
    caplog.set_level(logging.WARNING)
    rt = await make_runtime(http=True)
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        yield s
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_superscript_digits_are_not_numbers(site):
    for method in ("GET", "HEAD"):
        async with site.request(method, "/publik/?page=%C2%B2") as r:
            assert r.status == 200
    async with site.get("/publik/laporan/LPR-XXXX/foto/%C2%B2") as r:
        assert r.status == 404
    async with site.get("/open311/v2/requests.json?page_size=%C2%B2") as r:
        assert r.status in (400, 200) and r.status < 500


async def test_a_very_long_static_name_is_404_and_the_stylesheet_still_served(site):
    async with site.get("/staff/static/" + "x" * 300) as r:
        assert r.status == 404
    async with site.get("/staff/static/backoffice.css") as r:
        assert r.status == 200 and "css" in r.headers["Content-Type"]
