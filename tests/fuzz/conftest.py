"""Fuzzing every public endpoint of one running bot (all channels, staff API) from outside, over HTTP.

Hypothesis drives requests from a worker thread with its own event loop and HTTP client, while the bot keeps
running in the test's loop: an attacker's view. Budget: ``FUZZ_EXAMPLES`` examples per test (default 25,
derandomized, so CI is fast and repeatable); ``make fuzz`` raises it and lets Hypothesis pick new inputs.
"""
from __future__ import annotations

import asyncio
import logging
import os

import aiohttp
import pytest
from hypothesis import HealthCheck, settings

from tests.fixtures.fakes import WhatsAppDriver

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
REQUEST_TIMEOUT_S = 20.0  # an answer slower than this counts as a hang
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="FUZZ_EXAMPLES" not in os.environ,
                database=None, print_blob=True,
                suppress_health_check=list(HealthCheck))

WA_SECRET = "fuzz-wa-app-secret"
TG_SECRET = "fuzz-tg-secret_1"
SMS_PUBLIC = "https://lapor.example.id/webhooks/sms"


class Client:
    """Blocking HTTP from the fuzz thread (its own loop and session). Every call is bounded in time."""

    def __init__(self, base: str):
        self.base = base
        self.loop = asyncio.new_event_loop()
        self.session = self.run(self._session())
        self.statuses: list[tuple[str, int]] = []

    async def _session(self):
        return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, REQUEST_TIMEOUT_S))

    def request(self, method: str, path: str, **kw) -> int:
        async def go():
            async with self.session.request(method, self.base + path, **kw) as r:
                await r.read()
                return r.status
        status = self.run(go())
        self.statuses.append((f"{method} {path[:60]}", status))
        assert status < 500, (method, path[:200], status)
        return status

    def close(self):
        self.run(self.session.close())
        self.loop.close()


class Bot:
    def __init__(self, rt, graph, telegram, sms):
        self.rt, self.graph, self.telegram, self.sms = rt, graph, telegram, sms
        self.base = f"http://127.0.0.1:{rt.http_port}"

    def channel(self, name):
        return next(c for c in self.rt.channels if c.name == name)

    async def fuzz(self, body) -> Client:
        """Run ``body(client)`` (the Hypothesis test, blocking) in a worker thread; returns the client."""
        client = await asyncio.to_thread(Client, self.base)
        try:
            await asyncio.to_thread(body, client)
        finally:
            await asyncio.to_thread(client.close)
        if os.environ.get("FUZZ_VERBOSE"):
            from collections import Counter

            print(Counter((k.split(" ")[0] + " " + k.split(" ")[1].split("?")[0][:30], s) for k, s in client.statuses))
        return client

    async def settle(self):
        for name in ("whatsapp", "telegram"):
            await self.channel(name).idle()
        await self.rt.outbox.drain()


@pytest.fixture
async def bot(make_runtime, fake_graph, fake_telegram, fake_sms, caplog):
    caplog.set_level(logging.WARNING)
    rt = await make_runtime(
        http=True, whatsapp_access_token=fake_graph.token, whatsapp_app_secret=WA_SECRET,
        whatsapp_verify_token="verify-me", whatsapp_phone_number_id=fake_graph.phone_number_id,
        whatsapp_api_base_url=fake_graph.base_url,
        telegram_bot_token=fake_telegram.token, telegram_api_base_url=fake_telegram.base_url,
        telegram_mode="webhook", telegram_webhook_secret=TG_SECRET,
        sms_account_sid=fake_sms.sid, sms_auth_token=fake_sms.token, sms_from="1708",
        sms_api_base_url=fake_sms.base_url, sms_public_url=SMS_PUBLIC)
    fake_telegram.chat_gap_s = 0
    b = Bot(rt, fake_graph, fake_telegram, fake_sms)
    async with WhatsAppDriver(fake_graph, b.base, WA_SECRET) as drv:
        b.wa = drv
        yield b
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors  # no traceback per request in the log
