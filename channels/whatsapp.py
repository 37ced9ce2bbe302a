"""WhatsApp Cloud API (Graph API) over aiohttp.

Inbound ``POST /webhooks/whatsapp``:
  1. ``X-Hub-Signature-256`` = HMAC-SHA256(app secret, raw body), compared in constant time BEFORE the body is
     parsed; a forged request gets 401 and nothing is stored;
  2. the body is parsed by ``bot.untrusted`` (depth limit, storable values); one that cannot be parsed is
     recorded in the inbox as ``rejected`` and answered 200 (a resend would fail the same way);
  3. each message is parsed (``parse``, one small parser per kind) and stored as its inbound message
     (``Engine.accept``: the stored message is its inbox); plain receipts (sent/delivered/read) are applied to
     the outbound message; the rest (failed or early statuses, items that cannot be used or parsed) is stored
     in ``whatsapp_inbox`` (``channels.inbox``); only then the webhook answers 200 (503 while the database is
     away, so Meta retries);
  4. a background task per stored message fetches its media into GridFS and runs the turn
     (``Engine.handle(accepted=...)``); one per inbox entry handles its statuses and rejects (and records) its
     unusable items. Redeliveries are harmless (the engine ignores a known ``wamid``, and takes over one whose
     turn died unfinished); stored messages and inbox entries a crash or an outage left behind are run again
     by the recovery loops of any process (``recover_stored``, ``Inbox.recover_forever``).
``GET /webhooks/whatsapp`` answers the verification challenge.

Outbound: text; reply buttons for 1–3 choices; a list for 4–10; a numbered text beyond that (a typed number
then answers it through the engine's ``last_choices``, as on every channel). Whether a message goes as an
approved template is decided by its producer when it says so (``use_template`` True/False, with the template
in ``template``/``template_params``/``template_language``: campaigns); otherwise by the one window rule
``bot.sending.whatsapp_window_open`` on the conversation's ``last_inbound_at``: outside it the account's
template WHATSAPP_NOTIFY_TEMPLATE is sent. Errors are mapped on ``error.code`` (``whatsapp_error``):
130429/131056 throttled, network/5xx retry, anything else failed; a free-form send refused with 131047 (the
window closed on Meta's side) or outside the window is held whole and the account template invites the
person to reply with a quick-reply button (``bot/held.py``); campaign messages use their own template.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
from aiohttp import web
from pymongo.errors import PyMongoError

from bot import held
from bot.messages import (Identity, InboundMessage, Location, Media, OutboundMessage, SharedContact, utcnow)
from bot.outbox import mask_user
from bot.sending import Outcome, SendResult, whatsapp_window_open
from bot.phones import normalize_phone
from bot.storage.leases import PROCESS_ID
from bot.storage.rate_shares import dead_owners
from bot.tasks import run_every, stop_task
from bot.untrusted import BadInput, loads_object
from channels.base import Channel
from channels.formatting import (constant_time_equal, doc_choices, extension_for, numbered_menu,
                                 record_attribution, split_text, truncate)
from channels.inbox import DONE, ORPHAN_CHECK_S, REJECTED, RETRY, Inbox, finish_tasks, run_turn

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
BODY_LIMIT = 1024  # interactive body
MAX_MEDIA = 16 * 1024 * 1024
MEDIA_KINDS = {"image": "photo", "document": "document", "audio": "audio", "video": "video", "sticker": "sticker"}
RETRY_CODES = {130429: 2.0, 131056: 6.0}  # throughput, per-user pair rate
REENGAGE_CODE = 131047
PROCESS_CONCURRENCY = 8
STATUS_RETRY_S = (0.5, 2.0, 5.0)
STALE_BATCH = 200  # stored messages looked at per recovery query


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


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


def _obj(v) -> dict:
    return v if isinstance(v, dict) else {}


def _objs(v, keep_others: bool = False) -> list:
    """The dict items of a list field (anything else in the list too with ``keep_others``, to reject it)."""
    if not isinstance(v, list):
        return []
    return list(v) if keep_others else [x for x in v if isinstance(x, dict)]


def _values(payload: dict) -> list[dict]:
    return [_obj(ch.get("value")) for e in _objs(payload.get("entry")) for ch in _objs(e.get("changes"))]


def _text(v, limit: int = 20_000) -> str:
    return v[:limit] if isinstance(v, str) else "" if v is None or isinstance(v, (dict, list)) else str(v)[:limit]


def _name(v) -> str | None:
    return v[:100] if isinstance(v, str) and v.strip() else None


_WA_ID = re.compile(r"[0-9]{5,20}")


def _unusable(m) -> str | None:
    """Why a ``messages[]`` item cannot be processed at all (None when it can)."""
    if not isinstance(m, dict):
        return "not an object"
    if not _WA_ID.fullmatch(str(m.get("from") if isinstance(m.get("from"), (str, int)) else "")):
        return "no sender number"
    mid = m.get("id")
    if not isinstance(mid, str) or not 0 < len(mid) <= 256:
        return "no message id"
    return None


def _timestamp(m) -> int:
    """Sort key: the message's Unix time, 0 when missing or not a number (such a message still goes on)."""
    t = m.get("timestamp") if isinstance(m, dict) else None
    try:
        return int(t) if isinstance(t, (str, int)) and not isinstance(t, bool) and 0 <= int(t) < 10 ** 11 else 0
    except ValueError:
        return 0


