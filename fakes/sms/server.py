"""A Twilio-style SMS gateway: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth for later
notifications, and the webhook signature (``X-Twilio-Signature``) the gateway puts on inbound posts.
Error bodies are recorded in ``testdata/``. Listens on 127.0.0.1 only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections import deque
from urllib.parse import urlencode

from aiohttp import web

from fakes.base import recorded, serve


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    data = url + "".join(k + str(params[k]) for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class FakeSmsApi:
    """``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth; records messages."""

    def __init__(self, sid: str = "AC0123456789", token: str = "sms-auth-token"):
        self.sid, self.token = sid, token
        self.sent: list[dict] = []
        self.inject: deque = deque()  # HTTP status codes answered to the next sends
        self.fail_at: dict[int, int] = {}  # n-th request (1-based) -> HTTP status answered instead
        self.requests = 0
        self._ids = itertools.count(1)
        self.runner = None
        self.port = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/2010-04-01"

    async def start(self) -> "FakeSmsApi":
        app = web.Application()
        app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", self._send)
        self.runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    async def _send(self, request: web.Request) -> web.Response:
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if request.headers.get("Authorization") != expected or request.match_info["sid"] != self.sid:
            return web.json_response(recorded("sms", "error_401_authenticate"), status=401)
        form = dict(await request.post())
        self.requests += 1
        if self.inject or self.requests in self.fail_at:
            status = self.inject.popleft() if self.inject else self.fail_at[self.requests]
            if status == 429:
                return web.json_response(recorded("sms", "error_429_too_many_requests"), status=429)
            return web.json_response({"code": 20500, "message": "error",
                                      "status": status}, status=status)
        if not form.get("To") or not form.get("Body") or len(form["Body"]) > 1600:
            return web.json_response(recorded("sms", "error_400_body_required"), status=400)
        sid = f"SM{next(self._ids):032d}"
        self.sent.append({**form, "sid": sid})
        return web.json_response({"sid": sid, "status": "queued", "to": form["To"], "from": form.get("From")},
                                 status=201)




def form_body(params: dict) -> bytes:
    return urlencode(params).encode()
