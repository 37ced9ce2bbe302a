"""Fixtures for the live-conversation tests (imported by them): a signed-in staff client, stand-in for the real
login, and a runtime with the WhatsApp fake. Not a conftest, so the real login fixture can replace it."""
from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web

from bot.backoffice import handoffs as pages
from bot.backoffice.principal import StaffUser
from bot.http import RUNTIME_KEY
from tests.backoffice.handoff_helpers import CSRF, SECRET
from tests.fixtures.fakes import WhatsAppDriver


# ------------------------------------------------------------------------------------ sign-in glue
@pytest.fixture
async def signed_in():
    """``await signed_in(rt, role, agency=None, user_id=None)`` -> a client signed in as that person.

    Stand-in for the real login until the auth middleware is merged: ALL test-only glue is here (a small app
    with the page routes under /staff and a middleware that sets ``request["staff"]`` and
    ``request["csrf_token"]`` and refuses a POST without the token)."""
    runners, sessions = [], []

    async def _make(rt, role: str, agency: str | None = None, user_id: str | None = None):
        user = StaffUser(id=user_id or f"{role}-{agency or 'all'}", email=f"{role}@example.go.id", role=role,
                         agency=agency)

        @web.middleware
        async def fake_auth(request, handler):
            request["staff"], request["csrf_token"] = user, CSRF
            if request.method == "POST" and (await request.post()).get("csrf_token") != CSRF:
                raise web.HTTPForbidden()
            return await handler(request)

        app = web.Application()
        app[RUNTIME_KEY] = rt
        staff = web.Application(middlewares=[fake_auth])
        staff.add_routes(pages.routes())
        app.add_subapp("/staff", staff)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]
        session = aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}")
        sessions.append(session)
        return session

    yield _make
    for s in sessions:
        await s.close()
    for r in runners:
        await r.cleanup()


# ------------------------------------------------------------------------------------ runtime + WhatsApp
@pytest.fixture
async def wa(fake_graph, make_runtime):
    g = fake_graph
    rt = await make_runtime(http=True, whatsapp_access_token=g.token, whatsapp_app_secret=SECRET,
                            whatsapp_verify_token="verify-me", whatsapp_phone_number_id=g.phone_number_id,
                            whatsapp_api_base_url=g.base_url)
    async with WhatsAppDriver(g, f"http://127.0.0.1:{rt.http_port}", SECRET) as drv:
        yield rt, g, drv


