"""Telegram with python-telegram-bot v22.

Inbound: long polling (default) or a webhook at ``POST /webhooks/telegram`` whose
``X-Telegram-Bot-Api-Secret-Token`` must match TELEGRAM_WEBHOOK_SECRET (403 otherwise). Every update is
translated into one InboundMessage and handed to ``engine.handle`` (not inline: the outbox sends the
replies, at Telegram's limits). Photos and documents are downloaded with PTB and stored in GridFS.

Outbound: HTML parse mode with ``< > &`` escaped; choices as an inline keyboard (callback data ≤64 bytes,
longer payloads go through a small lookup collection); a location request as a one-time reply keyboard.
Errors: 429 → retry after ``retry_after``; 403 → blocked (the outbox marks the contact unreachable);
400 → failed; network errors and 5xx → retry.
"""
from __future__ import annotations

import asyncio
import html
import logging
import warnings
from datetime import timedelta

from aiohttp import web
from telegram import (InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup, Update)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from bot.engine import TurnFailed
from bot.messages import Identity, InboundMessage, Location, Media, SharedContact, utcnow
from bot.outbox import SendResult, mask_user
from bot.phones import normalize_phone
from channels.base import Channel
from channels.telegram_poller import PollerLease
from channels.formatting import (constant_time_equal, doc_choices, record_attribution, short_hash, split_text,
                                 store_file, truncate)

log = logging.getLogger(__name__)

TEXT_LIMIT = 4096
CALLBACK_LIMIT = 64  # bytes
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


class CallbackPayloads:
    """callback_data is 1–64 bytes; longer payloads are stored and replaced by ``h:<hash>``."""

    def __init__(self, db):
        self.col = db["telegram_callbacks"]

    async def encode(self, payload: str) -> str:
        if 0 < len(payload.encode()) <= CALLBACK_LIMIT and not payload.startswith("h:"):
            return payload
        key = "h:" + short_hash(payload, 40)
        await self.col.update_one({"_id": key}, {"$set": {"payload": payload, "at": utcnow()}}, upsert=True)
        return key

    async def decode(self, data: str) -> str:
        if data.startswith("h:"):
            doc = await self.col.find_one({"_id": data})
            return doc["payload"] if doc else data
        return data


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
            return SendResult("sent", provider_id=f"{chat_id}:{sent.message_id}")
        except RetryAfter as exc:
            return SendResult("retry", error="429 flood control", retry_after=retry_seconds(exc))
        except Forbidden as exc:
            return SendResult("blocked", error=f"403 {exc.message}")
        except InvalidToken as exc:
            return SendResult("failed", error=f"401 {exc.message}")
        except BadRequest as exc:
            return SendResult("failed", error=f"400 {exc.message}")
        except NetworkError as exc:  # timeouts, connection errors, 5xx
            return SendResult("retry", error=f"network {exc.message}")
        except TelegramError as exc:
            return SendResult("retry", error=exc.message)


class TelegramChannel(Channel):
    name = "telegram"

    def __init__(self, runtime):
        super().__init__(runtime)
        s = runtime.settings
        self.mode = s.telegram_mode
        self.secret = s.telegram_webhook_secret
        self.callbacks = CallbackPayloads(runtime.stores.db)
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
        self.poller = None

    # ------------------------------------------------------------------ lifecycle
    def sender(self):
        return TelegramSender(self)

    async def ready_bot(self):
        await asyncio.wait_for(self._ready.wait(), 60)
        return self.app.bot

    async def start(self) -> None:
        await self.callbacks.col.create_index("at", expireAfterSeconds=30 * 86400, name="callbacks_ttl")
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

    async def stop(self) -> None:
        self._ready.clear()
        try:
            if self.poller is not None:
                await self.poller.stop()
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
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not self.secret or not constant_time_equal(given, self.secret):
            return web.json_response({"error": "forbidden"}, status=403)
        try:
            data = await request.json()
            update = Update.de_json(data, self.app.bot)
        except Exception:
            return web.json_response({"error": "bad update"}, status=400)
        await self.app.update_queue.put(update)
        return web.json_response({"ok": True})

    # ------------------------------------------------------------------ inbound
    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        key = str(chat.id)
        lock = self._chat_locks.setdefault(key, asyncio.Lock())  # one update at a time per chat, in order
        async with lock:
            try:
                inbound = await self.to_inbound(update)
                if inbound is None:
                    return
                try:
                    await self.runtime.engine.handle(inbound)
                    if inbound.start_param:
                        await record_attribution(self.runtime.stores, "telegram", inbound.identity.user_id,
                                                 {"start": inbound.start_param})
                except TurnFailed:
                    user = update.effective_user
                    lang = "en" if user and (user.language_code or "").startswith("en") else "id"
                    await self.app.bot.send_message(chat.id, html.escape(self.runtime.engine.failure_text(lang),
                                                                         quote=False), parse_mode=ParseMode.HTML)
            finally:
                if not lock._waiters:  # noqa: SLF001 - drop idle locks so the dict stays small
                    self._chat_locks.pop(key, None)

    async def to_inbound(self, update: Update) -> InboundMessage | None:
        user = update.effective_user
        chat = update.effective_chat
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

    async def _from_callback(self, ident: Identity, query) -> InboundMessage:
        try:
            await query.answer()
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
                await query.edit_message_text(html.escape(f"{message.text}\n\n✓ {label}", quote=False)[:TEXT_LIMIT],
                                              parse_mode=ParseMode.HTML)
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
            tg_file = await self.app.bot.get_file(media.ref)
            data = bytes(await tg_file.download_as_bytearray())
            media.size = len(data)
            media.gridfs_id = await store_file(self.runtime.stores.db, data, filename=media.filename or media.ref,
                                               mime_type=media.mime_type, channel="telegram", ref=media.ref,
                                               user_id=ident.user_id)
        except Exception as exc:  # the message is still processed; the attachment keeps its file_id
            log.warning("telegram download failed for %s: %s", mask_user(ident.user_id), type(exc).__name__)
        return media
