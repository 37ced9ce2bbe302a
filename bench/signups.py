"""Sign-up benchmark: new contacts register by keyword through the WhatsApp webhook (issue 18: >= 50/s).

    .venv/bin/python bench/signups.py [--contacts 1000] [--concurrency 50] [--profile FILE]

Everything on loopback: an embedded database on disk (a temporary directory under var/, as ``make run``
keeps its data), the fake Graph API (fakes/) and the full runtime with its HTTP server. Each new contact posts ``DAFTAR KAMPUS-UNSRI`` (held while consent is asked) and then presses
"Setuju"; a sign-up counts when the contact is stored as subscribed with the code's attribution. Prints
sign-ups per second (processing: from the first post to the last subscription stored, by that
subscription's own ``since`` time; progress is polled once a second) and the database
commands per sign-up, by command name (PyMongo command monitoring), the CPU per sign-up of this process (bot,
fake and driver) and of the database process, and the event loop's lag, to show where the time goes.
``--profile FILE`` writes a cProfile of this process during the sign-ups (read it with ``pstats``).
"""
from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pymongo import monitoring  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.messages import utcnow  # noqa: E402
from bot.embedded_db import EmbeddedMongo  # noqa: E402
from fakes import FakeGraph  # noqa: E402
from fakes.whatsapp.driver import WhatsAppDriver  # noqa: E402

SECRET = "bench-app-secret-123456"
CODE = "KAMPUS-UNSRI"
POLL = "bench-poll"  # the benchmark's own progress queries, left out of the counts


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoopLag:
    """How late a 10 ms sleep wakes up: the event loop's queueing delay."""

    def __init__(self):
        self.samples: list[float] = []
        self.task = None

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            t = loop.time()
            await asyncio.sleep(0.01)
            self.samples.append(loop.time() - t - 0.01)

    def start(self):
        self.task = asyncio.ensure_future(self._run())

    def stop(self) -> str:
        self.task.cancel()
        s = sorted(self.samples) or [0.0]
        return (f"event-loop lag: p50 {s[len(s) // 2] * 1000:.0f} ms, p99 {s[int(len(s) * 0.99)] * 1000:.0f} ms, "
                f"max {s[-1] * 1000:.0f} ms")


class CommandCounter(monitoring.CommandListener):
    def __init__(self):
        self.counts: Counter = Counter()
        self.micros: Counter = Counter()
        self.on = False
        self.keys: dict = {}

    def started(self, event):
        if self.on and event.command.get("comment") != POLL:
            coll = event.command.get(event.command_name)
            key = f"{event.command_name} {coll if isinstance(coll, str) else ''}"
            self.counts[key] += 1
            self.keys[event.request_id] = key

    def succeeded(self, event):
        key = self.keys.pop(event.request_id, None)
        if key:
            self.micros[key] += event.duration_micros

    def failed(self, event):
        pass


async def run(n: int, concurrency: int, data_dir: Path, profile: str | None = None) -> float:
    from bot.app import Runtime

    counter = CommandCounter()
    monitoring.register(counter)
    server = EmbeddedMongo(data_dir / "db")
    uri = server.start()
    wa = await FakeGraph().start()
    s = Settings(mongodb_uri=uri, lapor_db=f"bench_{uuid.uuid4().hex[:8]}", lapor_data_dir=str(data_dir),
                 lapor_http_port=0, whatsapp_access_token=wa.token, whatsapp_app_secret=SECRET,
                 whatsapp_verify_token="bench-verify", whatsapp_phone_number_id=wa.phone_number_id,
                 whatsapp_api_base_url=wa.base_url, lapor_max_messages_per_minute=1000)
    rt = Runtime(s)
    await rt.start(http=True, nlu=False, sweep_interval_s=1.0)
    try:
        out = rt.outreach
        await out.ensure_indexes()
        await out.campaigns.sync_files(out.codes)
        contacts = rt.stores.contacts.col
        ids = [f"62813{i:07d}" for i in range(n)]
        sem = asyncio.Semaphore(concurrency)
        async with WhatsAppDriver(wa, f"http://127.0.0.1:{rt.http_port}", SECRET) as drv:
            async def one(wa_id: str):
                async with sem:
                    st, _ = await drv.text(wa_id, f"DAFTAR {CODE}")
                    assert st == 200, st
                    st, _ = await drv.button(wa_id, "consent:ya", "Setuju")
                    assert st == 200, st

            counter.on = True
            lag, prof = LoopLag(), cProfile.Profile() if profile else None
            lag.start()
            cpu0, db0 = time.process_time(), proc_cpu_s(server.proc.pid)
            if prof:
                prof.enable()
            t0, wall0 = time.monotonic(), utcnow()
            await asyncio.gather(*(one(w) for w in ids))
            posted = time.monotonic() - t0
            deadline = time.monotonic() + 600
            # a count scans every subscribed contact: polled once a second (not to load the database), and the
            # end is the last subscription's own time (``since``, set by the turn that stores it)
            while True:
                done = await contacts.count_documents({"subscription.status": "subscribed",
                                                       "subscription.code": CODE}, comment=POLL)
                if done >= n or time.monotonic() > deadline:
                    break
                await asyncio.sleep(1.0)
            last = await contacts.find_one({"subscription.code": CODE}, {"subscription.since": 1},
                                           sort=[("subscription.since", -1)], comment=POLL)
            elapsed = (last["subscription"]["since"] - wall0).total_seconds() if last else time.monotonic() - t0
            if prof:
                prof.disable()
                prof.dump_stats(profile)
            cpu, db_cpu = time.process_time() - cpu0, proc_cpu_s(server.proc.pid) - db0
            counter.on = False
            lag_line = lag.stop()
        rate = done / elapsed
        print(f"sign-ups: {done} of {n} subscribed with the code in {elapsed:.1f} s = {rate:.1f}/s "
              f"(posts took {posted:.1f} s; concurrency {concurrency})")
        print(f"CPU per sign-up: this process (bot + fake + driver) {cpu / max(1, done) * 1000:.1f} ms, "
              f"database process {db_cpu / max(1, done) * 1000:.1f} ms; {lag_line}")
        per = {k: v / max(1, done) for k, v in counter.counts.most_common()}
        total = sum(counter.counts.values()) / max(1, done)
        print(f"database commands per sign-up (2 webhook posts each, replies included): {total:.1f}")
        for k, v in per.items():
            print(f"  {k:>36}: {v:5.2f} per sign-up, {counter.micros[k] / max(1, counter.counts[k]) / 1000:6.2f} ms each")
        return rate
    finally:
        await rt.stop()
        await wa.stop()
        await server.astop()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--profile", help="write a cProfile of this process during the sign-ups to this file")
    args = ap.parse_args()
    (REPO / "var").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=REPO / "var", prefix="bench-signups-") as tmp:
        rate = asyncio.run(run(args.contacts, args.concurrency, Path(tmp), args.profile))
    return 0 if rate >= 50 else 1


if __name__ == "__main__":
    raise SystemExit(main())
