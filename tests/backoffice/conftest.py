"""Back-office fixtures: a runtime serving HTTP and ``signed_in(role, agency=None)``, a logged-in client made
through the real account store and the one-time setup link (the same path a new officer takes)."""
from __future__ import annotations

import re
from html import unescape

import aiohttp
import pytest

from bot.backoffice.accounts import add_user

PASSWORD = "kata-sandi-uji-123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = CSRF.search(html)
    assert m, "no csrf_token in the page"
    return unescape(m.group(1))


class StaffClient:
    """An aiohttp ClientSession (every attribute passes through) that knows its account and CSRF token.

    ``await client.form(path, **fields)`` posts a form with the CSRF token added (no redirects followed).
    """

    def __init__(self, session: aiohttp.ClientSession, user: dict, csrf: str):
        self.session, self.user, self.csrf = session, user, csrf

    def __getattr__(self, name):
        return getattr(self.session, name)

    async def form(self, path: str, *, allow_redirects: bool = False, **fields) -> aiohttp.ClientResponse:
        data = {"csrf_token": self.csrf, **{k: v for k, v in fields.items() if v is not None}}
        return await self.session.post(path, data=data, allow_redirects=allow_redirects)


def browser_cookies(client: "StaffClient", base_url: str) -> list[dict]:
    """The signed-in client's cookies, for a Playwright context (``await context.add_cookies(...)``)."""
    return [{"name": c.key, "value": c.value, "url": base_url.rstrip("/") + (c["path"] or "/")}
            for c in client.session.cookie_jar]


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


@pytest.fixture
def base_url(rt) -> str:
    return f"http://127.0.0.1:{rt.http_port}"


@pytest.fixture
async def anon(base_url):
    """A browser without an account."""
    async with aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
        yield s


async def sign_up(session: aiohttp.ClientSession, rt, email: str, role: str, agency: str | None = None,
                  password: str = PASSWORD) -> dict:
    """Create the account (store + setup link) and set its password through the setup page."""
    doc, token = await add_user(rt.stores.db, email, role, agency, created_by="test")
    page = await session.get(f"/staff/setup/{token}")
    assert page.status == 200, page.status
    r = await session.post(f"/staff/setup/{token}", allow_redirects=False, data={
        "csrf_token": csrf_of(await page.text()), "password": password, "password_confirm": password})
    assert r.status == 303, (r.status, await r.text())
    return doc


@pytest.fixture
async def signed_in(rt, base_url):
    """Factory: ``client = await signed_in("officer", agency="DPU-53.71")`` -> StaffClient, logged in."""
    sessions: list[aiohttp.ClientSession] = []
    n = 0

    async def _make(role: str, agency: str | None = None, *, email: str | None = None) -> StaffClient:
        nonlocal n
        n += 1
        session = aiohttp.ClientSession(base_url=base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        doc = await sign_up(session, rt, email or f"{role}{n}@lapor.test", role, agency)
        home = await session.get("/staff/account")
        assert home.status == 200
        return StaffClient(session, doc, csrf_of(await home.text()))

    yield _make
    for s in sessions:
        await s.close()


@pytest.fixture
async def client_api(base_url):
    """A plain HTTP client for /api/v1."""
    async with aiohttp.ClientSession(base_url=base_url) as s:
        yield s
