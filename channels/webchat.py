"""Web chat: ``GET /webchat`` (a small accessible page) and a WebSocket at ``/webchat/ws``.

- Identity: a visitor id in a signed cookie (HMAC-SHA256 with LAPOR_SECRET_KEY, or a random key created
  once under LAPOR_DATA_DIR/webchat.key), set when the page is served; the socket refuses connections
  without a valid cookie or from another origin.
- On connect the last messages are sent back (history restored on reload).
- Client frames (JSON objects, parsed by ``bot.untrusted``: a frame that is not one, or nests deeper than 4,
  gets ``{"type": "error", "text": "bad frame"}`` and the socket stays open): ``{"type": "text", "id", "text"}``, ``{"type": "choice", "id", "payload", "label"}``,
  ``{"type": "location", "id", "latitude", "longitude"}``, ``{"type": "file", "id", "upload", "text"}``,
  ``{"type": "lang", "lang"}``. ``id`` is made by the page, so a resent frame is deduplicated by the engine.
- Server frames: ``{"type": "history", "messages": [...]}``, ``{"type": "bot", "text", "choices",
  "request_location"}``, ``{"type": "error", "text"}``.
- Static files: ``GET /webchat/static/{name}`` serves only the files of ``channels/static`` by exact name.
- Uploads: ``POST /webchat/upload`` (multipart, one file ≤5 MB, JPEG/PNG/PDF checked by content) → GridFS.
- Notifications: the Sender pushes to the visitor's open sockets in this process; a process that holds a socket
  of the visitor pushes what another process sent (``channels/webchat_push.py``: it polls for them while it
  holds sockets and other processes are live). Nobody connected: they stay stored and appear with the history
  on the next visit.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from pathlib import Path

from aiohttp import BodyPartReader, WSMsgType, web
from bson import ObjectId
from bson.errors import InvalidId
from pymongo.errors import PyMongoError

from bot.engine import TurnFailed
from bot.kept_keys import kept_key
from bot.messages import Identity, InboundMessage, Location, Media, OutboundMessage
from bot.sending import Outcome, SendResult
from bot.untrusted import BadInput, clean_str, loads_object
from channels.base import Channel
from channels.webchat_push import CrossProcessPush, provider_id

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = frozenset(p.name for p in STATIC.iterdir() if p.is_file())
MAX_FRAME_DEPTH = 4  # frames are flat objects
COOKIE = "lapor_webchat"
COOKIE_MAX_AGE = 365 * 86400
MAX_UPLOAD = 5 * 1024 * 1024
MAX_FRAME = 64 * 1024
MAX_TEXT = 4000
ALLOWED = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",), "application/pdf": (b"%PDF-",)}


def sniff(data: bytes) -> str | None:
    for mime, magics in ALLOWED.items():
        if any(data.startswith(m) for m in magics):
            return mime
    return None


class WebChatSender:
    channel = "webchat"
    rate_per_s = 200.0
    per_chat_gap_s = 0.0

    def __init__(self, chan: "WebChatChannel"):
        self.chan = chan

    async def send(self, doc: dict) -> SendResult:
        delivered = await self.chan.push(doc["user_id"], self.chan.doc_frame(doc))
        # not connected here: a process holding the visitor's socket pushes it (it watches this provider id);
        # nobody connected: it stays stored and is shown with the history on the next visit
        return SendResult(Outcome.SENT, provider_id=provider_id(doc["user_id"], doc["_id"], delivered))


class WebChatChannel(Channel):
    name = "webchat"

    def __init__(self, runtime):
        super().__init__(runtime)
        self.settings = runtime.settings
        self.key = kept_key(self.settings, "webchat")
        self.sockets: dict[str, set[web.WebSocketResponse]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.cross = CrossProcessPush(self)  # pushes what other processes sent to this process's visitors

    async def stop(self) -> None:
        await self.cross.stop()

    @staticmethod
    def doc_frame(doc: dict) -> dict:
        """A stored outbound message as the frame a socket gets."""
        return {"type": "bot", "text": doc.get("text") or "", "choices": [
            {"payload": c["payload"], "label": c["label"]} for c in (doc.get("choices") or [])],
            "request_location": bool(doc.get("request_location")), "kind": doc.get("kind")}

    # ---------------------------------------------------------------- identity
    def sign(self, visitor: str) -> str:
        mac = hmac.new(self.key, visitor.encode(), hashlib.sha256).hexdigest()[:32]
        return f"{visitor}.{mac}"

    def visitor(self, request: web.Request) -> str | None:
        raw = request.cookies.get(COOKIE, "")
        visitor, _, mac = raw.partition(".")
        if not visitor or not mac or len(visitor) > 64:
            return None
        good = hmac.new(self.key, visitor.encode(), hashlib.sha256).hexdigest()[:32]
        return visitor if hmac.compare_digest(mac, good) else None

    def sender(self):
        return WebChatSender(self)

    # ---------------------------------------------------------------- routes
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/webchat", self.page)
        app.router.add_get("/webchat/ws", self.socket)
        app.router.add_post("/webchat/upload", self.upload)
        app.router.add_get("/webchat/static/{name}", self.static)

    async def static(self, request: web.Request) -> web.StreamResponse:
        """Only the page's own files, by exact name: no path is ever built from the request."""
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            return web.json_response({"error": "not found"}, status=404)
        return web.FileResponse(STATIC / name, headers={"X-Content-Type-Options": "nosniff"})

    async def page(self, request: web.Request) -> web.StreamResponse:
        resp = web.FileResponse(STATIC / "webchat.html", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data: blob:; "
                                       "style-src 'self'; script-src 'self'; frame-ancestors *"})
        if self.visitor(request) is None:
            resp.set_cookie(COOKIE, self.sign(uuid.uuid4().hex), max_age=COOKIE_MAX_AGE, httponly=True,
                            samesite="Lax", secure=request.secure, path="/webchat")
        return resp

    def _same_origin(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if not origin:
            return True  # non-browser clients
        return origin.split("://", 1)[-1] == request.host

    async def _contact(self, visitor: str) -> dict:
        return await self.runtime.stores.contacts.get_or_create(Identity("webchat", visitor),
                                                                self.settings.lapor_default_language)

    async def socket(self, request: web.Request) -> web.StreamResponse:
        visitor = self.visitor(request)
        if visitor is None or not self._same_origin(request):
            return web.json_response({"error": "no valid visitor cookie; open /webchat first"}, status=403)
        ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_FRAME)
        await ws.prepare(request)
        self.sockets.setdefault(visitor, set()).add(ws)
        try:
            self.cross.connected(visitor)  # before the history is read: nothing sent after it is missed
            await ws.send_json({"type": "history", "messages": await self.history(visitor)})
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = loads_object(msg.data, max_depth=MAX_FRAME_DEPTH)
                except BadInput:
                    await ws.send_json({"type": "error", "text": "bad frame"})
                    continue
                try:
                    await self.on_frame(visitor, frame, peer=request.remote)
                except PyMongoError as exc:  # the database is away: say so, keep the socket
                    log.warning("webchat frame not processed: database unavailable (%s)", type(exc).__name__)
                    await ws.send_json({"type": "error", "text": self.runtime.engine.failure_text("id")})
        finally:
            conns = self.sockets.get(visitor)
            if conns is not None:
                conns.discard(ws)
                if not conns:
                    self.sockets.pop(visitor, None)
                    self.cross.gone(visitor)
        return ws

    async def history(self, visitor: str) -> list[dict]:
        contact = await self.runtime.stores.contacts.find_by_identity("webchat", visitor)
        if contact is None:
            return []
        self.cross.known(visitor, contact["_id"])
        out = []
        for m in await self.runtime.stores.messages.history(contact["_id"], limit=50):
            text = m.get("text") or ""
            if m["direction"] == "in" and not text:
                media = m.get("media") or []
                text = "📎 " + (media[0].get("filename") or "") if media else ("📍" if m.get("location") else "")
            out.append({"dir": m["direction"], "text": text,
                        "choices": [{"payload": c["payload"], "label": c["label"]} for c in (m.get("choices") or [])],
                        "at": m["created_at"].isoformat() if m.get("created_at") else None})
        # buttons stay usable only on the last bot message
        for item in out[:-1]:
            item["choices"] = []
        return out

    async def push(self, visitor: str, frame: dict) -> bool:
        conns = list(self.sockets.get(visitor, ()))
        ok = False
        for ws in conns:
            try:
                await ws.send_json(frame)
                ok = True
            except (ConnectionError, RuntimeError):
                pass
        return ok

    async def on_frame(self, visitor: str, frame: dict, peer: str | None = None) -> None:
        kind = frame.get("type")
        mid = f"{visitor}:{str(frame.get('id') or uuid.uuid4().hex)[:64]}"
        ident = Identity("webchat", visitor)
        inbound = InboundMessage(ident, mid, peer=peer)  # peer: per-address limits (each visit is a new contact)
        if kind == "text":
            inbound.text = str(frame.get("text") or "")[:MAX_TEXT]
        elif kind == "choice":
            inbound.payload = str(frame.get("payload") or "")[:256]
            inbound.text = str(frame.get("label") or "")[:200]
            inbound.kind = "choice"
        elif kind == "location":
            try:
                lat, lon = float(frame["latitude"]), float(frame["longitude"])
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError("out of range")
            except (KeyError, TypeError, ValueError):
                return
            inbound.location, inbound.kind = Location(lat, lon), "location"
        elif kind == "file":
            media = await self._own_upload(visitor, frame.get("upload"))
            if media is None:
                await self.push(visitor, {"type": "error", "text": self._render("channels/file_failed", visitor)})
                return
            inbound.media, inbound.kind = [media], "media"
            inbound.text = str(frame.get("text") or "")[:MAX_TEXT]
        elif kind == "lang":
            lang = frame.get("lang")
            contact = await self.runtime.stores.contacts.find_by_identity("webchat", visitor)
            if lang not in ("id", "en") or contact is None or contact.get("language") == lang:
                return
            inbound.text = "english" if lang == "en" else "bahasa indonesia"
        else:
            return
        lock = self._locks.setdefault(visitor, asyncio.Lock())
        async with lock:
            try:
                replies = await self.runtime.engine.handle(inbound, inline=True)
            except TurnFailed:
                await self.push(visitor, {"type": "error", "text": self.runtime.engine.failure_text("id")})
                return
            finally:
                if not lock._waiters:  # noqa: SLF001
                    self._locks.pop(visitor, None)
        if replies:
            self.cross.known(visitor, replies[0].contact_id)
        for r in replies:
            await self.push(visitor, self.frame(r))

    @staticmethod
    def frame(r: OutboundMessage) -> dict:
        return {"type": "bot", "text": r.text, "choices": [{"payload": c.payload, "label": c.label} for c in r.choices],
                "request_location": r.request_location, "kind": r.kind}

    def _render(self, name: str, visitor: str | None, lang: str = "id", **ctx) -> str:
        return self.runtime.engine.renderer.render(name, lang, **ctx)

    async def _own_upload(self, visitor: str, upload_id) -> Media | None:
        try:
            oid = ObjectId(str(upload_id))
        except (InvalidId, TypeError):
            return None
        f = await self.runtime.stores.files.visitor_upload(oid, visitor)
        if f is None:
            return None
        mime = f["metadata"].get("mime_type")
        return Media("photo" if mime.startswith("image/") else "document", str(oid), mime, f.get("filename"),
                     f.get("length"), gridfs_id=oid)

    @staticmethod
    async def _read_file_part(request: web.Request) -> tuple[bytearray | None, str | None]:
        """The bytes (at most MAX_UPLOAD + 1) and name of the form part ``file``; (None, None) without one.
        Malformed multipart raises ValueError (or the like), which the caller answers with 400."""
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = bytearray()
                while len(data) <= MAX_UPLOAD and (chunk := await part.read_chunk(64 * 1024)):
                    data += chunk
                return data, part.filename
        return None, None

    async def upload(self, request: web.Request) -> web.Response:
        visitor = self.visitor(request)
        if visitor is None or not self._same_origin(request):
            return web.json_response({"error": "forbidden"}, status=403)
        contact = await self.runtime.stores.contacts.find_by_identity("webchat", visitor)
        lang = (contact or {}).get("language") or request.query.get("lang", "id")
        too_big = {"error": self._render("channels/file_too_large", visitor, lang, max_mb=MAX_UPLOAD // 2**20)}
        if request.content_length and request.content_length > MAX_UPLOAD + 64 * 1024:
            return web.json_response(too_big, status=413)
        try:
            data, filename = await self._read_file_part(request)
        except (ValueError, AssertionError, KeyError, RuntimeError, UnicodeDecodeError):
            return web.json_response({"error": "multipart form expected"}, status=400)
        if data is None:
            return web.json_response({"error": "no file"}, status=400)
        if len(data) > MAX_UPLOAD:
            return web.json_response(too_big, status=413)
        mime = sniff(bytes(data[:16]))
        if mime is None:
            return web.json_response({"error": self._render("channels/file_type", visitor, lang)}, status=415)
        name = clean_str(Path(filename or "lampiran").name[:120]) or "lampiran"
        fid = await self.runtime.stores.files.store(bytes(data), filename=name, mime_type=mime, channel="webchat",
                                                    ref=name, user_id=visitor, visitor=visitor)
        return web.json_response({"upload": str(fid), "filename": name, "mime_type": mime, "size": len(data)})
