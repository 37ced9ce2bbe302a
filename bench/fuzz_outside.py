"""Fuzz from outside: hostile requests over real HTTP/WebSocket to a ``bot.cli run`` subprocess (its own
embedded database; WhatsApp, SMS and Telegram webhooks enabled against in-process fakes; a staff token set).

Every public endpoint is hit: WhatsApp (signed, unsigned, forged; the GET verification), SMS (signed, unsigned),
Telegram webhook (right, wrong and no secret), web chat (page, static, upload, WebSocket frames), the staff API
(with and without the token), Open311 ``/open311/v2/``, ``/publik``, ``/staff`` (login and other pages). Counts
answers >= 500 and connection errors per endpoint, then checks a normal citizen is still answered.
The generators are seeded (``--seed``), so a run can be repeated.

    .venv/bin/python -m bench.fuzz_outside --requests 10000
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import quote

import aiohttp

from bench.cluster import base_env, end_process, healthy, spawn_bot
from bot.embedded_db import free_port
from fakes import FakeGraph, FakeTelegram, WhatsAppDriver, form_body, twilio_signature

WA_SECRET = "fuzz-app-secret"
SMS_TOKEN = "fuzz-sms-token"
SMS_URL = "https://lapor.example.id/webhooks/sms"
TG_SECRET = "fuzz-tg-secret"
STAFF_TOKEN = "fuzz-staff-token-0123456789abcdef"
NASTY = ["", "\x00", "$where", "$gt", "a.b", "..", "../../etc/passwd", "%2F..%2F", "²", "٣", "-1", "9" * 20,
         "x" * 300, "{{ 7*7 }}", "{% raw %}", "<script>alert(1)</script>", "null", "NaN", "1e309", "🙂" * 50,
         "' OR 1=1 --", "\r\nX-Injected: 1", "halo", "lapor", "1", "0", "true", "[]", "{}"]
STAFF_PATHS = ["/api/v1/reports", "/api/v1/reports/{x}", "/api/v1/reports/{x}/transitions",
               "/api/v1/reports/{x}/attachments/{x}", "/api/v1/stats", "/api/v1/volunteers/invites",
               "/api/v1/handoffs", "/api/v1/handoffs/{x}/reply", "/api/v1/campaigns", "/api/v1/campaigns/{x}/stats",
               "/api/v1/openapi.json", "/api/v1/contacts/{x}/data", "/api/v1/contacts/{x}/erase"]
OPEN311_PATHS = ["/discovery.json", "/discovery.xml", "/services.json", "/services.xml", "/services/{x}.json",
                 "/requests.json", "/requests.xml", "/requests/{x}.json", "/requests/{x}.xml", "/{x}"]
PUBLIK_PATHS = ["/publik", "/publik/", "/publik/statistik", "/publik/laporan/{x}", "/publik/laporan/{x}/foto/{x}"]
STAFF_PAGES = ["/staff/login", "/staff/logout", "/staff/", "/staff/reports", "/staff/setup/{x}", "/staff/static/{x}",
               "/staff/{x}"]


class Gen:
    """Hostile values from a seeded ``random.Random``."""

    def __init__(self, seed: int):
        self.r = random.Random(seed)

    def text(self) -> str:
        r = self.r
        k = r.random()
        if k < 0.5:
            return r.choice(NASTY)
        if k < 0.8:
            return "".join(chr(r.choice([r.randint(0, 0x7f), r.randint(0x80, 0xffff), r.randint(0x10000, 0x10ffff)]))
                           for _ in range(r.randint(0, 40)))
        return "".join(r.choice("0123456789+-. ") for _ in range(r.randint(0, 25)))

    def value(self, depth: int = 0):
        r = self.r
        k = r.random()
        if depth < 4 and k < 0.15:
            return [self.value(depth + 1) for _ in range(r.randint(0, 4))]
        if depth < 4 and k < 0.3:
            return {self.text(): self.value(depth + 1) for _ in range(r.randint(0, 4))}
        return r.choice([None, True, False, r.randint(-2 ** 70, 2 ** 70), r.random() * 1e308, float("nan"),
                         float("inf"), self.text(), self.text()])

    def shaped(self, template):
        """``template`` with some values replaced by hostile ones, recursively."""
        if isinstance(template, dict):
            out = {k: (self.value() if self.r.random() < 0.25 else self.shaped(v)) for k, v in template.items()
                   if self.r.random() > 0.05}
            if self.r.random() < 0.1:
                out[self.text()] = self.value()
            return out
        if isinstance(template, list):
            return [self.shaped(v) for v in template]
        return self.value() if self.r.random() < 0.2 else template

    def raw(self) -> bytes:
        r = self.r
        k = r.random()
        if k < 0.2:
            return r.randbytes(r.randint(0, 300))
        if k < 0.3:
            n = r.randint(30, 6000)
            o, c = r.choice([("[", "]"), ('{"a":', "}")])
            return (o * n + c * n).encode()
        return json.dumps(self.value(), ensure_ascii=True).encode()

    def segment(self) -> str:
        return quote(self.text(), safe="", errors="replace") or "x"

    def query(self, names: list[str]) -> str:
        parts = [f"{quote(self.r.choice(names + [self.text()]), safe='', errors='replace')}="
                 f"{quote(self.text(), safe='', errors='replace')}" for _ in range(self.r.randint(0, 3))]
        return ("?" + "&".join(parts)) if parts else ""


def wa_template(wa: str, gen: Gen) -> dict:
    msg = {"from": wa, "id": f"wamid.F{gen.r.getrandbits(64):x}", "timestamp": str(int(time.time())), "type": "text",
           "text": {"body": "halo"}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "628111708", "phone_number_id": "1"},
        "contacts": [{"profile": {"name": "Budi"}, "wa_id": wa}], "messages": [msg]}}]}]}


def tg_template(gen: Gen) -> dict:
    chat = gen.r.randint(1, 2 ** 40)
    return {"update_id": gen.r.randint(1, 2 ** 31), "message": {
        "message_id": 1, "date": int(time.time()), "text": "halo", "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "F"}}}


class Fuzzer:
    def __init__(self, base: str, s: aiohttp.ClientSession, drv: WhatsAppDriver, gen: Gen):
        self.base, self.s, self.drv, self.gen = base, s, drv, gen
        self.status: dict[str, Counter] = defaultdict(Counter)
        self.errors: dict[str, Counter] = defaultdict(Counter)
        self.five: list[str] = []  # first few requests answered >= 500, for the report
        self.sent = 0
        self.unsendable: Counter = Counter()  # requests aiohttp refused to build (not sent, not counted as sent)

    async def request(self, name: str, method: str, path: str, **kw) -> None:
        try:
            async with self.s.request(method, self.base + path, **kw) as r:
                self.sent += 1
                await r.read()
                self.record(name, r.status, method, path)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self.sent += 1
            self.errors[name][type(exc).__name__] += 1

    def record(self, name: str, status: int, method: str = "", path: str = "") -> None:
        self.status[name][status] += 1
        if status >= 500 and len(self.five) < 20:
            self.five.append(f"{name} {method} {path[:120]} -> {status}")

    # one hostile request per endpoint family -----------------------------------------------------------
    async def whatsapp(self) -> None:
        g = self.gen
        k = g.r.random()
        body = json.dumps(g.shaped(wa_template("6281" + str(g.r.randint(10 ** 8, 10 ** 9)), g)),
                          ensure_ascii=True).encode() if k < 0.6 else g.raw()
        if g.r.random() < 0.7:
            self.sent += 1
            try:
                r = await self.drv.post({}, raw=body, forge=g.r.random() < 0.1)
                self.record("whatsapp signed", r.status, "POST", "/webhooks/whatsapp")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                self.errors["whatsapp signed"][type(exc).__name__] += 1
        elif g.r.random() < 0.7:
            await self.request("whatsapp unsigned", "POST", "/webhooks/whatsapp", data=body,
                               headers={"Content-Type": "application/json",
                                        "X-Hub-Signature-256": g.r.choice(["", "sha256=00", g.text()])
                                        .encode("ascii", "replace").decode()})
        else:
            await self.request("whatsapp verify", "GET", "/webhooks/whatsapp" + g.query(
                ["hub.mode", "hub.verify_token", "hub.challenge"]))

    async def sms(self) -> None:
        g = self.gen
        params = g.shaped({"MessageSid": "SM" + "%032x" % g.r.getrandbits(128), "From": "+62813" + str(
            g.r.randint(10 ** 6, 10 ** 7)), "To": "1708", "Body": "halo", "NumMedia": "0"})
        params = {str(k): str(v) for k, v in params.items()}
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        signed = g.r.random() < 0.7
        if signed:
            headers["X-Twilio-Signature"] = twilio_signature(SMS_TOKEN, SMS_URL, params)
        path = g.r.choice(["/webhooks/sms"] * 4 + ["/webhooks/sms/status"])
        await self.request("sms signed" if signed else "sms unsigned", "POST", path,
                           data=form_body({k: v.encode("utf-8", "replace") for k, v in params.items()}),
                           headers=headers)

    async def telegram(self) -> None:
        g = self.gen
        body = json.dumps(g.shaped(tg_template(g)), ensure_ascii=True).encode() if g.r.random() < 0.6 else g.raw()
        k = g.r.random()
        headers = {"Content-Type": "application/json"}
        if k < 0.6:
            headers["X-Telegram-Bot-Api-Secret-Token"] = TG_SECRET
        elif k < 0.8:
            headers["X-Telegram-Bot-Api-Secret-Token"] = g.text().encode("ascii", "replace").decode()[:200] or "x"
        await self.request("telegram " + ("secret" if k < 0.6 else "no/wrong secret"), "POST", "/webhooks/telegram",
                           data=body, headers=headers)

    async def webchat_http(self) -> None:
        g = self.gen
        k = g.r.random()
        if k < 0.3:
            await self.request("webchat page", "GET", "/webchat" + g.query(["lang", "v"]))
        elif k < 0.5:
            await self.request("webchat static", "GET", "/webchat/static/" + g.segment())
        else:
            form = aiohttp.FormData()
            form.add_field(g.r.choice(["file", "photo", g.text() or "f"]), g.raw(),
                           filename=g.text() or "a.jpg", content_type=g.r.choice(["image/jpeg", "text/html", "x/y"]))
            await self.request("webchat upload", "POST", "/webchat/upload", data=form)

    async def staff_api(self) -> None:
        g = self.gen
        method = g.r.choice(["GET", "GET", "POST", "PUT", "DELETE", "PATCH"])
        path = g.r.choice(STAFF_PATHS).replace("{x}", g.segment())
        auth = g.r.choice([f"Bearer {STAFF_TOKEN}"] * 6 + ["", "Bearer x", "Basic Zm9vOmJhcg=="])
        body = json.dumps(g.shaped({"to": "terverifikasi", "note": "x", "max_uses": 2, "text": "t", "name": "uji",
                                    "template": {"id": "Halo {{ contact.name }}"}, "close": True}),
                          ensure_ascii=True).encode() if g.r.random() < 0.6 else g.raw()
        await self.request("staff api " + ("token" if STAFF_TOKEN in auth else "no token"), method,
                           path + g.query(["status", "category", "region", "limit", "offset", "from", "to", "text"]),
                           data=body, headers={"Authorization": auth, "Content-Type": "application/json"})

    async def open311(self) -> None:
        g = self.gen
        method = g.r.choice(["GET", "GET", "POST", "PUT"])
        path = "/open311/v2" + g.r.choice(OPEN311_PATHS).replace("{x}", g.segment())
        data = None
        if method != "GET":
            data = form_body({str(k): str(v).encode("utf-8", "replace") for k, v in g.shaped(
                {"service_code": "001", "description": "jalan rusak", "lat": "-6.2", "long": "106.8",
                 "api_key": "x", "email": "a@b.c"}).items()})
        await self.request("open311", method, path + g.query(["service_code", "status", "start_date", "end_date",
                                                              "service_request_id", "jurisdiction_id"]),
                           data=data, headers={"Content-Type": "application/x-www-form-urlencoded"})

    async def publik(self) -> None:
        g = self.gen
        path = g.r.choice(PUBLIK_PATHS).replace("{x}", g.segment())
        await self.request("publik", g.r.choice(["GET"] * 5 + ["POST", "HEAD"]), path + g.query(
            ["page", "kategori", "status", "wilayah", "q", "lang"]))

    async def staff_pages(self) -> None:
        g = self.gen
        if g.r.random() < 0.6:
            fields = {str(k): str(v).encode("utf-8", "replace") for k, v in g.shaped(
                {"username": "admin", "password": "x", "csrf_token": "x", "next": "/staff/"}).items()}
            await self.request("staff login", "POST", "/staff/login", data=form_body(fields),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            await self.request("staff pages", g.r.choice(["GET", "POST"]),
                               g.r.choice(STAFF_PAGES).replace("{x}", g.segment()) + g.query(["next", "page"]))


async def ws_frames(base: str, gen: Gen, n: int, counts: Counter, fuzzer: Fuzzer) -> None:
    """``n`` hostile frames over web chat sockets (a fresh visitor every 50 frames)."""
    left = n
    while left > 0:
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
                async with s.get(base + "/webchat") as r:
                    await r.read()
                async with s.ws_connect(base + "/webchat/ws", heartbeat=None) as ws:
                    for _ in range(min(50, left)):
                        left -= 1
                        fuzzer.sent += 1
                        k = gen.r.random()
                        if k < 0.4:
                            await ws.send_str(json.dumps(gen.shaped(
                                {"type": gen.r.choice(["text", "choice", "location", "history"]), "id": "c1",
                                 "text": "halo", "payload": "consent:ya", "label": "Ya",
                                 "lat": -6.2, "lon": 106.8}), ensure_ascii=True))
                        elif k < 0.7:
                            await ws.send_str(gen.text().encode("utf-8", "replace").decode("utf-8"))
                        else:
                            await ws.send_bytes(gen.raw())
                        counts["frames"] += 1
                    await ws.send_json({"type": "text", "id": "final", "text": "halo"})
                    counts["sockets"] += 1
                    try:
                        while True:  # the socket stays usable: something comes back for the last frame
                            msg = await ws.receive(timeout=15)
                            if msg.type != aiohttp.WSMsgType.TEXT:
                                counts[f"closed by server ({msg.type.name})"] += 1
                                break
                            if json.loads(msg.data).get("type") in ("bot", "error"):
                                counts["answered after the frames"] += 1
                                break
                    except asyncio.TimeoutError:
                        counts["no answer after the frames"] += 1
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            fuzzer.errors["webchat ws"][type(exc).__name__] += 1


async def run(requests: int, seed: int, workdir: Path, concurrency: int) -> dict:
    graph = await FakeGraph(rate_per_s=10_000).start()
    telegram = await FakeTelegram(chat_gap_s=0, rate_per_s=10_000).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = base_env(workdir / "data", LAPOR_HTTP_PORT=port, LAPOR_STAFF_TOKEN=STAFF_TOKEN,
                   WHATSAPP_ACCESS_TOKEN=graph.token, WHATSAPP_APP_SECRET=WA_SECRET,
                   WHATSAPP_PHONE_NUMBER_ID=graph.phone_number_id, WHATSAPP_API_BASE_URL=graph.base_url,
                   SMS_AUTH_TOKEN=SMS_TOKEN, SMS_PUBLIC_URL=SMS_URL,
                   TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_BASE_URL=telegram.base_url,
                   TELEGRAM_MODE="webhook", TELEGRAM_WEBHOOK_SECRET=TG_SECRET)
    log = workdir / "bot.log"
    proc = spawn_bot(env, log)
    gen = Gen(seed)
    ws_counts: Counter = Counter()
    t0 = time.monotonic()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s, \
                WhatsAppDriver(graph, base, WA_SECRET) as drv:
            await healthy(port, proc=proc, log=log)
            f = Fuzzer(base, s, drv, gen)
            kinds = [f.whatsapp, f.whatsapp, f.sms, f.sms, f.telegram, f.telegram, f.webchat_http, f.staff_api,
                     f.staff_api, f.open311, f.open311, f.publik, f.staff_pages]
            n_ws = requests // 10  # a tenth of the requests are web chat frames
            queue: asyncio.Queue = asyncio.Queue()
            for _ in range(requests - n_ws):
                queue.put_nowait(gen.r.choice(kinds))

            async def worker():
                # refill what the client would not send, until the HTTP share has really gone out
                while not queue.empty() or f.sent - ws_counts["frames"] + queue.qsize() < requests - n_ws:
                    if queue.empty():
                        queue.put_nowait(gen.r.choice(kinds))
                    try:
                        await queue.get_nowait()()
                    except (ValueError, UnicodeError, TypeError) as exc:  # the client library would not send it
                        f.unsendable[type(exc).__name__] += 1
            await asyncio.gather(ws_frames(base, gen, n_ws, ws_counts, f), *(worker() for _ in range(concurrency)))
            elapsed = time.monotonic() - t0
            status, _ = await drv.text("6281299990777", "halo")  # a normal citizen, after all that
            try:
                await graph.wait_sent("6281299990777", 1, timeout=60)
                citizen = status == 200
            except (AssertionError, asyncio.TimeoutError):
                citizen = False
            alive = proc.poll() is None
    finally:
        end_process(proc)
        await graph.stop()
        await telegram.stop()
    text = log.read_text(errors="replace")
    return {"requests_sent": f.sent, "seconds": round(elapsed, 1), "seed": seed,
            "status_ge_500": sum(n for c in f.status.values() for code, n in c.items() if code >= 500),
            "connection_errors": sum(sum(c.values()) for c in f.errors.values()),
            "by_endpoint": {k: dict(sorted(v.items())) for k, v in sorted(f.status.items())},
            "errors_by_endpoint": {k: dict(v) for k, v in f.errors.items()}, "webchat_ws": dict(ws_counts),
            "unsendable": dict(f.unsendable), "first_5xx": f.five, "citizen_answered_at_end": citizen, "bot_alive_at_end": alive,
            "tracebacks_in_log": text.count("Traceback"), "log": str(log)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=None, help="kept after the run (default: a temp dir)")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lapor-fuzz-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(asyncio.run(run(args.requests, args.seed, workdir, args.concurrency)), indent=2))


if __name__ == "__main__":
    sys.exit(main())