def _when(m: dict) -> datetime:
    t = _timestamp(m)
    return min(datetime.fromtimestamp(t, timezone.utc), utcnow()) if t else utcnow()


class WhatsAppSender:
    channel = "whatsapp"
    per_chat_gap_s = 0.0  # the pair limit (131056) is bursty; it is honoured through retries

    def __init__(self, chan: "WhatsAppChannel"):
        self.chan = chan
        self.rate_per_s = chan.runtime.settings.whatsapp_rate_per_s

    # ---------------------------------------------------------------- building bodies
    def _lang(self, contact: dict | None, doc: dict | None = None) -> str:
        """The language of the message (what its text was rendered in), else the contact's."""
        return (doc or {}).get("language") or (contact or {}).get("language") or "id"

    def template_body(self, doc: dict, contact: dict | None) -> dict:
        """The producer's template when it chose one (``template_language`` set with it), else the account's."""
        params = [template_text(p, 200) for p in (doc.get("template_params") or [])] or [
            template_text(doc.get("text") or "", 1000)]
        if doc.get("template_language") and doc.get("template"):
            name, lang = doc["template"], doc["template_language"]
        else:
            name, lang = self.chan.settings.whatsapp_notify_template, self._lang(contact)
        components = [{"type": "body", "parameters": [{"type": "text", "text": p} for p in params]}]
        if doc.get("kind") == held.INVITE_KIND:  # the template's quick-reply button brings back the held messages
            components.append({"type": "button", "sub_type": "quick_reply", "index": "0",
                               "parameters": [{"type": "payload", "payload": held.RELEASE_PAYLOAD}]})
        return {"type": "template", "template": {"name": name, "language": {"code": lang}, "components": components}}

    async def free_form_bodies(self, doc: dict, contact: dict | None) -> list[dict]:
        text = doc.get("text") or "…"
        choices = doc_choices(doc)
        lang = self._lang(contact, doc)
        renderer = self.chan.runtime.engine.renderer
        if len(choices) > 10:
            if contact is not None:  # a typed number answers it (the engine reads ``last_choices``)
                await self.chan.runtime.stores.conversations.remember_choices(
                    contact["_id"], [c["payload"] for c in choices])
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
    async def in_window(self, contact: dict | None, doc: dict | None = None) -> bool:
        # a reply answers a message that just arrived (which opened the window), even when the contact's
        # records are gone by now (the last reply after "delete my data")
        if doc is not None and doc.get("kind", "reply") == "reply" and whatsapp_window_open(doc.get("created_at")):
            return True
        if contact is None:
            return False
        last = (await self.chan.runtime.stores.conversations.last_inbound([contact["_id"]])).get(contact["_id"])
        return whatsapp_window_open(last, contact.get("last_inbound_at"))

    async def contact_of(self, doc: dict) -> dict | None:
        """The contact a message goes to (as the campaign send-time check read it, else from the database)."""
        contact = doc.get("_contact")
        if contact is None and doc.get("contact_id") is not None:
            contact = await self.chan.runtime.stores.contacts.get(doc["contact_id"])
        if contact is None:
            contact = await self.chan.runtime.stores.contacts.find_by_identity("whatsapp", doc["user_id"])
        return contact

    @staticmethod
    def needs_no_contact(doc: dict) -> bool:
        """A reply that carries its language, inside the window by its own time and without a long menu (which
        the contact must remember) is sent without reading the contact: one database read less per reply."""
        return (doc.get("use_template") is None and doc.get("kind", "reply") == "reply" and bool(doc.get("language"))
                and whatsapp_window_open(doc.get("created_at")) and len(doc_choices(doc)) <= 10)

    async def send(self, doc: dict) -> SendResult:
        contact = doc.get("_contact") if self.needs_no_contact(doc) else await self.contact_of(doc)
        as_template = doc.get("use_template")
        if doc.get("kind") == held.INVITE_KIND:
            as_template = True
        if as_template is None and not await self.in_window(contact, doc):
            if held.holdable(doc):  # kept whole until the person writes; they are invited by the template
                return await self._hold(doc, contact, "outside_window", doc.get("parts_sent") or 0, recheck=True)
            as_template = True
        if as_template:
            return await self._send_template(doc, contact)
        result, sent = None, doc.get("parts_sent") or 0
        for body in (await self.free_form_bodies(doc, contact))[sent:]:
            result = await self._post(doc["user_id"], body)
            if result.outcome is not Outcome.SENT:
                break
            sent += 1
        if result is None:  # every part went out before (a retry after the last part)
            return SendResult(Outcome.SENT)
        if result.code == REENGAGE_CODE:  # the window closed after all (the platform's view)
            contact = contact or await self.contact_of(doc)
            if held.holdable(doc):
                return await self._hold(doc, contact, str(REENGAGE_CODE), sent, recheck=False)
            return await self._send_template(doc, contact)
        if result.retryable and sent > (doc.get("parts_sent") or 0):  # the retry sends only the rest
            await self.chan.runtime.stores.messages.set_parts_sent(doc["_id"], sent)
        return result

    async def _hold(self, doc: dict, contact: dict | None, reason: str, parts_sent: int, recheck: bool):
        async def window_open() -> bool:
            return await self.in_window(contact, doc)
        return await held.HeldMessages.of(self.chan.runtime.engine).hold(
            doc, contact, reason, parts_sent=parts_sent, window_open=window_open if recheck else None)

    async def _send_template(self, doc: dict, contact: dict | None) -> SendResult:
        return await self._post(doc["user_id"], self.template_body(doc, contact))

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
            return SendResult(Outcome.RETRY, error=f"network {type(exc).__name__}")
        if status < 300 and (data.get("messages") or []):
            return SendResult(Outcome.SENT, provider_id=data["messages"][0].get("id"))
        return whatsapp_error(status, data)


