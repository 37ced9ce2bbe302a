"""Plays Meta's side of the WhatsApp webhook: posts payloads to the bot exactly as Meta does, signed with the
app secret (or forged), and opens the 24-hour window on the fake Graph API as the real platform does."""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time

import aiohttp

from fakes.whatsapp.server import FakeGraph


class WhatsAppDriver:
    """Posts webhook payloads to the bot exactly as Meta does, signed with the app secret."""

    def __init__(self, graph: FakeGraph, bot_url: str, app_secret: str, display_phone: str = "628111708"):
        self.graph, self.url, self.secret = graph, bot_url.rstrip("/") + "/webhooks/whatsapp", app_secret
        self.display_phone = display_phone
        self._ids = itertools.count(1)
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self):
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc):
        await self.session.close()

    def sign(self, raw: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), raw, hashlib.sha256).hexdigest()

    def envelope(self, value: dict) -> dict:
        return {"object": "whatsapp_business_account", "entry": [{"id": "WABA1", "changes": [{"field": "messages",
                "value": {"messaging_product": "whatsapp",
                          "metadata": {"display_phone_number": self.display_phone,
                                       "phone_number_id": self.graph.phone_number_id}, **value}}]}]}

    def message(self, wa_id: str, mtype: str, body: dict | None, *, name: str = "Budi", wamid: str | None = None,
                **extra) -> tuple[dict, str]:
        wamid = wamid or f"wamid.IN{next(self._ids):06d}{wa_id[-4:]}"
        msg = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), "type": mtype, **extra}
        if body is not None:
            msg[mtype] = body
        self.graph.last_inbound[wa_id] = time.time()  # the real platform opens the window on inbound
        return self.envelope({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [msg]}), wamid

    async def post(self, payload: dict, *, forge: bool = False, raw: bytes | None = None) -> aiohttp.ClientResponse:
        raw = raw if raw is not None else json.dumps(payload).encode()
        sig = self.sign(raw)
        if forge:
            sig = "sha256=" + hashlib.sha256(raw).hexdigest()
        async with self.session.post(self.url, data=raw, headers={"Content-Type": "application/json",
                                                                   "X-Hub-Signature-256": sig}) as resp:
            await resp.read()
            return resp

    async def send(self, wa_id: str, mtype: str, body: dict | None, **kw) -> tuple[int, str]:
        payload, wamid = self.message(wa_id, mtype, body, **kw)
        resp = await self.post(payload)
        return resp.status, wamid

    async def text(self, wa_id: str, text: str, **kw):
        return await self.send(wa_id, "text", {"body": text}, **kw)

    async def button(self, wa_id: str, reply_id: str, title: str = "x"):
        return await self.send(wa_id, "interactive", {"type": "button_reply",
                                                       "button_reply": {"id": reply_id, "title": title}})

    async def list_pick(self, wa_id: str, row_id: str, title: str = "x"):
        return await self.send(wa_id, "interactive", {"type": "list_reply",
                                                       "list_reply": {"id": row_id, "title": title}})

    async def template_button(self, wa_id: str, payload: str, text: str = "x"):
        """The person taps a quick-reply button of a template message."""
        return await self.send(wa_id, "button", {"payload": payload, "text": text})

    async def status(self, wamid: str, status: str, recipient: str, errors: list | None = None):
        st = {"id": wamid, "status": status, "timestamp": str(int(time.time())), "recipient_id": recipient}
        if errors:
            st["errors"] = errors
        return await self.post(self.envelope({"statuses": [st]}))


