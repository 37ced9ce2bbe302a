"""SMS through a Twilio-style gateway (e.g. the 1708 short code).

Inbound ``POST /webhooks/sms`` (form: MessageSid, From, To, Body, NumMedia…): a body that is not a UTF-8
urlencoded form gets 400; ``X-Twilio-Signature`` must be
base64(HMAC-SHA1(SMS_AUTH_TOKEN, SMS_PUBLIC_URL + sorted name+value pairs)) or the request gets 403. The
number is normalized to E.164; the turn runs inline and the replies come back at once as TwiML. Choices are a
numbered menu; the menu last shown to a number is kept in MongoDB so a typed ``2`` maps back to its payload in
whichever process receives it. Texts are made GSM-7 friendly and split by segments (160/70 single,
153/67 concatenated).

Later notifications go through the REST API (``POST {SMS_API_BASE_URL}/Accounts/{SID}/Messages.json``,
basic auth). Delivery callbacks at ``POST /webhooks/sms/status`` update the stored message.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

import aiohttp
from aiohttp import web

from bot.engine import TurnFailed
from bot.messages import Identity, InboundMessage, Media, OutboundMessage
from bot.outbox import SendResult
from bot.phones import normalize_phone
from bot.untrusted import BadInput, parse_form
from channels.base import Channel
from channels.formatting import (constant_time_equal, doc_choices, ensure_menu_index, gsm_friendly, last_menu,
                                 numbered_menu, pick_numbered, remember_menu, sms_split)

log = logging.getLogger(__name__)

SEGMENTS_PER_MESSAGE = 4  # one <Message> / REST body costs at most this many segments
MAX_MESSAGES = 4  # per reply
BLOCKED_CODES = {21610}  # recipient replied STOP to the gateway
STATUS_MAP = {"queued": "sent", "sending": "sent", "sent": "sent", "delivered": "delivered",
              "undelivered": "failed", "failed": "failed", "read": "read"}


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def render_sms(text: str, choices: list[dict], footer: str | None = None) -> list[str]:
    """One outbound message as SMS bodies: numbered menu, GSM-7 friendly, split by segments."""
    body = gsm_friendly(numbered_menu(text, choices, footer if choices else None))
    return sms_split(body, SEGMENTS_PER_MESSAGE, MAX_MESSAGES)


def twiml(bodies: list[str]) -> str:
    inner = "".join(f"<Message>{escape(b)}</Message>" for b in bodies)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


class SmsSender:
    channel = "sms"
    per_chat_gap_s = 0.0

    def __init__(self, chan: "SmsChannel"):
        self.chan = chan
        self.rate_per_s = chan.runtime.settings.sms_rate_per_s

    async def send(self, doc: dict) -> SendResult:
        s = self.chan.settings
        choices = doc_choices(doc)
        if choices:
            await remember_menu(self.chan.db, "sms", doc["user_id"], choices)
        lang = "id"
        if choices and doc.get("contact_id") is not None:
            lang = ((await self.chan.runtime.stores.contacts.get(doc["contact_id"])) or {}).get("language") or "id"
        footer = self.chan.runtime.engine.renderer.render("channels/reply_with_number", lang)
        bodies = render_sms(doc.get("text") or "", choices, footer)
        url = f"{s.sms_api_base_url.rstrip('/')}/Accounts/{s.sms_account_sid}/Messages.json"
        auth = aiohttp.BasicAuth(s.sms_account_sid or "", s.sms_auth_token or "")
        sid = None
        for body in bodies:
            form = {"To": doc["user_id"], "Body": body}
            if s.sms_from:
                form["From"] = s.sms_from
            if s.sms_public_url:
                form["StatusCallback"] = self.chan.public_url("/webhooks/sms/status")
            try:
                session = await self.chan.http()
                async with session.post(url, data=form, auth=auth) as resp:
                    data = await resp.json(content_type=None)
                    status = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                return SendResult("retry", error=f"network {type(exc).__name__}")
            if status in (200, 201) and data.get("sid"):
                sid = data["sid"]
                continue
            code = (data or {}).get("code")
            err = f"{status} {code} {(data or {}).get('message', '')}".strip()
            if status == 429 or status >= 500:
                return SendResult("retry", error=err, retry_after=2.0 if status == 429 else None)
            if code in BLOCKED_CODES:
                return SendResult("blocked", error=err)
            return SendResult("failed", error=err)
        return SendResult("sent", provider_id=sid)


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.settings = runtime.settings
        self.db = runtime.stores.db
        self._session: aiohttp.ClientSession | None = None

    def sender(self):
        return SmsSender(self) if self.settings.sms_account_sid else None

    async def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    async def start(self) -> None:
        await ensure_menu_index(self.db)

    async def stop(self) -> None:
        if self._session:
            await self._session.close()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/webhooks/sms", self.webhook)
        app.router.add_post("/webhooks/sms/status", self.status_callback)

    def public_url(self, path: str) -> str:
        """The URL the gateway calls (and signs). SMS_PUBLIC_URL may be the full webhook URL or just the origin."""
        base = (self.settings.sms_public_url or "").rstrip("/")
        if urlsplit(base).path in ("", "/"):
            return base + path
        if path == "/webhooks/sms/status":
            return base + "/status" if base.endswith("/webhooks/sms") else base
        return base

    def _verified(self, request: web.Request, form: dict, path: str) -> bool:
        token = self.settings.sms_auth_token or ""
        url = self.public_url(path) if self.settings.sms_public_url else str(request.url)
        given = request.headers.get("X-Twilio-Signature", "")
        return bool(token and given) and constant_time_equal(given, twilio_signature(token, url, form))

    async def _form(self, request: web.Request) -> dict[str, str]:
        """The urlencoded body (``bot.untrusted.parse_form``); BadInput (400) when it is not UTF-8."""
        return parse_form(await request.read())

    async def webhook(self, request: web.Request) -> web.Response:
        try:
            form = await self._form(request)
        except BadInput as exc:
            return web.json_response({"error": exc.message}, status=400)
        if not self._verified(request, form, "/webhooks/sms"):
            return web.json_response({"error": "invalid signature"}, status=403)
        sender = form.get("From", "").strip()
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sender or not sid or len(sender) > 40 or len(sid) > 64:
            return web.json_response({"error": "From and MessageSid (at most 40/64 characters) are required"},
                                     status=400)
        phone = normalize_phone(sender) or sender
        inbound = InboundMessage(Identity("sms", phone), sid, text=form.get("Body", ""))
        try:
            n_media = int(form.get("NumMedia") or 0)
        except ValueError:
            n_media = 0
        for i in range(min(n_media, 10)):
            url = form.get(f"MediaUrl{i}")
            if url:
                mime = form.get(f"MediaContentType{i}")
                inbound.media.append(Media("photo" if (mime or "").startswith("image/") else "document", url, mime))
        if inbound.media:
            inbound.kind = "media"
        choice = pick_numbered(inbound.text, await last_menu(self.db, "sms", phone)) if inbound.text else None
        if choice:
            inbound.payload, inbound.kind = choice["payload"], "choice"
        try:
            replies = await self.runtime.engine.handle(inbound, inline=True)
        except TurnFailed:
            return web.Response(text=twiml([gsm_friendly(self.runtime.engine.failure_text("id"))]),
                                content_type="application/xml")
        return web.Response(text=twiml(await self.render_replies(phone, replies)), content_type="application/xml")

    async def render_replies(self, phone: str, replies: list[OutboundMessage]) -> list[str]:
        bodies: list[str] = []
        menu = None
        lang = "id"
        if any(r.choices for r in replies):
            contact = await self.runtime.stores.contacts.find_by_identity("sms", phone)
            lang = (contact or {}).get("language") or "id"
        footer = self.runtime.engine.renderer.render("channels/reply_with_number", lang)
        for r in replies:
            choices = [{"payload": c.payload, "label": c.label} for c in r.choices]
            bodies += render_sms(r.text, choices, footer)
            if choices:
                menu = choices
        if menu is not None:
            await remember_menu(self.db, "sms", phone, menu)
        return bodies[:MAX_MESSAGES * 2]

    async def status_callback(self, request: web.Request) -> web.Response:
        try:
            form = await self._form(request)
        except BadInput as exc:
            return web.json_response({"error": exc.message}, status=400)
        if not self._verified(request, form, "/webhooks/sms/status"):
            return web.json_response({"error": "invalid signature"}, status=403)
        status = STATUS_MAP.get(form.get("MessageStatus", ""))
        sid = form.get("MessageSid")
        if status and sid:
            err = form.get("ErrorCode")
            await self.runtime.stores.messages.update_provider_status(sid, status, f"sms {err}" if err else None)
        return web.Response(status=204)
