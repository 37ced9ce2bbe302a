"""SMS through a Twilio-style gateway (e.g. the 1708 short code).

Inbound ``POST /webhooks/sms`` (form: MessageSid, From, To, Body, NumMedia…): a body that is not a UTF-8
urlencoded form gets 400; ``X-Twilio-Signature`` must be
base64(HMAC-SHA1(SMS_AUTH_TOKEN, SMS_PUBLIC_URL + sorted name+value pairs)) or the request gets 403. The
number is normalized to E.164; the turn runs inline and the replies come back at once as TwiML. Choices are a
numbered menu; the menu last shown to a number is kept in MongoDB so a typed ``2`` maps back to its payload in
whichever process receives it. Texts are made GSM-7 friendly and split by segments (160/70 single,
153/67 concatenated); a long text is sent whole in numbered parts (``channels/sms_parts.py``).

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
from bot.phones import normalize_phone
from bot.sending import Outcome, SendResult
from channels import sms_parts
from bot.untrusted import BadInput, parse_form
from channels.base import Channel
from channels.formatting import constant_time_equal, doc_choices, gsm_friendly, numbered_menu, sms_split

log = logging.getLogger(__name__)

SEGMENTS_PER_MESSAGE = 4  # one <Message> / REST body costs at most this many segments
BLOCKED_CODES = {21610}  # recipient replied STOP to the gateway
STATUS_MAP = {"queued": "sent", "sending": "sent", "sent": "sent", "delivered": "delivered",
              "undelivered": "failed", "failed": "failed", "read": "read"}


def twilio_signature(auth_token: str, url: str, params: dict) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def render_sms(text: str, choices: list[dict], footer: str | None = None) -> list[str]:
    """One outbound message as SMS bodies: numbered menu, GSM-7 friendly, split by segments."""
    body = gsm_friendly(numbered_menu(text, choices, footer if choices else None))
    return sms_parts.split_whole(body, SEGMENTS_PER_MESSAGE)  # whole, in numbered parts (issue 12)


def twiml(bodies: list[str]) -> str:
    inner = "".join(f"<Message>{escape(b)}</Message>" for b in bodies)
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'


def sms_error(status: int, data: dict | None) -> SendResult:
    """A refused send as a typed outcome: 429 throttled, 5xx retry, STOP (21610) stopped, anything else failed."""
    code = (data or {}).get("code")
    err = f"{status} {code} {(data or {}).get('message', '')}".strip()
    num = code if isinstance(code, int) else None
    if status == 429:
        return SendResult(Outcome.THROTTLED, error=err, retry_after=2.0, code=num or 429)
    if status >= 500:
        return SendResult(Outcome.RETRY, error=err, code=num or status)
    if code in BLOCKED_CODES:
        return SendResult(Outcome.STOPPED, error=err, code=num)
    return SendResult(Outcome.FAILED, error=err, code=num or status)


class SmsSender:
    channel = "sms"
    per_chat_gap_s = 0.0

    def __init__(self, chan: "SmsChannel"):
        self.chan = chan
        self.rate_per_s = chan.runtime.settings.sms_rate_per_s

    async def send(self, doc: dict) -> SendResult:
        s = self.chan.settings
        choices = doc_choices(doc)
        if choices and doc.get("contact_id") is not None:  # a typed number answers them (engine: last_choices)
            await self.chan.runtime.stores.conversations.remember_choices(doc["contact_id"],
                                                                          [c["payload"] for c in choices])
        lang = "id"
        if choices and doc.get("contact_id") is not None:
            lang = ((await self.chan.runtime.stores.contacts.get(doc["contact_id"])) or {}).get("language") or "id"
        footer = self.chan.runtime.engine.renderer.render("channels/reply_with_number", lang)
        bodies = render_sms(doc.get("text") or "", choices, footer)
        url = f"{s.sms_api_base_url.rstrip('/')}/Accounts/{s.sms_account_sid}/Messages.json"
        auth = aiohttp.BasicAuth(s.sms_account_sid or "", s.sms_auth_token or "")
        sid, done = None, doc.get("parts_sent") or 0
        for body in bodies[done:]:  # parts a failed attempt already delivered are not sent again
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
                await self._parts_sent(doc, done)
                return SendResult(Outcome.RETRY, error=f"network {type(exc).__name__}")
            if status in (200, 201) and data.get("sid"):
                sid, done = data["sid"], done + 1
                continue
            await self._parts_sent(doc, done)
            return sms_error(status, data)
        return SendResult(Outcome.SENT, provider_id=sid)

    async def _parts_sent(self, doc: dict, done: int) -> None:
        """A send stopped after some parts: the next attempt sends only the rest (``channels/sms_parts.py``)."""
        if done > (doc.get("parts_sent") or 0):
            await self.chan.runtime.stores.messages.set_parts_sent(doc["_id"], done)


class SmsChannel(Channel):
    name = "sms"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.settings = runtime.settings
        self._session: aiohttp.ClientSession | None = None

    def sender(self):
        return SmsSender(self) if self.settings.sms_account_sid else None

    async def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

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
        try:
            replies = await self.runtime.engine.handle(inbound, inline=True)
        except TurnFailed:
            return web.Response(text=twiml([gsm_friendly(self.runtime.engine.failure_text("id"))]),
                                content_type="application/xml")
        return web.Response(text=twiml(await self.render_replies(phone, replies)), content_type="application/xml")

    async def render_replies(self, phone: str, replies: list[OutboundMessage]) -> list[str]:
        bodies: list[str] = []
        lang = "id"
        if any(r.choices for r in replies):
            contact = await self.runtime.stores.contacts.find_by_identity("sms", phone)
            lang = (contact or {}).get("language") or "id"
        footer = self.runtime.engine.renderer.render("channels/reply_with_number", lang)
        for r in replies:
            choices = [{"payload": c.payload, "label": c.label} for c in r.choices]
            bodies += render_sms(r.text, choices, footer)
        return bodies[:sms_parts.MAX_PARTS]

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
            if err or status == "failed":
                await self.runtime.stores.messages.update_provider_status(sid, status, f"sms {err}" if err else None)
            else:  # sent/delivered: group-committed with the other receipts
                await self.runtime.stores.messages.mark_provider_status(sid, status)
        return web.Response(status=204)
