"""WhatsApp Cloud API (Graph API) over aiohttp.

Inbound ``POST /webhooks/whatsapp``:
  1. ``X-Hub-Signature-256`` = HMAC-SHA256(app secret, raw body), compared in constant time BEFORE the body is
     parsed; a forged request gets 401 and nothing is stored;
  2. the verified payload is stored in ``whatsapp_inbox`` and the webhook answers 200 at once;
  3. a background task turns every message into an InboundMessage (media downloaded in two steps into GridFS)
     and hands it to ``engine.handle``; ``statuses[]`` update the stored outbound message. Redeliveries are
     harmless (the engine ignores a known ``wamid``); inbox entries left pending by a crash are picked up again.
``GET /webhooks/whatsapp`` answers the verification challenge.

Outbound: text; reply buttons for 1–3 choices; a list for 4–10; a numbered text beyond that (a typed number
then maps back to the payload). Outside the 24-hour window (last inbound of the contact, kept by the engine on
the conversation as ``last_inbound_at``) or on 131047, a message is held and the approved template
WHATSAPP_NOTIFY_TEMPLATE invites the person to reply with a quick-reply button (``bot/held.py``); campaign
messages use their own template instead. Errors are decided on ``error.code``: 130429/131056 back off and retry,
anything else fails (recorded on the message).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from datetime import datetime, timedelta, timezone

import aiohttp
from aiohttp import web
from bson import ObjectId

from bot import held
from bot.engine import TurnFailed
from bot.messages import (Identity, InboundMessage, Location, Media, OutboundMessage, SharedContact, utcnow)
from bot.outbox import SendResult, mask_user
from bot.phones import normalize_phone
from bot.tasks import stop_task
from channels.base import Channel
from channels.formatting import (constant_time_equal, doc_choices, ensure_menu_index, extension_for, last_menu,
                                 numbered_menu, pick_numbered, record_attribution, remember_menu, split_text,
                                 store_file, truncate)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive body
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=5)  # do not start a free-form send in the window's last minutes
MAX_MEDIA = 16 * 1024 * 1024
MEDIA_KINDS = {"image": "photo", "document": "document", "audio": "audio", "video": "video", "sticker": "sticker"}
RETRY_CODES = {130429: 2.0, 131056: 6.0}  # throughput, per-user pair rate
REENGAGE_CODE = 131047
TEMPLATE_FALLBACK = "template_fallback"
PROCESS_CONCURRENCY = 8
STATUS_RETRY_S = (0.5, 2.0, 5.0)
INBOX_TTL_S = 3 * 86400  # Meta stops retrying after a few days; bodies live on in ``messages``


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _aware(dt):
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def template_text(text: str, limit: int = 1000) -> str:
    """Template parameters may not contain newlines, tabs or more than 4 spaces in a row."""
    flat = re.sub(r"\s*\n+\s*", " · ", text or "").replace("\t", " ")
    return truncate(re.sub(r" {2,}", " ", flat), limit) or "-"


def unique_titles(labels: list[str], limit: int) -> list[str]:
    out: list[str] = []
    for lbl in labels:
        t = truncate(lbl, limit) or "-"
        n = 2
        while t in out:
            suffix = f" {n}"
            t = truncate(lbl, limit - len(suffix)) + suffix
            n += 1
        out.append(t)
    return out


class WhatsAppSender:
    channel = "whatsapp"
    per_chat_gap_s = 0.0  # the pair limit (131056) is bursty; it is honoured through retries

    def __init__(self, chan: "WhatsAppChannel"):
        self.chan = chan
        self.rate_per_s = chan.runtime.settings.whatsapp_rate_per_s

    # ---------------------------------------------------------------- building bodies
    def _lang(self, contact: dict | None) -> str:
        return (contact or {}).get("language") or "id"

    def template_body(self, doc: dict, contact: dict | None) -> dict:
        params = [template_text(p, 200) for p in (doc.get("template_params") or [])] or [
            template_text(doc.get("text") or "", 1000)]
        lang = self._lang(contact)
        name = self.chan.settings.whatsapp_notify_template
        wa = doc.get("wa_template") or {}
        if wa.get("name"):  # a campaign's own approved template (also after a 131047 on free text)
            name, lang = wa["name"], wa.get("language") or lang
            params = [template_text(p, 200) for p in (wa.get("params") or [])] or params
        components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
        if doc.get("kind") == held.INVITE_KIND:  # the template's quick-reply button brings back the held messages
            components.append({"type": "button", "sub_type": "quick_reply", "index": "0",
                               "parameters": [{"type": "payload", "payload": held.RELEASE_PAYLOAD}]})
        return {"type": "template", "template": {"name": name, "language": {"code": lang}, "components": components}}

    async def free_form_bodies(self, doc: dict, contact: dict | None) -> list[dict]:
        text = doc.get("text") or "…"
        choices = doc_choices(doc)
        lang = self._lang(contact)
        renderer = self.chan.runtime.engine.renderer
        if len(choices) > 10:
            await remember_menu(self.chan.db, "whatsapp", doc["user_id"], choices)
            text = numbered_menu(text, choices, renderer.render("channels/reply_with_number", lang))
            return [{"type": "text", "text": {"body": c, "preview_url": False}} for c in split_text(text, TEXT_LIMIT)]
        if not choices and not doc.get("request_location"):
            return [{"type": "text", "text": {"body": c, "preview_url": False}} for c in split_text(text, TEXT_LIMIT)]
        chunks = split_text(text, BODY_LIMIT)
        bodies = [{"type": "text", "text": {"body": c, "preview_url": False}} for c in chunks[:-1]]
        body_text = chunks[-1]
        if not choices:
            interactive = {"type": "location_request_message", "body": {"text": body_text},
                           "action": {"name": "send_location"}}
        elif len(choices) <= 3:
            titles = unique_titles([c["label"] for c in choices], 20)
            interactive = {"type": "button", "body": {"text": body_text}, "action": {"buttons": [
                {"type": "reply", "reply": {"id": c["payload"][:256], "title": t}} for c, t in zip(choices, titles)]}}
        else:
            titles = unique_titles([c["label"] for c in choices], 24)
            rows = []
            for c, t in zip(choices, titles):
                row = {"id": c["payload"][:200], "title": t}
                desc = c.get("description") or (c["label"] if len(c["label"]) > 24 else None)
                if desc:
                    row["description"] = truncate(desc, 72)
                rows.append(row)
            interactive = {"type": "list", "body": {"text": body_text}, "action": {
                "button": truncate(renderer.render("channels/list_button", lang), 20), "sections": [{"rows": rows}]}}
        bodies.append({"type": "interactive", "interactive": interactive})
        return bodies

    # ---------------------------------------------------------------- sending
    async def in_window(self, doc: dict, contact: dict | None) -> bool:
        # a reply answers a message that just arrived (which opened the window), even when the contact's
        # records are gone by now (the last reply after "delete my data")
        created = _aware(doc.get("created_at"))
        if doc.get("kind", "reply") == "reply" and created and utcnow() - created < WINDOW - WINDOW_MARGIN:
            return True
        if contact is None:
            return False
        conv = await self.chan.db["conversations"].find_one({"_id": contact["_id"]}, {"last_inbound_at": 1})
        last = _aware((conv or {}).get("last_inbound_at"))
        return last is not None and utcnow() - last < WINDOW - WINDOW_MARGIN

    async def send(self, doc: dict) -> SendResult:
        contact = None
        if doc.get("contact_id") is not None:
            contact = await self.chan.runtime.stores.contacts.get(doc["contact_id"])
        if contact is None:
            contact = await self.chan.runtime.stores.contacts.find_by_identity("whatsapp", doc["user_id"])
        if doc.get("kind") in (TEMPLATE_FALLBACK, held.INVITE_KIND):
            return await self._send_template(doc, contact)
        if not await self.in_window(doc, contact):
            if held.holdable(doc):  # kept whole until the person writes; they are invited by the template
                return await self._hold(doc, contact, "outside_window", doc.get("parts_sent") or 0, recheck=True)
            return await self._send_template(doc, contact)
        result, sent = None, doc.get("parts_sent") or 0
        for body in (await self.free_form_bodies(doc, contact))[sent:]:
            result = await self._post(doc["user_id"], body)
            if result.status != "sent":
                break
            sent += 1
        if result.status == "failed" and result.error and result.error.startswith(f"{REENGAGE_CODE} "):
            if held.holdable(doc):  # the window closed after all (the platform's view)
                return await self._hold(doc, contact, str(REENGAGE_CODE), sent, recheck=False)
            return await self._send_template(doc, contact)
        if result.status == "retry" and sent > (doc.get("parts_sent") or 0):  # the retry sends only the rest
            await self.chan.runtime.stores.messages.col.update_one({"_id": doc["_id"]}, {"$set": {"parts_sent": sent}})
        return result

    async def _hold(self, doc: dict, contact: dict | None, reason: str, parts_sent: int, recheck: bool):
        async def window_open() -> bool:
            return await self.in_window(doc, contact)
        return await held.HeldMessages.of(self.chan.runtime.engine).hold(
            doc, contact, reason, parts_sent=parts_sent, window_open=window_open if recheck else None)

    async def _send_template(self, doc: dict, contact: dict | None) -> SendResult:
        res = await self._post(doc["user_id"], self.template_body(doc, contact))
        if res.status == "sent":
            res.provider_id = res.provider_id
        return res

    async def _post(self, to: str, body: dict) -> SendResult:
        s = self.chan.settings
        url = f"{s.whatsapp_api_base_url.rstrip('/')}/{s.whatsapp_phone_number_id}/messages"
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        try:
            session = await self.chan.http()
            async with session.post(url, json=payload, headers=self.chan.auth_headers()) as resp:
                try:
                    data = await resp.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    data = {}
                status = resp.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return SendResult("retry", error=f"network {type(exc).__name__}")
        if status < 300 and (data.get("messages") or []):
            return SendResult("sent", provider_id=data["messages"][0].get("id"))
        err = (data or {}).get("error") or {}
        code = err.get("code")
        message = f"{code} {err.get('message') or status}"
        if code in RETRY_CODES:
            return SendResult("retry", error=message, retry_after=RETRY_CODES[code])
        if code is None and (status >= 500 or status == 429):
            return SendResult("retry", error=f"http {status}")
        return SendResult("failed", error=message)


class WhatsAppChannel(Channel):
    name = "whatsapp"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.settings = runtime.settings
        self.db = runtime.stores.db
        self.inbox = self.db["whatsapp_inbox"]
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._recover_task: asyncio.Task | None = None
        self.metrics = {"webhooks": 0, "forged": 0, "messages": 0, "statuses": 0}
        # turns running at once: beyond this, webhooks are still acknowledged (stored) and wait their turn,
        # so a burst cannot starve the acknowledgements of database time
        self._turns = asyncio.Semaphore(PROCESS_CONCURRENCY)

    def sender(self):
        return WhatsAppSender(self)

    def auth_headers(self) -> dict:
        return {"Authorization": f"Bearer {self.settings.whatsapp_access_token}"}

    async def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30),
                                                  connector=aiohttp.TCPConnector(limit=100))
        return self._session

    async def start(self) -> None:
        await self.inbox.create_index([("status", 1), ("received_at", 1)])
        await self.inbox.create_index("received_at", expireAfterSeconds=INBOX_TTL_S, name="inbox_ttl")
        await ensure_menu_index(self.db)
        await self.http()
        self._recover_task = asyncio.create_task(self._recover_forever())

    async def stop(self) -> None:
        await stop_task(self._recover_task, timeout_s=5, name="WhatsApp inbox recovery")
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._session:
            await self._session.close()

    async def idle(self, timeout: float = 10) -> None:
        """Wait until every webhook received so far is processed (tests, benchmarks)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    # ---------------------------------------------------------------- routes
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/webhooks/whatsapp", self.verify)
        app.router.add_post("/webhooks/whatsapp", self.webhook)

    async def verify(self, request: web.Request) -> web.Response:
        q = request.query
        token = self.settings.whatsapp_verify_token or ""
        if q.get("hub.mode") == "subscribe" and token and constant_time_equal(q.get("hub.verify_token", ""), token):
            return web.Response(text=q.get("hub.challenge", ""))
        return web.json_response({"error": "verification failed"}, status=403)

    async def webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()  # over 10 MB: 413 from the server's body limit
        given = request.headers.get("X-Hub-Signature-256", "")
        if not constant_time_equal(given, sign(self.settings.whatsapp_app_secret, raw)):
            self.metrics["forged"] += 1
            log.warning("whatsapp webhook with a bad signature refused")
            return web.json_response({"error": "invalid signature"}, status=401)
        try:
            payload = json.loads(raw)
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            return web.json_response({"error": "invalid JSON"}, status=400)
        self.metrics["webhooks"] += 1
        doc = {"_id": ObjectId(), "payload": payload, "status": "pending", "received_at": utcnow()}
        await self.inbox.insert_one(doc)  # stored before we say 200; a database outage gives 5xx, Meta retries
        self._spawn(self._process(doc))
        return web.json_response({"ok": True})

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- processing
    async def _process(self, doc: dict) -> None:
        try:
            values = [ch.get("value") or {} for e in (doc["payload"].get("entry") or [])
                      for ch in (e.get("changes") or []) if isinstance(ch, dict)]
            jobs = []
            for value in values:
                for st in value.get("statuses") or []:
                    await self._status(st)
                names = {c.get("wa_id"): (c.get("profile") or {}).get("name") for c in value.get("contacts") or []}
                msgs = sorted(value.get("messages") or [], key=lambda m: int(m.get("timestamp") or 0))
                for m in msgs:
                    jobs.append(self._message(m, names.get(m.get("from"))))
            if jobs:
                await asyncio.gather(*jobs)
            await self.inbox.update_one({"_id": doc["_id"]}, {"$set": {"status": "done", "done_at": utcnow()},
                                                               "$unset": {"payload": ""}})
        except Exception:
            log.exception("whatsapp webhook processing failed; kept in the inbox for another try")
            try:
                await self.inbox.update_one({"_id": doc["_id"]}, {"$set": {"status": "pending"},
                                                                   "$inc": {"attempts": 1}})
            except Exception:
                pass

    async def _recover_forever(self, every_s: float = 30.0) -> None:
        while True:
            await asyncio.sleep(every_s)
            try:
                await self.recover_once()
            except Exception as exc:
                log.warning("whatsapp inbox recovery failed: %s", type(exc).__name__)

    async def recover_once(self, older_than_s: float = 60.0) -> int:
        """Process inbox entries a crashed or overloaded process left pending (the engine dedupes)."""
        n = 0
        cutoff = utcnow() - timedelta(seconds=older_than_s)
        while True:
            doc = await self.inbox.find_one_and_update(
                {"status": "pending", "received_at": {"$lt": cutoff}, "attempts": {"$not": {"$gte": 5}}},
                {"$set": {"status": "processing", "received_at": utcnow()}})
            if doc is None:
                return n
            n += 1
            await self._process(doc)

    async def _status(self, st: dict) -> None:
        self.metrics["statuses"] += 1
        status, wamid = st.get("status"), st.get("id")
        if not wamid or status not in ("sent", "delivered", "read", "failed"):
            return
        errors = st.get("errors") or []
        error = f"{errors[0].get('code')} {errors[0].get('title') or errors[0].get('message') or ''}".strip() \
            if errors else None
        messages = self.runtime.stores.messages
        updated = await messages.update_provider_status(wamid, status, error)
        for delay in STATUS_RETRY_S:
            # a receipt can beat our own bookkeeping (the send's id is stored after Graph answered): wait for it,
            # unless the message is known and simply already further along (read before delivered)
            if updated is not None or await messages.col.find_one({"provider_id": wamid}, {"_id": 1}):
                break
            await asyncio.sleep(delay)
            updated = await messages.update_provider_status(wamid, status, error)
        if updated and status == "failed" and errors and errors[0].get("code") == REENGAGE_CODE \
                and held.holdable(updated):  # refused after all: kept for when the person writes (bot/held.py)
            contact = await self.runtime.stores.contacts.get(updated["contact_id"]) \
                if updated.get("contact_id") is not None else None
            await held.HeldMessages.of(self.runtime.engine).hold_copy(updated, contact, str(REENGAGE_CODE))
        elif updated and status == "failed" and errors and errors[0].get("code") == REENGAGE_CODE \
                and updated.get("kind") != TEMPLATE_FALLBACK:
            # the free-form message was refused later: the window had closed; send the template instead
            msg = OutboundMessage(Identity("whatsapp", updated["user_id"]), updated.get("text") or "",
                                  kind=TEMPLATE_FALLBACK, template=updated.get("template"),
                                  template_params=updated.get("template_params") or [],
                                  contact_id=updated.get("contact_id"), priority=updated.get("priority", 5))
            await self.runtime.outbox.enqueue([msg])

    async def _message(self, m: dict, name: str | None) -> None:
        wa_id = str(m.get("from") or "")
        if not wa_id or not m.get("id"):
            return
        lock = self._user_locks.setdefault(wa_id, asyncio.Lock())
        async with lock, self._turns:  # one turn at a time per person, in timestamp order
            try:
                inbound = await self.to_inbound(m, name)
                if inbound is None:
                    return
                self.metrics["messages"] += 1
                try:
                    await self.runtime.engine.handle(inbound)
                    referral = (inbound.raw or {}).get("referral")
                    if referral:
                        await record_attribution(self.runtime.stores, "whatsapp", wa_id, {
                            "referral": {k: str(referral.get(k))[:200] for k in ("source_type", "source_id",
                                                                                   "source_url", "headline")
                                         if referral.get(k)}})
                except TurnFailed:
                    await self._send_failure(wa_id)
            finally:
                if not lock._waiters:  # noqa: SLF001
                    self._user_locks.pop(wa_id, None)

    async def _send_failure(self, wa_id: str) -> None:
        """The database is down: answer directly (no outbox), inside the window the user just opened."""
        sender = WhatsAppSender(self)
        await sender._post(wa_id, {"type": "text", "text": {"body": self.runtime.engine.failure_text("id")}})

    async def to_inbound(self, m: dict, name: str | None) -> InboundMessage | None:
        wa_id = str(m["from"])
        mtype = m.get("type") or "unsupported"
        ident = Identity("whatsapp", wa_id, name)
        try:
            when = datetime.fromtimestamp(int(m.get("timestamp")), timezone.utc)
        except (TypeError, ValueError):
            when = utcnow()
        when = min(when, utcnow())
        msg = InboundMessage(ident, str(m["id"]), received_at=when)
        if mtype == "system":  # number changed etc.: not something the person wrote
            return None
        body = m.get(mtype) if isinstance(m.get(mtype), dict) else {}
        if mtype == "text":
            msg.text = str(body.get("body") or "")
            if m.get("referral"):  # a click-to-WhatsApp ad: keep where the person came from
                msg.raw = {"referral": m["referral"]}
            await self._numbered(msg)
        elif mtype == "interactive":
            reply = body.get("button_reply") or body.get("list_reply")
            if reply:
                msg.payload, msg.text, msg.kind = str(reply.get("id") or ""), str(reply.get("title") or ""), "choice"
            else:  # flows (nfm_reply) and other interactive answers we never send
                msg.kind = "unsupported"
        elif mtype == "button":  # quick reply of a template
            payload = str(body.get("payload") or "")
            msg.text = str(body.get("text") or "")
            if ":" in payload:
                msg.payload, msg.kind = payload, "choice"
        elif mtype in MEDIA_KINDS:
            msg.kind = "sticker" if mtype == "sticker" else "media"
            msg.text = str(body.get("caption") or "")
            media = Media(MEDIA_KINDS[mtype], str(body.get("id") or ""), body.get("mime_type"), body.get("filename"))
            if mtype != "sticker" and media.ref:
                await self._download(media, wa_id)
            msg.media = [media] if mtype != "sticker" else []
        elif mtype == "location":
            try:
                msg.location = Location(float(body["latitude"]), float(body["longitude"]), body.get("name"),
                                        body.get("address"))
                msg.kind = "location"
            except (KeyError, TypeError, ValueError):
                msg.kind = "unsupported"
        elif mtype == "contacts":
            cards = m.get("contacts") if isinstance(m.get("contacts"), list) else []
            card = cards[0] if cards else {}
            phones = card.get("phones") or []
            raw_phone = (phones[0].get("wa_id") or phones[0].get("phone")) if phones else None
            if raw_phone:
                phone = normalize_phone(raw_phone if raw_phone.startswith("+") or raw_phone.startswith("0")
                                        else "+" + raw_phone) or raw_phone
                msg.contact = SharedContact(phone, (card.get("name") or {}).get("formatted_name"))
                msg.kind = "contact"
            else:
                msg.kind = "unsupported"
        elif mtype == "reaction":
            msg.kind = "reaction"
        elif mtype == "request_welcome":
            msg.text = "halo"
        else:  # unsupported, order, unknown future types
            msg.kind = "unsupported"
            if mtype == "order":
                msg.text = str(body.get("text") or "")
        return msg

    async def _numbered(self, msg: InboundMessage) -> None:
        """A number typed after a long numbered menu means that menu's choice."""
        t = msg.text.strip().rstrip(".)")
        if not t.isdigit():
            return
        choice = pick_numbered(t, await last_menu(self.db, "whatsapp", msg.identity.user_id))
        if choice:
            msg.payload, msg.kind = choice["payload"], "choice"

    async def _download(self, media: Media, wa_id: str) -> None:
        base = self.settings.whatsapp_api_base_url.rstrip("/")
        try:
            session = await self.http()

            async def lookup():  # a Graph API call: inside the account's rate budget (channels/budget.py)
                async with session.get(f"{base}/{media.ref}", headers=self.auth_headers()) as r:
                    if r.status != 200:
                        raise RuntimeError(f"media lookup {r.status}")
                    return await r.json(content_type=None)
            from channels.budget import within_budget

            meta = await within_budget(self.runtime, "whatsapp", lookup)
            size = int(meta.get("file_size") or 0)
            if size > MAX_MEDIA:
                media.size = size
                return
            async with session.get(meta["url"], headers=self.auth_headers()) as r:
                if r.status != 200:
                    raise RuntimeError(f"media download {r.status}")
                data = await r.content.read(MAX_MEDIA + 1)
            if len(data) > MAX_MEDIA:
                return
            media.mime_type = media.mime_type or meta.get("mime_type")
            media.size = len(data)
            media.filename = media.filename or f"{media.ref}{extension_for(media.mime_type)}"
            media.gridfs_id = await store_file(self.db, data, filename=media.filename, mime_type=media.mime_type,
                                               channel="whatsapp", ref=media.ref, user_id=wa_id)
        except Exception as exc:  # still processed; the attachment keeps its media id
            log.warning("whatsapp media download failed for %s: %s", mask_user(wa_id), exc)
