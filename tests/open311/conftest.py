"""Open311 fixtures: a runtime serving HTTP, a client, an issued api_key, and the staff helpers."""
from __future__ import annotations

import aiohttp
import pytest

from tests.staff.conftest import advance, citizen, make_report  # noqa: F401  (helpers for the tests)

PREFIX = "/open311/v2"


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


@pytest.fixture
async def client(rt):
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        yield s


@pytest.fixture
async def api_key(rt):
    from bot.open311.keys import ApiKeyStore

    keys = ApiKeyStore(rt.stores.db)
    await keys.ensure_indexes()
    key, _ = await keys.issue("Aplikasi Uji")
    return key


def form(api_key: str | None, **fields) -> dict:
    base = {"service_code": "infrastruktur", "lat": "-10.1632", "long": "123.6014",
            "address_string": "Jl. Frans Seda, Kota Kupang",
            "description": "Lampu jalan mati sepanjang 200 meter, gelap dan rawan kecelakaan"}
    if api_key is not None:
        base["api_key"] = api_key
    base.update({k: v for k, v in fields.items() if v is not None})
    return {k: v for k, v in base.items() if v != ""}