def whatsapp_error(http_status: int, data: dict | None) -> SendResult:
    """A refused Graph API send as a typed outcome, with Meta's numeric ``error.code``."""
    err = (data or {}).get("error") or {}
    code = err.get("code") if isinstance(err.get("code"), int) else None
    message = f"{err.get('code')} {err.get('message') or http_status}"
    if code in RETRY_CODES:
        return SendResult(Outcome.THROTTLED, error=message, retry_after=RETRY_CODES[code], code=code)
    if code is None and (http_status >= 500 or http_status == 429):
        return SendResult(Outcome.RETRY, error=f"http {http_status}", code=http_status)
    return SendResult(Outcome.FAILED, error=message, code=code)


class WhatsAppChannel(Channel):
    name = "whatsapp"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.settings = runtime.settings
        self.db = runtime.stores.db
        self.inbox = Inbox(self.db, "whatsapp_inbox", self.settings.lapor_inbox_recovery_s)
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task] = set()
        self._user_locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, object] = {}  # wa_id -> contact id, while a stored turn of theirs is waiting here
        self._pending: set = set()  # ids of stored messages whose turn is waiting or running here
        self._recover_task: asyncio.Task | None = None
        self._recover_stored_task: asyncio.Task | None = None
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
        await self.inbox.ensure_indexes()
        await self.http()
        self._recover_task = asyncio.create_task(self.inbox.recover_forever(self._process))
        # stored messages whose turn a killed process left (its heartbeat expired) or whose lease ran out: looked
        # for every ORPHAN_CHECK_S, or the recovery interval when shorter (two small reads when there are none)
        self._recover_stored_task = asyncio.create_task(run_every(
            min(self.inbox.every_s, ORPHAN_CHECK_S), self.recover_stored, "whatsapp stored-message recovery"))

    async def drain(self) -> None:
        """Graceful stop: no more recovery here; the acknowledged webhooks finish (bounded)."""
        await stop_task(self._recover_task, timeout_s=5, name="WhatsApp inbox recovery")
        await stop_task(self._recover_stored_task, timeout_s=5, name="WhatsApp stored-message recovery")
        self._recover_task = self._recover_stored_task = None
        await finish_tasks(self._tasks)

    async def stop(self) -> None:
        await self.drain()
        await self.inbox.close()  # group-committed inbox writes still waiting
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
        """verify → parse → store → 200 → process. A signed body we cannot parse is recorded and answered 200
        (Meta would resend it for days); while the database is away the answer is 503 (Meta retries)."""
        raw = await request.read()  # over 10 MB: 413 from the server's body limit
        given = request.headers.get("X-Hub-Signature-256", "")
        if not constant_time_equal(given, sign(self.settings.whatsapp_app_secret, raw)):
            self.metrics["forged"] += 1
            log.warning("whatsapp webhook with a bad signature refused")
            return web.json_response({"error": "invalid signature"}, status=401)
        self.metrics["webhooks"] += 1
        try:
            try:
                payload = loads_object(raw)
            except BadInput as exc:
                await self.inbox.reject(exc.message, len(raw))
                return web.json_response({"ok": True, "rejected": exc.message})
            taken, receipts, rest = self._split(payload)
            # a person with a turn waiting here: the contact is known and is read by the turn, not now
            stores = [self.runtime.engine.accept(inbound, self._waiting.get(inbound.identity.user_id))
                      for inbound in taken]
            stores += [self.runtime.stores.messages.mark_provider_status(wamid, st) for wamid, st in receipts]
            if rest is not None:
                stores.append(self.inbox.store(rest))
            results = await asyncio.gather(*stores, return_exceptions=True)
            for r in results:
                if isinstance(r, BaseException):
                    raise r
            self.metrics["statuses"] += len(receipts)
            early = [{"id": wamid, "status": st} for (wamid, st), known in
                     zip(receipts, results[len(taken):len(taken) + len(receipts)]) if not known]
            if early:  # a receipt that beat our own bookkeeping of the send: the inbox retries it
                entry = await self.inbox.store({"entry": [{"changes": [{"value": {"statuses": early}}]}]})
                self._spawn(self._process(entry))
        except PyMongoError as exc:  # what was stored is harmless: Meta's resend finds it (the engine dedupes)
            log.warning("whatsapp webhook not stored: database unavailable (%s); answered 503", type(exc).__name__)
            return web.json_response({"error": "storage unavailable, retry"}, status=503)
        for inbound, (contact, stored) in zip(taken, results):
            if stored is None:  # a redelivery of a message stored before (processed, or its turn is live)
                self.runtime.engine.metrics["duplicates"] += 1
                continue
            self._waiting.setdefault(inbound.identity.user_id, contact["_id"])
            self._pending.add(stored)
            self._spawn(self._stored_turn(inbound, (contact, stored), first=True))
        if rest is not None:
            self._spawn(self._process(results[-1]))
        return web.json_response({"ok": True})

    def _split(self, payload: dict) -> tuple[list[InboundMessage], list[tuple[str, str]], dict | None]:
        """What the webhook stores itself before answering, and what is left for the inbox.

        Taken: the messages that can be stored as inbound messages right away (the ``messages`` document is
        their inbox), in timestamp order, and plain delivery receipts (sent, delivered, read: applied at once).
        Left (None when nothing is): failed statuses, messages that cannot be used or parsed, anything else.
        System notices are dropped (nobody wrote them). A body with nothing to take goes to the inbox whole."""
        taken: list[InboundMessage] = []
        receipts: list[tuple[str, str]] = []
        rest = {**payload, "entry": []}
        for e in _objs(payload.get("entry"), keep_others=True):
            if not isinstance(e, dict):
                rest["entry"].append(e)
                continue
            changes = []
            for ch in _objs(e.get("changes"), keep_others=True):
                value = _obj(ch.get("value")) if isinstance(ch, dict) else {}
                names = {str(c.get("wa_id")): _name(_obj(c.get("profile")).get("name"))
                         for c in _objs(value.get("contacts"))}
                left = []
                for m in sorted(_objs(value.get("messages"), keep_others=True), key=_timestamp):
                    inbound = None
                    if _unusable(m) is None:
                        try:
                            inbound = self.parse(m, names.get(str(m.get("from"))))
                        except Exception:  # noqa: BLE001 - the inbox path rejects and records it
                            inbound = None
                        else:
                            if inbound is None:  # a system notice
                                continue
                    if inbound is None:
                        left.append(m)
                    else:
                        taken.append(inbound)
                statuses = []
                for st in _objs(value.get("statuses"), keep_others=True):
                    wamid = st.get("id") if isinstance(st, dict) else None
                    if isinstance(wamid, str) and 0 < len(wamid) <= 256 and not st.get("errors") \
                            and st.get("status") in ("sent", "delivered", "read"):
                        receipts.append((wamid, st["status"]))
                    else:
                        statuses.append(st)
                if left or statuses or not isinstance(ch, dict) \
                        or not value.get("messages") and not value.get("statuses"):
                    changes.append({**ch, "value": {**value, "messages": left, "statuses": statuses}}
                                   if isinstance(ch, dict) else ch)
            if changes:
                rest["entry"].append({**e, "changes": changes})
        if not taken and not receipts:
            return [], [], payload
        return taken, receipts, rest if rest["entry"] else None

    async def _stored_turn(self, inbound: InboundMessage, accepted: tuple, first: bool) -> None:
        """One stored message's turn (its lease held): media fetched, the engine run, an ad's attribution kept.
        A failure leaves the message ``received``: the recovery loop runs it again once its lease is over."""
        wa_id = inbound.identity.user_id
        try:
            async with self._person_turn(wa_id):
                if await self._fetch_media(inbound):
                    await self.runtime.stores.messages.set_inbound_media(accepted[1], inbound.media)
                self.metrics["messages"] += 1
                outcome = await run_turn(self.runtime, inbound, (lambda: self._send_failure(wa_id)) if first else None,
                                         accepted=accepted)
                await self._attribute(inbound, outcome)
        except PyMongoError as exc:
            log.warning("whatsapp turn: database unavailable (%s); the stored message is retried", type(exc).__name__)
        except Exception:
            log.exception("whatsapp turn failed; the stored message is retried")
        finally:
            self._pending.discard(accepted[1])

    @contextlib.asynccontextmanager
    async def _person_turn(self, wa_id: str):
        """One turn at a time per person, in arrival order, and at most ``PROCESS_CONCURRENCY`` at once; the
        person's lock (and the contact id a waiting turn knows) is dropped when nobody waits for it."""
        lock = self._user_locks.setdefault(wa_id, asyncio.Lock())
        try:
            async with lock, self._turns:
                yield
        finally:
            if not lock._waiters:  # noqa: SLF001
                self._user_locks.pop(wa_id, None)
                self._waiting.pop(wa_id, None)

    async def _fetch_media(self, inbound: InboundMessage) -> bool:
        """Download the attachments not fetched yet into GridFS; True when there were any."""
        fetch = [m for m in inbound.media if m.ref and m.gridfs_id is None and m.size is None]
        for media in fetch:
            await self._download(media, inbound.identity.user_id)
        return bool(fetch)

    async def _attribute(self, inbound: InboundMessage, outcome: str) -> None:
        referral = (inbound.raw or {}).get("referral")
        if outcome == DONE and isinstance(referral, dict):
            await record_attribution(self.runtime.stores, "whatsapp", inbound.identity.user_id, {
                "referral": {k: str(referral.get(k))[:200] for k in ("source_type", "source_id", "source_url",
                                                                       "headline") if referral.get(k)}})

    async def recover_stored(self) -> int:
        """Run the turns of stored messages left unfinished (a killed process's, or after an outage). This
        process's own messages whose turn is still waiting here (a backlog longer than the lease) are left
        to that turn, not run a second time."""
        stores = self.runtime.stores
        n = 0
        while True:
            dead = await dead_owners(self.db)
            found = await stores.messages.stale_inbound("whatsapp", dead, limit=STALE_BATCH)
            docs = [d for d in found if not (d.get("owner") == PROCESS_ID and d["_id"] in self._pending)]
            taken = [d for d in docs if await stores.messages.take_over(d)]
            for doc in taken:
                contact = await stores.contacts.get_with_state(doc["contact_id"]) if doc.get("contact_id") else None
                if contact is None:  # erased meanwhile: nothing to answer
                    await stores.messages.mark_inbound(doc["_id"], "failed", error="contact gone")
                    continue
                inbound = stores.messages.inbound_from_doc(
                    doc, Identity("whatsapp", contact["user_id"], contact.get("name")))
                await self._stored_turn(inbound, (contact, doc["_id"]), first=False)
                n += 1
            if not taken or len(found) < STALE_BATCH:
                return n

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---------------------------------------------------------------- processing
    async def _process(self, doc: dict) -> None:
        """Statuses, then every message on its own (a bad one is rejected and recorded, the others go on);
        the inbox entry is done when no message needs another try."""
        first = not doc.get("attempts")
        try:
            outcomes: list[tuple[str, str | None]] = []
            for value in _values(doc["payload"]):
                for st in _objs(value.get("statuses")):
                    await self._status(st)
                names = {str(c.get("wa_id")): _name(_obj(c.get("profile")).get("name"))
                         for c in _objs(value.get("contacts"))}
                msgs = sorted(_objs(value.get("messages"), keep_others=True), key=_timestamp)
                outcomes += await asyncio.gather(*(self._message(m, names.get(str(_obj(m).get("from"))), first)
                                                   for m in msgs))
            await self.inbox.finish(doc, outcomes)
        except PyMongoError as exc:  # the entry keeps its lease; the recovery loop tries again
            log.warning("whatsapp webhook processing: database unavailable (%s); will retry", type(exc).__name__)
        except Exception:
            log.exception("whatsapp webhook processing failed; kept in the inbox for another try")

    async def recover_once(self) -> int:
        """Process inbox entries and stored messages a crashed or overloaded process left behind (the engine
        dedupes)."""
        return await self.inbox.recover_once(self._process) + await self.recover_stored()

    async def _status(self, st: dict) -> None:
        self.metrics["statuses"] += 1
        status, wamid = st.get("status"), st.get("id")
        if not isinstance(wamid, str) or not wamid or status not in ("sent", "delivered", "read", "failed"):
            return
        errors = _objs(st.get("errors"))
        error = f"{errors[0].get('code')} {errors[0].get('title') or errors[0].get('message') or ''}".strip()[:300] \
            if errors else None
        messages = self.runtime.stores.messages
        if status != "failed" and not error:  # delivered/read: group-committed, no document read back
            for delay in (*STATUS_RETRY_S, None):
                if await messages.mark_provider_status(wamid, status) or delay is None:
                    return
                await asyncio.sleep(delay)  # a receipt can beat our own bookkeeping of the send
        updated = await messages.update_provider_status(wamid, status, error)
        for delay in STATUS_RETRY_S:
            # a receipt can beat our own bookkeeping (the send's id is stored after Graph answered): wait for it,
            # unless the message is known and simply already further along (read before delivered)
            if updated is not None or await messages.has_provider_id(wamid):
                break
            await asyncio.sleep(delay)
            updated = await messages.update_provider_status(wamid, status, error)
        if updated and status == "failed" and errors and errors[0].get("code") == REENGAGE_CODE \
                and held.holdable(updated):  # refused after all: kept for when the person writes (bot/held.py)
            contact = await self.runtime.stores.contacts.get(updated["contact_id"]) \
                if updated.get("contact_id") is not None else None
            await held.HeldMessages.of(self.runtime.engine).hold_copy(updated, contact, str(REENGAGE_CODE))
        elif updated and status == "failed" and errors and errors[0].get("code") == REENGAGE_CODE \
                and updated.get("use_template") is not True:
            # the free-form message was refused later: the window had closed; send the template instead
            msg = OutboundMessage(Identity("whatsapp", updated["user_id"]), updated.get("text") or "",
                                  kind=updated.get("kind") or "notification", template=updated.get("template"),
                                  template_params=updated.get("template_params") or [], use_template=True,
                                  contact_id=updated.get("contact_id"), priority=updated.get("priority", 5))
            await self.runtime.outbox.enqueue([msg])

    async def _message(self, m, name: str | None, first: bool) -> tuple[str, str | None]:
        """Parse, store and process one message: (DONE | RETRY | REJECTED, reason)."""
        problem = _unusable(m)
        if problem:
            log.warning("whatsapp message rejected: %s", problem)
            return REJECTED, problem
        wa_id = str(m["from"])
        async with self._person_turn(wa_id):
            try:
                inbound = await self.to_inbound(m, name)
            except PyMongoError:
                return RETRY, "database"
            except Exception as exc:  # a shape we do not understand: recorded, the batch goes on
                log.warning("whatsapp message from %s rejected: %s", mask_user(wa_id), type(exc).__name__)
                return REJECTED, f"{m.get('type')}: {type(exc).__name__}"[:100]
            if inbound is None:
                return DONE, None
            self.metrics["messages"] += 1
            outcome = await run_turn(self.runtime, inbound, (lambda: self._send_failure(wa_id)) if first else None)
            await self._attribute(inbound, outcome)
            return outcome, None

    async def _send_failure(self, wa_id: str) -> None:
        """The database is down: answer directly (no outbox), inside the window the user just opened."""
        sender = WhatsAppSender(self)
        await sender._post(wa_id, {"type": "text", "text": {"body": self.runtime.engine.failure_text("id")}})

    # ---------------------------------------------------------------- parsing, one small parser per kind
    def parse(self, m: dict, name: str | None) -> InboundMessage | None:
        """One Graph ``messages[]`` item as an InboundMessage (None for system notices); media not fetched."""
        mtype = m.get("type") if isinstance(m.get("type"), str) else "unsupported"
        if mtype == "system":  # number changed etc.: not something the person wrote
            return None
        wa_id = str(m["from"])
        msg = InboundMessage(Identity("whatsapp", wa_id, name), str(m["id"]), received_at=_when(m))
        body = _obj(m.get(mtype))
        parser = self._PARSERS.get(mtype) or ("_parse_media" if mtype in MEDIA_KINDS else "_parse_unsupported")
        getattr(self, parser)(msg, m, body, mtype)
        return msg

    async def to_inbound(self, m: dict, name: str | None) -> InboundMessage | None:
        """``parse``, then the attachments downloaded into GridFS (an inbox entry's message)."""
        msg = self.parse(m, name)
        if msg is not None:
            await self._fetch_media(msg)
        return msg

    def _parse_text(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        msg.text = _text(body.get("body"))
        if isinstance(m.get("referral"), dict):  # a click-to-WhatsApp ad: keep where the person came from
            msg.raw = {"referral": m["referral"]}

    def _parse_interactive(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        reply = _obj(body.get("button_reply")) or _obj(body.get("list_reply"))
        if reply:
            msg.payload, msg.text, msg.kind = _text(reply.get("id"), 256), _text(reply.get("title")), "choice"
        else:  # flows (nfm_reply) and other interactive answers we never send
            msg.kind = "unsupported"

    def _parse_button(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        """A template's quick reply."""
        payload = _text(body.get("payload"), 256)
        msg.text = _text(body.get("text"))
        if ":" in payload:
            msg.payload, msg.kind = payload, "choice"

    def _parse_media(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        msg.kind = "sticker" if mtype == "sticker" else "media"
        msg.text = _text(body.get("caption"))
        mime, filename = body.get("mime_type"), body.get("filename")
        media = Media(MEDIA_KINDS[mtype], _text(body.get("id"), 256), mime if isinstance(mime, str) else None,
                      Path(filename).name[:120] if isinstance(filename, str) else None)
        msg.media = [media] if mtype != "sticker" else []

    def _parse_location(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        try:
            lat, lon = float(body["latitude"]), float(body["longitude"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError("out of range")
        except (KeyError, TypeError, ValueError):
            msg.kind = "unsupported"
            return
        msg.location = Location(lat, lon, _text(body.get("name"), 200) or None, _text(body.get("address"), 500) or None)
        msg.kind = "location"

    def _parse_contacts(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        card = next(iter(_objs(m.get("contacts"))), {})
        phone0 = next(iter(_objs(card.get("phones"))), {})
        raw_phone = phone0.get("wa_id") or phone0.get("phone")
        if not isinstance(raw_phone, str) or not raw_phone.strip():
            msg.kind = "unsupported"
            return
        raw_phone = raw_phone.strip()[:40]
        phone = normalize_phone(raw_phone if raw_phone.startswith(("+", "0")) else "+" + raw_phone) or raw_phone
        msg.contact = SharedContact(phone, _text(_obj(card.get("name")).get("formatted_name"), 200) or None)
        msg.kind = "contact"

    def _parse_reaction(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        msg.kind = "reaction"

    def _parse_welcome(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        msg.text = "halo"

    def _parse_unsupported(self, msg: InboundMessage, m: dict, body: dict, mtype: str) -> None:
        """unsupported, order, unknown future types."""
        msg.kind = "unsupported"
        if mtype == "order":
            msg.text = _text(body.get("text"))

    _PARSERS = {"text": "_parse_text", "interactive": "_parse_interactive", "button": "_parse_button",
                "location": "_parse_location", "contacts": "_parse_contacts", "reaction": "_parse_reaction",
                "request_welcome": "_parse_welcome"}

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
            media.gridfs_id = await self.runtime.stores.files.store(
                data, filename=media.filename, mime_type=media.mime_type, channel="whatsapp", ref=media.ref,
                user_id=wa_id)
        except Exception as exc:  # still processed; the attachment keeps its media id
            log.warning("whatsapp media download failed for %s: %s", mask_user(wa_id), exc)
