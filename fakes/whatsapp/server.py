"""The WhatsApp Cloud API (Graph API) endpoints the WhatsApp channel uses, with the platform's limits:
buttons <= 3, titles <= 20, list <= 10 rows, the 24-hour window (131047), 80 msg/s (130429). Error bodies
are recorded in ``testdata/``. Listens on 127.0.0.1 only.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections import deque

from aiohttp import web

from fakes.base import Window, recorded, serve, wait_until


class GraphError(Exception):
    pass


class FakeGraph:
    """The Graph API endpoints the WhatsApp channel uses. ``base_url`` is WHATSAPP_API_BASE_URL."""

    def __init__(self, token: str = "wa-test-token", phone_number_id: str = "1098765", *, rate_per_s: float = 80,
                 templates: tuple = ("lapor_status_update",)):
        self.token, self.phone_number_id = token, phone_number_id
        self.sent: list[dict] = []
        self.rejected: list[dict] = []
        self.media: dict[str, tuple[str, bytes]] = {}  # media id -> (mime, bytes)
        self.templates = set(templates)
        self.last_inbound: dict[str, float] = {}  # wa_id -> epoch seconds (the 24-hour window)
        self.inject: deque = deque()  # (code, message) answered to the next send
        self.fail_at: dict[int, tuple[int, str]] = {}  # n-th send request (1-based) -> (code, message)
        self.requests = 0
        self.rate = Window(rate_per_s)
        self._ids = itertools.count(1)
        self.runner = None
        self.port = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v21.0"

    async def start(self) -> "FakeGraph":
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_post("/v21.0/{phone}/messages", self._messages)
        app.router.add_get("/v21.0/{media_id}", self._media_meta)
        app.router.add_get("/download/{media_id}", self._media_bytes)
        self.runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    def add_media(self, data: bytes, mime: str = "image/jpeg") -> str:
        mid = f"media{next(self._ids)}"
        self.media[mid] = (mime, data)
        return mid

    @staticmethod
    def options(msg: dict) -> list[tuple[str, str]]:
        """(id, title) of the buttons or list rows of a sent interactive message."""
        it = msg.get("interactive") or {}
        if it.get("type") == "button":
            return [(b["reply"]["id"], b["reply"]["title"]) for b in it["action"]["buttons"]]
        if it.get("type") == "list":
            return [(r["id"], r["title"]) for s in it["action"]["sections"] for r in s["rows"]]
        return []

    @staticmethod
    def text_of(msg: dict) -> str:
        if msg["type"] == "text":
            return msg["text"]["body"]
        if msg["type"] == "interactive":
            return msg["interactive"]["body"]["text"]
        if msg["type"] == "template":
            return " ".join(p["text"] for c in msg["template"]["components"] for p in c["parameters"]
                            if p.get("type") == "text")
        return ""

    def last_options(self, wa_id: str) -> list[tuple[str, str]]:
        for m in reversed(self.to(wa_id)):
            if self.options(m):
                return self.options(m)
        raise AssertionError("no buttons or list sent")

    def to(self, wa_id: str) -> list[dict]:
        return [m for m in self.sent if m["to"] == wa_id]

    async def wait_sent(self, wa_id: str, count: int, timeout: float = 30) -> list[dict]:
        await wait_until(lambda: len(self.to(wa_id)) >= count, timeout)
        return self.to(wa_id)

    @staticmethod
    def _err(code: int, message: str, status: int = 400) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "OAuthException", "code": code,
                                            "error_data": {"messaging_product": "whatsapp", "details": message},
                                            "fbtrace_id": "AbCdEf"}}, status=status)

    @staticmethod
    def _recorded(name: str, status: int = 400) -> web.Response:
        """An error answered with the body recorded in testdata/."""
        return web.json_response(recorded("whatsapp", name), status=status)

    def _auth(self, request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _validate(self, body: dict) -> str | None:
        t = body.get("type")
        if body.get("messaging_product") != "whatsapp" or not body.get("to"):
            return "(#100) Invalid parameter"
        if t == "text":
            txt = (body.get("text") or {}).get("body") or ""
            if not txt or len(txt) > 4096:
                return "(#100) Param text['body'] is invalid"
        elif t == "interactive":
            it = body["interactive"]
            if len((it.get("body") or {}).get("text") or "") > 1024 or not (it.get("body") or {}).get("text"):
                return "(#100) Param interactive['body']['text'] is invalid"
            if it["type"] == "button":
                buttons = it["action"]["buttons"]
                if not 1 <= len(buttons) <= 3:
                    return "(#131009) Parameter value is not valid: buttons count"
                ids = set()
                for b in buttons:
                    title, bid = b["reply"]["title"], b["reply"]["id"]
                    if not title or len(title) > 20:
                        return "(#131009) Parameter value is not valid: button title length invalid"
                    if len(bid) > 256 or bid in ids:
                        return "(#131009) Parameter value is not valid: button id"
                    ids.add(bid)
            elif it["type"] == "list":
                act = it["action"]
                if not act.get("button") or len(act["button"]) > 20:
                    return "(#131009) Parameter value is not valid: list button"
                rows = [r for s in act["sections"] for r in s["rows"]]
                if not 1 <= len(rows) <= 10:
                    return "(#131009) Parameter value is not valid: rows count"
                for r in rows:
                    if not r.get("title") or len(r["title"]) > 24 or len(r.get("description") or "") > 72:
                        return "(#131009) Parameter value is not valid: row title/description length"
                    if len(r["id"]) > 200:
                        return "(#131009) Parameter value is not valid: row id"
            elif it["type"] == "location_request_message":
                if (it.get("action") or {}).get("name") != "send_location":
                    return "(#100) Invalid parameter action"
            else:
                return "(#100) Invalid interactive type"
        elif t == "template":
            tpl = body["template"]
            if tpl.get("name") not in self.templates:
                return "(#132001) Template name does not exist in the translation"
            for comp in tpl.get("components") or []:  # a quick-reply button's payload comes back in the webhook
                if comp.get("type") == "button" and (
                        comp.get("sub_type") != "quick_reply" or not str(comp.get("index", "")).isdigit()
                        or not all(p.get("type") == "payload" and p.get("payload") for p in comp["parameters"])):
                    return "(#131008) Required parameter is missing: button"
        else:
            return f"(#100) Unsupported type {t}"
        return None

    async def _messages(self, request: web.Request) -> web.Response:
        if not self._auth(request):
            return self._recorded("error_190_invalid_token", status=401)
        if request.match_info["phone"] != self.phone_number_id:
            return self._err(100, "Unsupported post request. Object does not exist")
        body = await request.json()
        if not self.rate.hit():
            self.rejected.append({**body, "code": 130429})
            return self._recorded("error_130429_rate_limit")
        self.requests += 1
        if self.inject or self.requests in self.fail_at:
            code, message = self.inject.popleft() if self.inject else self.fail_at[self.requests]
            self.rejected.append({**body, "code": code})
            return self._err(code, message)
        problem = self._validate(body)
        if problem:
            code = int(re.search(r"#(\d+)", problem).group(1))
            self.rejected.append({**body, "code": code, "problem": problem})
            return self._err(code, problem)
        to = body["to"]
        if body["type"] != "template":
            last = self.last_inbound.get(to)
            if last is None or time.time() - last > 24 * 3600:
                self.rejected.append({**body, "code": 131047})
                return self._recorded("error_131047_reengagement")
        wamid = f"wamid.{next(self._ids):08d}"
        self.sent.append({**body, "id": wamid, "at": time.monotonic()})
        return web.json_response({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
                                  "messages": [{"id": wamid}]})

    async def _media_meta(self, request: web.Request) -> web.Response:
        if not self._auth(request):
            return self._recorded("error_190_invalid_token", status=401)
        mid = request.match_info["media_id"]
        if mid not in self.media:
            return self._err(100, "Unsupported get request. Object does not exist")
        mime, data = self.media[mid]
        return web.json_response({"messaging_product": "whatsapp", "id": mid, "mime_type": mime,
                                  "sha256": hashlib.sha256(data).hexdigest(), "file_size": len(data),
                                  "url": f"http://127.0.0.1:{self.port}/download/{mid}"})

    async def _media_bytes(self, request: web.Request) -> web.Response:
        if not self._auth(request):
            return web.Response(status=401)
        mid = request.match_info["media_id"]
        if mid not in self.media:
            return web.Response(status=404)
        mime, data = self.media[mid]
        return web.Response(body=data, content_type=mime)
