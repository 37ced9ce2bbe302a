"""Telegram with python-telegram-bot v22.

Inbound: long polling (default) or a webhook at ``POST /webhooks/telegram`` whose
``X-Telegram-Bot-Api-Secret-Token`` must match TELEGRAM_WEBHOOK_SECRET (403 otherwise). A webhook update is
parsed (``bot.untrusted``), stored in ``telegram_inbox`` under its ``update_id`` (``channels.inbox``) and only
then answered 200 (503 while the database is away; a body without an update_id is recorded as rejected and
answered 200); a polled update is kept there too while its turn runs. Every update is translated into one
InboundMessage and handed to ``engine.handle`` (not inline: the outbox sends the replies, at Telegram's
limits); entries a crash left behind are processed again by the recovery loop. Photos and documents are
downloaded with PTB and stored in GridFS.

Outbound: HTML parse mode with ``< > &`` escaped; choices as an inline keyboard (callback data ≤64 bytes,
longer payloads are stored by bot/storage/telegram_callbacks.py); a location request as a one-time reply keyboard.
Errors map to ``bot.sending.Outcome``: 429 → throttled (retry after ``retry_after``); 403 → stopped (the
outbox marks the contact unreachable); 400/401 → failed; network errors and 5xx → retry.
"""
from __future__ import annotations

import asyncio
import html
import logging
import warnings
from datetime import timedelta

from aiohttp import web
from pymongo.errors import PyMongoError
from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, Update)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.messages import Identity, InboundMessage, Location, Media, SharedContact, utcnow
from bot.outbox import mask_user
from bot.sending import Outcome, SendResult
from bot.phones import normalize_phone
from bot.untrusted import BadInput, loads_object
from channels.base import Channel
from channels.formatting import constant_time_equal, doc_choices, record_attribution, short_hash, split_text, truncate
from channels.inbox import DONE, REJECTED, RETRY, Inbox, finish_tasks, run_turn
from channels.telegram_poller import PollerLease

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files


def file_base_url(api_base_url: str) -> str:
    """``https://api.telegram.org/bot`` -> ``https://api.telegram.org/file/bot`` (same for a local fake)."""
    base = api_base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file"


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ra = exc.retry_after
    return ra.total_seconds() if isinstance(ra, timedelta) else float(ra)


