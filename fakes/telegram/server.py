"""A Telegram Bot API server for one bot: the methods python-telegram-bot calls, long-poll getUpdates, file
downloads, Telegram's error bodies (recorded in ``testdata/``), injectable errors, and the soft limits
(30 msg/s per bot, 1 msg/s per chat) answered with 429 and ``retry_after``. Listens on 127.0.0.1 only.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections import deque

from aiohttp import web

from fakes.base import Window, recorded, serve, wait_until

_HTML_TAG = re.compile(r"<(/?)([a-zA-Z-]*)")
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                 "span", "blockquote", "tg-emoji"}


class FakeTelegram:
    """A Bot API server for one bot. ``base_url`` is what TELEGRAM_API_BASE_URL should be."""

    def __init__(self, token: str = "123456:TEST-token_abc", *, rate_per_s: float = 30, chat_gap_s: float = 1.0):
        self.token = token
        self.bot_user = {"id": 123456, "is_bot": True, "first_name": "LAPOR Bot", "username": "lapor_test_bot"}
        self.updates: list[dict] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._new_update = asyncio.Event()
        self.sent: list[dict] = []  # sendMessage/sendPhoto calls that succeeded
        self.calls: list[tuple[str, dict]] = []
        self.answers: list[dict] = []  # answerCallbackQuery
        self.edits: list[dict] = []  # editMessageText
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (path, bytes)
        self.webhook: dict | None = None
        self.blocked: set[str] = set()
        self.inject: deque = deque()  # (method, status, body) answered instead of the next matching call
        self.rate = Window(rate_per_s)
        self.chat_gap_s = chat_gap_s
        self.last_to_chat: dict[str, float] = {}
        self.rate_violations: list[str] = []
        self.polls_in_flight = 0
        self.poll_conflicts = 0  # getUpdates while another one was running (two pollers: 409, as Telegram)
        self.runner = None
        self.port = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> "FakeTelegram":
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self.runner, self.port = await serve(app)
        return self

    async def stop(self) -> None:
        if self.runner:
            await self.runner.cleanup()

    # ---------------------------------------------------------------- building updates
    def _user(self, chat_id, name="Budi", lang="id"):
        return {"id": int(chat_id), "is_bot": False, "first_name": name, "language_code": lang}

    def _chat(self, chat_id, name="Budi"):
        return {"id": int(chat_id), "type": "private", "first_name": name}

    def push(self, kind: str, body: dict) -> int:
        uid = next(self._update_ids)
        self.updates.append({"update_id": uid, kind: body})
        self._new_update.set()
        return uid

    def message(self, chat_id, **fields) -> int:
        msg = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat(chat_id),
               "from": self._user(chat_id), **fields}
        return self.push("message", msg)

    def text(self, chat_id, text: str) -> int:
        extra = {}
        if text.startswith("/"):
            cmd = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
        return self.message(chat_id, text=text, **extra)

    def photo(self, chat_id, data: bytes, caption: str | None = None) -> int:
        fid = f"PHOTO{len(self.files)}"
        self.files[fid] = (f"photos/file_{len(self.files)}.jpg", data)
        sizes = [{"file_id": fid + "s", "file_unique_id": fid + "us", "width": 90, "height": 90, "file_size": 10},
                 {"file_id": fid, "file_unique_id": "u" + fid, "width": 800, "height": 600, "file_size": len(data)}]
        return self.message(chat_id, photo=sizes, **({"caption": caption} if caption else {}))

    def document(self, chat_id, data: bytes, name="bukti.pdf", mime="application/pdf") -> int:
        fid = f"DOC{len(self.files)}"
        self.files[fid] = (f"documents/file_{len(self.files)}.pdf", data)
        return self.message(chat_id, document={"file_id": fid, "file_unique_id": "u" + fid, "file_name": name,
                                               "mime_type": mime, "file_size": len(data)})

    def location(self, chat_id, lat: float, lon: float) -> int:
        return self.message(chat_id, location={"latitude": lat, "longitude": lon})

    def contact(self, chat_id, phone: str, name: str = "Siti") -> int:
        return self.message(chat_id, contact={"phone_number": phone, "first_name": name})

    def press(self, chat_id, data: str, message: dict | None = None) -> int:
        """Press an inline button: ``message`` is the sent message that carried it (defaults to the last)."""
        message = message or self.last_to(chat_id)
        body = {"id": f"cq{next(self._update_ids)}", "from": self._user(chat_id), "chat_instance": "ci",
                "data": data}
        if message:
            body["message"] = message["message"]
        return self.push("callback_query", body)

    def press_label(self, chat_id, label_part: str) -> int:
        for m in reversed(self.to_chat(chat_id)):
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", []):
                for b in row:
                    if label_part.lower() in b["text"].lower():
                        return self.press(chat_id, b["callback_data"], m)
        raise AssertionError(f"no button like {label_part!r}")

    def press_index(self, chat_id, index: int) -> int:
        m = self.last_with_keyboard(chat_id)
        buttons = [b for row in m["reply_markup"]["inline_keyboard"] for b in row]
        return self.press(chat_id, buttons[index - 1]["callback_data"], m)

    # ---------------------------------------------------------------- reading what the bot sent
    def to_chat(self, chat_id) -> list[dict]:
        return [m for m in self.sent if str(m["chat_id"]) == str(chat_id)]

    def last_to(self, chat_id) -> dict | None:
        msgs = self.to_chat(chat_id)
        return msgs[-1] if msgs else None

    def last_with_keyboard(self, chat_id) -> dict:
        for m in reversed(self.to_chat(chat_id)):
            if (m.get("reply_markup") or {}).get("inline_keyboard"):
                return m
        raise AssertionError("no keyboard sent")

    async def wait_sent(self, chat_id, count: int, timeout: float = 30) -> list[dict]:
        await wait_until(lambda: len(self.to_chat(chat_id)) >= count, timeout)
        return self.to_chat(chat_id)

    # ---------------------------------------------------------------- server
    @staticmethod
    def _error(status: int, description: str, **params) -> web.Response:
        body = {"ok": False, "error_code": status, "description": description}
        if params:
            body["parameters"] = params
        return web.json_response(body, status=status)

    @staticmethod
    def _recorded(name: str) -> web.Response:
        """An error answered with the body recorded in testdata/."""
        body = recorded("telegram", name)
        return web.json_response(body, status=body["error_code"])

    @staticmethod
    def _ok(result) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict:
        if request.content_type == "application/json":
            return await request.json()
        if request.method == "GET":
            return dict(request.query)
        form = await request.post()
        out = {}
        for k, v in form.items():
            out[k] = v.file.read() if hasattr(v, "file") else v
        return out

    async def _api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        p = await self._params(request)
        self.calls.append((method, p))
        for i, (m, status, desc, params) in enumerate(self.inject):
            if m == method:
                del self.inject[i]
                return self._error(status, desc, **params)
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        return await handler(p)

    async def _m_getMe(self, p):
        return self._ok(self.bot_user)

    async def _m_deleteWebhook(self, p):
        self.webhook = None
        return self._ok(True)

    async def _m_setWebhook(self, p):
        secret = p.get("secret_token")
        if secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            return self._error(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {"url": p.get("url"), "secret_token": secret}
        return self._ok(True)

    async def _m_getUpdates(self, p):
        if self.webhook:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        if self.polls_in_flight:
            self.poll_conflicts += 1
            return self._error(409, "Conflict: terminated by other getUpdates request; make sure that only one "
                                    "bot instance is running")
        self.polls_in_flight += 1
        try:
            return await self._get_updates(p)
        finally:
            self.polls_in_flight -= 1

    async def _get_updates(self, p):
        offset = int(p.get("offset") or 0)
        timeout = min(float(p.get("timeout") or 0), 1.0)  # shortened so tests stop fast
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            self._new_update.clear()
            try:
                await asyncio.wait_for(self._new_update.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        limit = int(p.get("limit") or 100)
        return self._ok(self.updates[:limit])

    def _check_rate(self, chat_id: str):
        if not self.rate.hit():
            self.rate_violations.append("global")
            return self._recorded("error_429_too_many_requests")
        now = time.monotonic()
        last = self.last_to_chat.get(chat_id)
        if last is not None and now - last < self.chat_gap_s * 0.9:
            self.rate_violations.append(chat_id)
            return self._recorded("error_429_too_many_requests")
        self.last_to_chat[chat_id] = now
        return None

    @staticmethod
    def _plain(text: str, parse_mode: str | None):
        """The text as the user will see it, or an error string if the markup does not parse."""
        if parse_mode == "HTML":
            for m in _HTML_TAG.finditer(text):
                if m.group(2).lower() not in _ALLOWED_TAGS:
                    return None, f"Bad Request: can't parse entities: unsupported start tag \"{m.group(2)}\""
            plain = re.sub(r"<[^>]+>", "", text)
            return plain.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"), None
        if parse_mode == "MarkdownV2":
            return text, None
        return text, None

    def _check_markup(self, markup):
        if not markup:
            return None, None
        mk = json.loads(markup) if isinstance(markup, str) else markup
        for row in mk.get("inline_keyboard", []):
            for b in row:
                data = b.get("callback_data")
                if data is not None and not (1 <= len(data.encode()) <= 64):
                    return None, "Bad Request: BUTTON_DATA_INVALID"
                if not b.get("text"):
                    return None, "Bad Request: text buttons are unallowed in the inline keyboard"
        return mk, None

    async def _m_sendMessage(self, p):
        chat = str(p.get("chat_id"))
        if chat in self.blocked:
            return self._recorded("error_403_blocked")
        text, err = self._plain(p.get("text") or "", p.get("parse_mode"))
        if err:
            return self._error(400, err)
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        markup, err = self._check_markup(p.get("reply_markup"))
        if err:
            return self._error(400, err)
        limited = self._check_rate(chat)
        if limited:
            return limited
        msg = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat(chat),
               "from": self.bot_user, "text": text}
        if markup and "inline_keyboard" in markup:
            msg["reply_markup"] = markup
        self.sent.append({"method": "sendMessage", "chat_id": chat, "text": text, "raw_text": p.get("text"),
                          "parse_mode": p.get("parse_mode"), "reply_markup": markup, "message": msg,
                          "at": time.monotonic()})
        return self._ok(msg)

    async def _m_sendPhoto(self, p):
        chat = str(p.get("chat_id"))
        if chat in self.blocked:
            return self._recorded("error_403_blocked")
        photo = p.get("photo")
        if isinstance(photo, bytes) and len(photo) > 10 * 1024 * 1024:
            return self._error(400, "Bad Request: file is too big")
        caption, err = self._plain(p.get("caption") or "", p.get("parse_mode"))
        if err or len(caption) > 1024:
            return self._error(400, err or "Bad Request: message caption is too long")
        limited = self._check_rate(chat)
        if limited:
            return limited
        msg = {"message_id": next(self._message_ids), "date": int(time.time()), "chat": self._chat(chat),
               "from": self.bot_user, "photo": [{"file_id": "sentphoto", "file_unique_id": "sp", "width": 1,
                                                 "height": 1}], "caption": caption}
        self.sent.append({"method": "sendPhoto", "chat_id": chat, "text": caption, "message": msg,
                          "reply_markup": None, "at": time.monotonic()})
        return self._ok(msg)

    def _check_global(self):
        """Calls other than sends (answers, edits) count against the bot's 30/s too."""
        if not self.rate.hit():
            self.rate_violations.append("global")
            return self._recorded("error_429_too_many_requests")
        return None

    async def _m_answerCallbackQuery(self, p):
        limited = self._check_global()
        if limited:
            return limited
        if len(p.get("text") or "") > 200:
            return self._error(400, "Bad Request: MESSAGE_TOO_LONG")
        self.answers.append(p)
        return self._ok(True)

    async def _m_editMessageText(self, p):
        limited = self._check_global()
        if limited:
            return limited
        text, err = self._plain(p.get("text") or "", p.get("parse_mode"))
        if err:
            return self._error(400, err)
        self.edits.append({**p, "plain": text})
        return self._ok({"message_id": int(p.get("message_id") or 0), "date": int(time.time()),
                         "chat": self._chat(p.get("chat_id") or 1), "text": text})

    async def _m_editMessageReplyMarkup(self, p):
        self.edits.append(p)
        return self._ok(True)

    async def _m_getFile(self, p):
        fid = p.get("file_id")
        if fid not in self.files:
            return self._error(400, "Bad Request: invalid file_id")
        path, data = self.files[fid]
        return self._ok({"file_id": fid, "file_unique_id": "u" + fid, "file_size": len(data), "file_path": path})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        for path, data in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)


