"""Soak: a steady mixed load (WhatsApp webhooks, SMS webhooks answered in TwiML, web chat over WebSocket) against
one ``bot.cli run`` process with its own embedded database, for ``--seconds`` (an hour by default).

Reports, per channel, messages acknowledged vs answered and duplicate answers; the resident memory (VmRSS from
/proc) of the bot and of the database process at the start, the peak and the end; and how many tracebacks the
bot's log holds. Every citizen sends one "halo" from a fresh number, which the bot answers with one message.

    .venv/bin/python -m bench.soak --seconds 120 --rate 6
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import aiohttp

from bench.cluster import base_env, end_process, healthy, spawn_bot
from bot.embedded_db import free_port
from fakes import FakeGraph, WhatsAppDriver, form_body, twilio_signature, wait_until

WA_SECRET = "soak-app-secret"
SMS_TOKEN = "soak-sms-token"
SMS_URL = "https://lapor.example.id/webhooks/sms"


def rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Load:
    """Counts per channel: sent, acknowledged (2xx / frame accepted), answered, duplicates, errors."""

    def __init__(self, base: str, drv: WhatsAppDriver, session: aiohttp.ClientSession):
        self.base, self.drv, self.s = base, drv, session
        self.stats = {ch: {"sent": 0, "acked": 0, "answered": 0, "duplicates": 0, "non_2xx": 0, "errors": 0}
                      for ch in ("whatsapp", "sms", "webchat")}
        self.wa_acked: list[str] = []
        self.n = 0

    def number(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n:07d}"

    async def whatsapp(self) -> None:
        st, wa = self.stats["whatsapp"], self.number("62812")
        st["sent"] += 1
        payload, _ = self.drv.message(wa, "text", {"body": "halo"})
        try:
            r = await self.drv.post(payload)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            st["errors"] += 1
            return
        if 200 <= r.status < 300:
            st["acked"] += 1
            self.wa_acked.append(wa)
        else:
            st["non_2xx"] += 1

    async def sms(self) -> None:
        st = self.stats["sms"]
        st["sent"] += 1
        params = {"MessageSid": f"SM{self.n:032d}", "From": "+" + self.number("62813"), "To": "1708", "Body": "halo"}
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": twilio_signature(SMS_TOKEN, SMS_URL, params)}
        try:
            async with self.s.post(self.base + "/webhooks/sms", data=form_body(params), headers=headers) as r:
                body = await r.text()
                if not 200 <= r.status < 300:
                    st["non_2xx"] += 1
                    return
        except (aiohttp.ClientError, asyncio.TimeoutError):
            st["errors"] += 1
            return
        st["acked"] += 1
        try:
            n = len(ET.fromstring(body).findall("Message"))
        except ET.ParseError:
            n = 0
        st["answered"] += n >= 1

    async def webchat(self) -> None:
        st = self.stats["webchat"]
        st["sent"] += 1
        try:  # a fresh visitor: its own cookie jar
            async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as s:
                async with s.get(self.base + "/webchat") as r:
                    await r.read()
                async with s.ws_connect(self.base + "/webchat/ws") as ws:
                    await ws.receive_json(timeout=30)  # history
                    await ws.send_json({"type": "text", "id": "m1", "text": "halo"})
                    st["acked"] += 1
                    bot = 0
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline:
                        try:
                            frame = await ws.receive_json(timeout=2 if bot else 30)
                        except (asyncio.TimeoutError, TypeError, ValueError):
                            break  # quiet for 2 s after the answer (or no answer in 30 s)
                        if frame.get("type") == "bot":
                            bot += 1
                    st["answered"] += bot >= 1
                    st["duplicates"] += bot > 1
        except (aiohttp.ClientError, asyncio.TimeoutError):
            st["errors"] += 1


async def soak(seconds: float, rate: float, workdir: Path) -> dict:
    graph = await FakeGraph(rate_per_s=10_000).start()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    data = workdir / "data"
    env = base_env(data, LAPOR_HTTP_PORT=port, WHATSAPP_ACCESS_TOKEN=graph.token, WHATSAPP_APP_SECRET=WA_SECRET,
                   WHATSAPP_PHONE_NUMBER_ID=graph.phone_number_id, WHATSAPP_API_BASE_URL=graph.base_url,
                   SMS_AUTH_TOKEN=SMS_TOKEN, SMS_PUBLIC_URL=SMS_URL)
    log = workdir / "bot.log"
    proc = spawn_bot(env, log)
    samples: list[dict] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s, \
                WhatsAppDriver(graph, base, WA_SECRET) as drv:
            await healthy(port, proc=proc, log=log)
            db_pid = json.loads((data / "db" / "server.json").read_text())["pid"]
            load = Load(base, drv, s)

            def sample():
                samples.append({"t": round(time.monotonic() - t0, 1), "bot_kb": rss_kb(proc.pid),
                                "db_kb": rss_kb(db_pid)})
            t0 = time.monotonic()
            sample()
            kinds = [load.whatsapp, load.sms, load.webchat]
            tasks: set[asyncio.Task] = set()
            i, next_sample = 0, t0 + 5
            while (now := time.monotonic()) < t0 + seconds:
                task = asyncio.create_task(kinds[i % len(kinds)]())
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                i += 1
                if now >= next_sample:
                    sample()
                    next_sample += 5
                await asyncio.sleep(1 / rate)
            if tasks:
                await asyncio.wait(tasks, timeout=60)
            st = load.stats["whatsapp"]
            try:
                await wait_until(lambda: all(graph.to(wa) for wa in load.wa_acked), timeout=60, interval=0.2)
            except AssertionError:
                pass
            await asyncio.sleep(2)  # a late duplicate would show by now
            st["answered"] = sum(1 for wa in load.wa_acked if graph.to(wa))
            st["duplicates"] = sum(1 for wa in load.wa_acked if len(graph.to(wa)) > 1)
            sample()
            alive = proc.poll() is None
    finally:
        end_process(proc)
        await graph.stop()
    text = log.read_text(errors="replace")

    def mem(key):
        vals = [x[key] for x in samples if x[key]]
        return {"start_kb": vals[0], "peak_kb": max(vals), "end_kb": vals[-1]} if vals else None
    return {"seconds": seconds, "rate_per_s": rate, "channels": load.stats, "bot_alive_at_end": alive,
            "rss": {"bot": mem("bot_kb"), "database": mem("db_kb")}, "tracebacks": text.count("Traceback"),
            "errors_logged": text.count(" ERROR "), "log": str(log)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3600)
    ap.add_argument("--rate", type=float, default=6.0, help="new citizens per second, over the three channels")
    ap.add_argument("--workdir", type=Path, default=None, help="kept after the run (default: a temp dir)")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="lapor-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(json.dumps(asyncio.run(soak(args.seconds, args.rate, workdir)), indent=2))


if __name__ == "__main__":
    sys.exit(main())