class TelegramSender:
    channel = "telegram"
    per_chat_gap_s = 1.0

    def __init__(self, chan: "TelegramChannel"):
        self.chan = chan
        self.rate_per_s = chan.runtime.settings.telegram_rate_per_s

    async def _markup(self, doc: dict):
        choices = doc_choices(doc)
        if choices:
            rows, row = [], []
            short = len(choices) > 3 and all(len(c["label"]) <= 14 for c in choices)
            for c in choices:
                row.append(InlineKeyboardButton(truncate(c["label"], 60),
                                                callback_data=await self.chan.callbacks.encode(c["payload"])))
                if not short or len(row) == 2:
                    rows.append(row)
                    row = []
            if row:
                rows.append(row)
            return InlineKeyboardMarkup(rows)
        if doc.get("request_location"):
            contact = None
            if doc.get("contact_id") is not None:
                contact = await self.chan.runtime.stores.contacts.get(doc["contact_id"])
            label = self.chan.runtime.engine.renderer.render("channels/send_location",
                                                             (contact or {}).get("language") or "id")
            return ReplyKeyboardMarkup([[KeyboardButton(label, request_location=True)]], resize_keyboard=True,
                                       one_time_keyboard=True)
        return None

    async def send(self, doc: dict) -> SendResult:
        bot = await self.chan.ready_bot()
        chat_id = doc["user_id"]
        chunks = split_text(doc.get("text") or "…", TEXT_LIMIT)
        try:
            markup = await self._markup(doc)
            sent = None
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                sent = await bot.send_message(chat_id, html.escape(chunk, quote=False), parse_mode=ParseMode.HTML,
                                              reply_markup=markup if last else None)
            return SendResult(Outcome.SENT, provider_id=f"{chat_id}:{sent.message_id}")
        except RetryAfter as exc:
            return SendResult(Outcome.THROTTLED, error="429 flood control", retry_after=retry_seconds(exc), code=429)
        except Forbidden as exc:
            return SendResult(Outcome.STOPPED, error=f"403 {exc.message}", code=403)
        except InvalidToken as exc:
            return SendResult(Outcome.FAILED, error=f"401 {exc.message}", code=401)
        except BadRequest as exc:
            return SendResult(Outcome.FAILED, error=f"400 {exc.message}", code=400)
        except NetworkError as exc:  # timeouts, connection errors, 5xx
            return SendResult(Outcome.RETRY, error=f"network {exc.message}")
        except TelegramError as exc:
            return SendResult(Outcome.RETRY, error=exc.message)


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(self, runtime):
        super().__init__(runtime)
        s = runtime.settings
        self.mode = s.telegram_mode
        self.secret = s.telegram_webhook_secret
        self.callbacks = runtime.stores.telegram_callbacks
        builder = (Application.builder().token(s.telegram_bot_token).base_url(s.telegram_api_base_url)
                   .base_file_url(file_base_url(s.telegram_api_base_url)).concurrent_updates(64)
                   .connection_pool_size(64).pool_timeout(10.0))
        if self.mode == "webhook":
            builder = builder.updater(None)
        self.app: Application = builder.build()
        self.app.add_handler(TypeHandler(Update, self._on_update))
        self.app.add_error_handler(self._on_error)
        self._ready = asyncio.Event()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self.poll_timeout = 10
        self.inbox = Inbox(runtime.stores.db, "telegram_inbox", s.lapor_inbox_recovery_s)
        self._tasks: set[asyncio.Task] = set()
        self._turns = asyncio.Semaphore(64)
        self._recover_task: asyncio.Task | None = None
        self.poller = None

    # ------------------------------------------------------------------ lifecycle
    def sender(self):
        return TelegramSender(self)

    async def ready_bot(self):
        await asyncio.wait_for(self._ready.wait(), 60)
        return self.app.bot

    async def start(self) -> None:
        await self.callbacks.ensure_indexes()
        await self.inbox.ensure_indexes()
        self._recover_task = asyncio.create_task(self.inbox.recover_forever(self._process))
        await self.app.initialize()  # getMe
        await self.app.start()
        if self.mode == "polling":  # one poller among all processes (channels/telegram_poller.py)
            self.poller = PollerLease(self, lambda: self.app.updater.start_polling(
                poll_interval=0.0, timeout=self.poll_timeout, allowed_updates=Update.ALL_TYPES,
                error_callback=self._poll_error), self.app.updater.stop)
            self.poller.start()
        else:
            url = getattr(self.runtime.settings, "telegram_webhook_url", None)
            if url:
                await self.app.bot.set_webhook(url, secret_token=self.secret, allowed_updates=Update.ALL_TYPES)
        self._ready.set()
        log.info("telegram channel started (%s) as @%s", self.mode, self.app.bot.username)

    async def drain(self) -> None:
        """Graceful stop: no more polling (the lease goes to another process) nor recovery here; the updates
        already taken finish (bounded)."""
        if self._recover_task:
            self._recover_task.cancel()
        if self.poller is not None:
            await self.poller.stop()
            self.poller = None
        await finish_tasks(self._tasks)

    async def stop(self) -> None:
        self._ready.clear()
        await self.drain()
        await self.inbox.close()  # group-committed inbox writes still waiting
        try:
            if self.app.updater and self.app.updater.running:
                await self.app.updater.stop()
            if self.app.running:
                await self.app.stop()
        finally:
            await self.app.shutdown()

    def _poll_error(self, exc: TelegramError) -> None:
        log.warning("telegram polling error: %s", type(exc).__name__)

    async def _on_error(self, update, context) -> None:
        log.warning("telegram update failed: %s", type(context.error).__name__)

    # ------------------------------------------------------------------ webhook
    def add_routes(self, app: web.Application) -> None:
        if self.mode == "webhook":
            app.router.add_post("/webhooks/telegram", self.webhook)

    async def webhook(self, request: web.Request) -> web.Response:
        """verify → parse → store → 200 → process: Telegram does not resend an update it got 200 for."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.secret or not constant_time_equal(given, self.secret):
            return web.json_response({"error": "forbidden"}, status=403)
        raw = await request.read()
        try:
            try:
                data = loads_object(raw)
                uid = data.get("update_id")
                if not isinstance(uid, int) or isinstance(uid, bool) or not 0 <= uid < 2 ** 63:
                    raise BadInput("no update_id")
            except BadInput as exc:  # a resend would be refused again: recorded, answered 200
                await self.inbox.reject(exc.message, len(raw))
                return web.json_response({"ok": True, "rejected": exc.message})
            doc = await self.inbox.store(data, key=uid)
        except PyMongoError as exc:
            log.warning("telegram update not stored: database unavailable (%s); answered 503", type(exc).__name__)
            return web.json_response({"error": "storage unavailable, retry"}, status=503)
        if doc is not None:  # None: this update_id is stored already (a resend)
            self._spawn(self._process(doc))
        return web.json_response({"ok": True})

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def idle(self, timeout: float = 10) -> None:
        """Wait until every webhook update received so far is processed (tests)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def recover_once(self) -> int:
        return await self.inbox.recover_once(self._process)

    # ------------------------------------------------------------------ inbound
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Polling: PTB has acknowledged the update already; it is kept in the inbox while its turn runs, so a
        crash mid-turn is recovered."""
        await self._run(update, payload=update.to_dict())

    async def _process(self, doc: dict) -> None:
        """A stored update (webhook, or recovery of any mode)."""
        try:
            update = Update.de_json(doc["payload"], self.app.bot)
        except Exception as exc:
            log.warning("telegram update %s rejected: %s", doc["_id"], type(exc).__name__)
            try:
                await self.inbox.finish(doc, [(REJECTED, f"unparseable update: {type(exc).__name__}")])
            except PyMongoError:
                pass
            return
        await self._run(update, doc=doc)

    async def _run(self, update: Update, doc: dict | None = None, payload: dict | None = None) -> None:
        try:
            key = str(update.effective_chat.id) if update.effective_chat is not None else "-"
        except Exception:  # an update of a shape PTB could not make sense of
            key = "-"
        lock = self._chat_locks.setdefault(key, asyncio.Lock())  # one update at a time per chat, in order
        async with lock, self._turns:
            try:
                if doc is None:
                    doc = await self.inbox.store(payload, key=update.update_id)
                    if doc is None:
                        return  # stored already: processed, or being processed
                await self.inbox.finish(doc, [await self._turn(update, first=not doc.get("attempts"))])
            except PyMongoError as exc:  # the entry keeps its lease; the recovery loop tries again
                log.warning("telegram update: database unavailable (%s); will retry", type(exc).__name__)
            except Exception:
                log.exception("telegram update processing failed; kept in the inbox for another try")
            finally:
                if not lock._waiters:  # noqa: SLF001 - drop idle locks so the dict stays small
                    self._chat_locks.pop(key, None)

    async def _turn(self, update: Update, first: bool) -> tuple[str, str | None]:
        """(DONE | RETRY | REJECTED, reason) for one update."""
        try:
            if update.effective_chat is None:
                return DONE, None
            inbound = await self.to_inbound(update)
        except PyMongoError:
            return RETRY, "database"
        except Exception as exc:
            log.warning("telegram update rejected: %s", type(exc).__name__)
            return REJECTED, type(exc).__name__
        if inbound is None:
            return DONE, None
        outcome = await run_turn(self.runtime, inbound, (lambda: self._send_failure(update)) if first else None)
        if outcome == DONE and inbound.start_param:
            await record_attribution(self.runtime.stores, "telegram", inbound.identity.user_id,
                                     {"start": inbound.start_param})
        return outcome, None

    async def _send_failure(self, update: Update) -> None:
        user = update.effective_user
        lang = "en" if user and (user.language_code or "").startswith("en") else "id"
        await self.app.bot.send_message(update.effective_chat.id,
                                        html.escape(self.runtime.engine.failure_text(lang), quote=False),
                                        parse_mode=ParseMode.HTML)

    async def to_inbound(self, update: Update) -> InboundMessage | None:
        user = update.effective_user
        chat = update.effective_chat
        if type(chat.id) is not int:  # PTB keeps whatever the body held ({}, "x", 1.5): never a chat to answer
            raise BadInput("chat id is not an integer")
        ident = Identity("telegram", str(chat.id), user.full_name if user else None)
        query = update.callback_query
        if query is not None:
            return await self._from_callback(ident, query)
        msg = update.message
        if msg is None:  # edited messages, channel posts, member updates: nothing to answer
            return None
        mid = f"{chat.id}:{msg.message_id}"
        when = msg.date or utcnow()
        text = msg.text or msg.caption or ""
        inbound = InboundMessage(ident, mid, text=text, received_at=when, raw=None)
        if msg.text and msg.text.startswith("/start"):
            parts = msg.text.split(maxsplit=1)
            if parts[0].split("@")[0] == "/start":
                inbound.text = ""
                inbound.start_param = parts[1].strip()[:64] if len(parts) > 1 else None
                if inbound.start_param is None:
                    inbound.text = "halo"  # a bare /start is a greeting
            return inbound
        if msg.text and msg.text.startswith("/") and len(msg.text.split()) == 1:
            inbound.text = msg.text[1:].split("@")[0].replace("_", " ")  # /bantuan, /status@bot -> plain words
        if msg.location:
            inbound.kind = "location"
            inbound.location = Location(msg.location.latitude, msg.location.longitude)
            if msg.venue:
                inbound.location.name, inbound.location.address = msg.venue.title, msg.venue.address
            return inbound
        if msg.contact:
            inbound.kind = "contact"
            phone = normalize_phone(msg.contact.phone_number) or msg.contact.phone_number
            name = " ".join(x for x in (msg.contact.first_name, msg.contact.last_name) if x) or None
            inbound.contact = SharedContact(phone, name)
            return inbound
        media = await self._media(msg, ident)
        if media:
            inbound.kind = "media"
            inbound.media = [media]
            return inbound
        if msg.sticker:
            inbound.kind = "sticker"
            return inbound
        if not msg.text and not msg.caption:
            inbound.kind = "unsupported"
        return inbound

    async def _budgeted(self, call):
        """A Bot API call other than a send, inside the account's rate budget (channels/budget.py)."""
        from channels.budget import within_budget

        return await within_budget(self.runtime, "telegram", call,
                                   retry_after=lambda e: retry_seconds(e) if isinstance(e, RetryAfter) else None)

    async def _from_callback(self, ident: Identity, query) -> InboundMessage:
        try:
            await self._budgeted(query.answer)
        except TelegramError:
            pass
        data = await self.callbacks.decode(query.data or "")
        label = data
        message = query.message
        markup = getattr(message, "reply_markup", None)
        if markup:
            for row in markup.inline_keyboard:
                for b in row:
                    if b.callback_data == query.data:
                        label = b.text
        if message is not None and getattr(message, "text", None):
            try:  # show what was chosen and remove the keyboard, so an old button is not pressed twice
                shown = html.escape(f"{message.text}\n\n✓ {label}", quote=False)[:TEXT_LIMIT]
                await self._budgeted(lambda: query.edit_message_text(shown, parse_mode=ParseMode.HTML))
            except TelegramError:
                pass
        return InboundMessage(ident, f"cb:{query.id}", text=label, payload=data, kind="choice")

    async def _media(self, msg, ident: Identity) -> Media | None:
        if msg.photo:
            ph = msg.photo[-1]
            media = Media("photo", ph.file_id, "image/jpeg", f"{ph.file_unique_id}.jpg", ph.file_size)
        elif msg.document:
            d = msg.document
            media = Media("document", d.file_id, d.mime_type, d.file_name, d.file_size)
        elif msg.video:
            v = msg.video
            media = Media("video", v.file_id, v.mime_type, v.file_name, v.file_size)
        elif msg.voice or msg.audio:
            a = msg.voice or msg.audio
            media = Media("audio", a.file_id, a.mime_type, getattr(a, "file_name", None), a.file_size)
        else:
            return None
        if media.size and media.size > MAX_DOWNLOAD:
            return media
        try:
            tg_file = await self._budgeted(lambda: self.app.bot.get_file(media.ref))
            data = bytes(await tg_file.download_as_bytearray())
            media.size = len(data)
            media.gridfs_id = await self.runtime.stores.files.store(
                data, filename=media.filename or media.ref, mime_type=media.mime_type, channel="telegram",
                ref=media.ref, user_id=ident.user_id)
        except Exception as exc:  # the message is still processed; the attachment keeps its file_id
            log.warning("telegram download failed for %s: %s", mask_user(ident.user_id), type(exc).__name__)
        return media
