"""Test glue until the console's real sign-in exists on this branch: ``signed_in(role, agency=None)``.

The ONE place that stands in for the auth middleware (it sets ``request["staff"]`` and
``request["csrf_token"]`` and refuses a POST without that token) and mounts the page modules under
``/staff`` next to the real ``/api/v1``. The integrator swaps this fixture for the real login fixture.
"""
from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.backoffice.principal import StaffUser

CSRF = "test-csrf-token"


@pytest.fixture
async def signed_in(rt):
    """``client = await signed_in("officer", agency="DPU-53.71")``: a client signed in with that role."""
    from bot.backoffice import campaigns, dashboard, volunteers
    from bot.http import build_app

    clients: list[TestClient] = []

    async def _make(role: str, agency: str | None = None) -> TestClient:
        user = StaffUser(id=f"u-{role}-{len(clients)}", email=f"{role}@lapor.test", role=role, agency=agency)

        @web.middleware
        async def stand_in_auth(request: web.Request, handler):
            request["staff"], request["csrf_token"] = user, CSRF
            if request.method == "POST" and (await request.post()).get("csrf_token") != CSRF:
                raise web.HTTPForbidden(reason="missing or wrong CSRF token")
            return await handler(request)

        app = build_app(rt)
        staff = web.Application(middlewares=[stand_in_auth])
        for mod in (dashboard, campaigns, volunteers):
            staff.add_routes(mod.routes())
        app.add_subapp("/staff", staff)
        client = TestClient(TestServer(app))
        await client.start_server()
        client.csrf = CSRF
        clients.append(client)
        return client

    yield _make
    for c in clients:
        await c.close()
