"""Fixtures for the live-conversation tests (imported by them): a staff client signed in to a given runtime
(the real login), and a runtime with the WhatsApp fake."""
from __future__ import annotations

import aiohttp
import pytest
from tests.backoffice.conftest import StaffClient, csrf_of, sign_up
from tests.backoffice.handoff_helpers import SECRET
from tests.fixtures.fakes import whatsapp_bot


# ------------------------------------------------------------------------------------ sign-in
@pytest.fixture
async def signed_in():
    """``await signed_in(rt, role, agency=None, user_id=None)`` -> a StaffClient signed in to ``rt``'s console
    through the real account store and setup link (``user_id`` only names the account's e-mail)."""
    sessions: list[aiohttp.ClientSession] = []

    async def _make(rt, role: str, agency: str | None = None, user_id: str | None = None) -> StaffClient:
        session = aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}",
                                        cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        email = f"{user_id or role}-{len(sessions)}@lapor.test"
        doc = await sign_up(session, rt, email, role, agency)
        home = await session.get("/staff/account")
        assert home.status == 200
        return StaffClient(session, doc, csrf_of(await home.text()))

    yield _make
    for s in sessions:
        await s.close()


# ------------------------------------------------------------------------------------ runtime + WhatsApp
@pytest.fixture
async def wa(fake_graph, make_runtime):
    async with whatsapp_bot(make_runtime, fake_graph, SECRET) as (rt, drv):
        yield rt, fake_graph, drv


