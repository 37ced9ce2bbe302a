"""``bench/outreach.py --full-bot``: the broadcast measured against the whole bot, ``laporbot run`` as a subprocess.

Loopback only: an embedded in-memory database (in this process, so it outlives the bot's SIGKILL), FakeTelegram
(30/s) and FakeGraph (80/s). Steps:
1. seed the audience (``--contacts`` minus the sign-ups) straight into the database; a few are opted out;
2. start ``laporbot run --no-nlu --no-console``; ``--signups`` new contacts sign up through the webhooks (half
   Telegram ``/start KAMPUS-UNSRI`` + "Setuju", half WhatsApp ``DAFTAR KAMPUS-UNSRI`` + "Setuju");
3. create the campaign through the staff API (``POST /api/v1/campaigns``, scheduled to start now);
4. while it runs, new citizens write "halo" on Telegram every 0.25 s and the time to the bot's answer is taken;
5. SIGKILL the bot at ~50 % of the audience, start it again, wait for the end.
Printed: rate/cap per channel before the kill and after the resume (from the fakes' receive timestamps),
rate-limit errors, duplicates, opted-out hits, lost at the kill, resume delay (bot healthy -> first campaign
send), citizen reply p50/p99.
"""
from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bot.embedded_db import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MARK = "[BENCH]"
STAFF_TOKEN = "bench-staff-token-0123456789"
SECRET = "bench-app-secret-123456"


def _env(uri, db_name, tg, wa, data_dir, port, wa_template) -> dict:
    env = {**os.environ, "MONGODB_URI": uri, "LAPOR_DB": db_name, "LAPOR_DATA_DIR": str(data_dir),
           "LAPOR_HTTP_PORT": str(port), "LAPOR_STAFF_TOKEN": STAFF_TOKEN,
           "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": tg.base_url,
           "WHATSAPP_ACCESS_TOKEN": wa.token, "WHATSAPP_APP_SECRET": SECRET, "WHATSAPP_VERIFY_TOKEN": "bench-verify",
           "WHATSAPP_PHONE_NUMBER_ID": wa.phone_number_id, "WHATSAPP_API_BASE_URL": wa.base_url,
           "WHATSAPP_NOTIFY_TEMPLATE": wa_template, "LAPOR_MAX_MESSAGES_PER_MINUTE": "1000"}
    env.pop("RASA_URL", None)
    return env


def _spawn(env, log_path: Path) -> subprocess.Popen:
    # this checkout's code: the venv's ``laporbot`` script may import another checkout's installed package
    cmd = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
           "run", "--no-nlu", "--no-console"]
    env = {**env, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=open(log_path, "ab"))


async def _healthy(session, port, proc, timeout=120.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("laporbot run exited early (see the log)")
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                if r.status == 200:
                    return time.monotonic()
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("laporbot run not healthy in time")


def _rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def _account_rate(every: list[float], campaign: list[float]) -> float:
    """All sends the provider received (campaign + replies) per second over the campaign's first-to-last span."""
    if len(campaign) < 2 or campaign[-1] <= campaign[0]:
        return 0.0
    n = sum(1 for t in every if campaign[0] <= t <= campaign[-1])
    return (n - 1) / (campaign[-1] - campaign[0])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


class _Watch:
    """The fakes' sends, read incrementally: campaign sends per channel and each other chat's first message."""

    def __init__(self, tg, wa, wa_template: str):
        self.tg_fake, self.wa_fake, self.wa_template = tg, wa, wa_template
        self.tg_i = self.wa_i = 0
        self.tg: list[dict] = []
        self.wa: list[dict] = []
        self.first_to: dict[str, float] = {}

    def poll(self) -> None:
        from fakes import FakeGraph

        sent = self.tg_fake.sent
        for s in sent[self.tg_i:]:
            if (s.get("text") or "").startswith(MARK):
                self.tg.append(s)
            else:
                self.first_to.setdefault(str(s["chat_id"]), s["at"])
        self.tg_i = len(sent)
        sent = self.wa_fake.sent
        for m in sent[self.wa_i:]:
            if m["type"] == "template" and m["template"]["name"] == self.wa_template \
                    or FakeGraph.text_of(m).startswith(MARK):
                self.wa.append(m)
        self.wa_i = len(sent)


async def run_full_bot(uri: str, n: int, signups: int, data_dir: Path, seed, contacts_fn, wa_template: str) -> int:
    from bot.storage import connect
    from fakes import FakeGraph, FakeTelegram
    from fakes.whatsapp.driver import WhatsAppDriver

    tg = await FakeTelegram().start()
    wa = await FakeGraph(templates=(wa_template,)).start()
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    seeded_n = max(0, n - signups)
    await seed(uri, db_name, seeded_n, wa, "3")
    docs, _c, _i = contacts_fn(seeded_n, "3")
    stores = await connect(uri, db_name)
    opted_users = {d["user_id"] for d in docs[::100]}  # 1 % opted out before the broadcast: must get nothing
    await stores.contacts.col.update_many({"user_id": {"$in": list(opted_users)}},
                                          {"$set": {"subscription.status": "opted_out"}})
    port = free_port()
    env = _env(uri, db_name, tg, wa, data_dir, port, wa_template)
    log_path = data_dir / "full-bot.log"
    tg_ids = [f"81{i:06d}" for i in range(signups // 2)]
    wa_ids = [f"62819{i:07d}" for i in range(signups - signups // 2)]
    citizens: list[float] = []
    proc = _spawn(env, log_path)
    try:
        async with aiohttp.ClientSession() as session, WhatsAppDriver(wa, f"http://127.0.0.1:{port}", SECRET) as drv:
            await _healthy(session, port, proc)
            # --- sign-ups through the webhooks (new contacts: the code is held through consent)
            t0 = time.monotonic()
            for chat in tg_ids:
                tg.text(chat, "/start KAMPUS-UNSRI")
            sem = asyncio.Semaphore(20)

            async def wa_signup(w):
                async with sem:
                    await drv.text(w, "DAFTAR KAMPUS-UNSRI")
                    await drv.button(w, "consent:ya", "Setuju")
            wa_jobs = asyncio.gather(*(wa_signup(w) for w in wa_ids))
            for chat in tg_ids:
                while not tg.to_chat(chat):
                    await asyncio.sleep(0.05)
                tg.press(chat, "consent:ya", tg.to_chat(chat)[0])
            await wa_jobs
            while await stores.contacts.col.count_documents({"subscription.code": "KAMPUS-UNSRI"}) < signups:
                if time.monotonic() - t0 > 120:
                    subs = await stores.contacts.col.find(
                        {"user_id": {"$in": tg_ids + wa_ids}}, {"subscription": 1, "consent": 1}).to_list(5)
                    print("sign-ups not all stored; e.g.", subs, file=sys.stderr)
                    break
                await asyncio.sleep(0.2)
            signed = await stores.contacts.col.count_documents({"subscription.code": "KAMPUS-UNSRI"})
            t_signup = time.monotonic() - t0
            audience = await stores.contacts.col.count_documents(
                {"subscription.status": "subscribed", "subscription.segment": "kampus",
                 "channel": {"$in": ["telegram", "whatsapp"]}})
            # --- the broadcast, created through the staff API and started by the scheduler
            from datetime import timedelta

            from bot.messages import utcnow

            body = {"name": "bench-full", "goal": "Benchmark",
                    "template": {"id": MARK + " Halo {{ contact.name }}, LAPOR! hadir di kampus Anda.",
                                 "en": MARK + " Hi {{ contact.name }}, LAPOR! is on your campus."},
                    "audience": {"segment": ["kampus"], "channel": ["telegram", "whatsapp"]},
                    "whatsapp_template": {"name": wa_template, "params": ["{{ contact.name }}", "{{ campaign.goal }}"]},
                    "schedule": {"start": (utcnow() - timedelta(seconds=1)).isoformat()}}
            auth = {"Authorization": f"Bearer {STAFF_TOKEN}"}
            async with session.post(f"http://127.0.0.1:{port}/api/v1/campaigns", json=body, headers=auth) as r:
                if r.status not in (200, 201):
                    raise SystemExit(f"campaign not created: {r.status} {await r.text()}")

            # the fakes run in this process and stamp each send when their handler runs: the bookkeeping below
            # reads only what arrived since its last look (rescanning thousands of sends every few milliseconds
            # delayed the fakes' own handlers and so their timestamps)
            watch = _Watch(tg, wa, wa_template)

            def tg_sends():
                watch.poll()
                return watch.tg

            def wa_sends():
                watch.poll()
                return watch.wa

            def total():
                watch.poll()
                return len(watch.tg) + len(watch.wa)

            async def citizen_probe(stop: asyncio.Event, tag: str):
                i = 0
                while not stop.is_set():
                    chat = f"9{tag}{i:05d}"
                    i += 1
                    t = time.monotonic()
                    tg.text(chat, "halo")
                    while chat not in watch.first_to and time.monotonic() - t < 30 and not stop.is_set():
                        await asyncio.sleep(0.005)
                        watch.poll()
                    if chat in watch.first_to:
                        citizens.append(watch.first_to[chat] - t)
                    await asyncio.sleep(0.25)

            stop_probe = asyncio.Event()
            probe = asyncio.create_task(citizen_probe(stop_probe, "1"))
            while not total():
                await asyncio.sleep(0.02)
            cpu0, t_cpu0 = _cpu_s(proc.pid), time.monotonic()
            while total() < audience // 2:
                if proc.poll() is not None:
                    raise SystemExit("laporbot run exited during the broadcast (see the log)")
                await asyncio.sleep(0.02)
            bot_cpu = (_cpu_s(proc.pid) - cpu0) / (time.monotonic() - t_cpu0)
            stop_probe.set()
            await probe
            tg_before = sorted(s["at"] for s in tg_sends())
            wa_before = sorted(m["at"] for m in wa_sends())
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            await asyncio.sleep(0.5)  # sends the dead process had in flight land now: they belong before the kill
            at_kill = total()
            respawn_at = time.monotonic()
            proc = _spawn(env, log_path)
            healthy_at = await _healthy(session, port, proc)
            while total() == at_kill and time.monotonic() - healthy_at < 180:
                await asyncio.sleep(0.02)
            resume_delay = time.monotonic() - healthy_at
            first_after = total()
            stop_probe = asyncio.Event()
            probe = asyncio.create_task(citizen_probe(stop_probe, "2"))
            last_change, last = time.monotonic(), total()
            while time.monotonic() - last_change < 15:  # settled: nothing new for 15 s
                await asyncio.sleep(0.2)
                if total() != last:
                    last, last_change = total(), time.monotonic()
            stop_probe.set()
            await probe
            tg_after = sorted(s["at"] for s in tg_sends() if s["at"] >= respawn_at)
            wa_after = sorted(m["at"] for m in wa_sends() if m["at"] >= respawn_at)
            tg_all, wa_all = tg_sends(), wa_sends()
            per_tg = Counter(str(s["chat_id"]) for s in tg_all)
            per_wa = Counter(m["to"] for m in wa_all)
            dups = sum(k - 1 for k in per_tg.values() if k > 1) + sum(k - 1 for k in per_wa.values() if k > 1)
            opted_hits = sum(1 for u in opted_users if per_tg.get(u) or per_wa.get(u))
            delivered = len(per_tg) + len(per_wa)
            wa_limit = sum(1 for r in wa.rejected if r.get("code") == 130429)
            print(f"\n== full bot (`laporbot run` subprocess), {audience} in the audience "
                  f"({signed}/{signups} signed up through the webhooks in {t_signup:.1f}s)")
            for name, before, after, cap, fake in (("telegram", tg_before, tg_after, 30, tg),
                                                   ("whatsapp", wa_before, wa_after, 80, wa)):
                rb, ra = _rate(before), _rate(after)
                every = [m["at"] for m in fake.sent]
                ab, aa = _account_rate(every, before), _account_rate(every, after)
                print(f"  {name}: before the kill {len(before)} sent, {rb:5.1f}/s = {rb / cap:.2f} of {cap}/s; "
                      f"after the resume {len(after)} sent, {ra:5.1f}/s = {ra / cap:.2f}")
                print(f"    the account's use of its cap over the same spans (campaign + replies to citizens): "
                      f"{ab / cap:.2f} before, {aa / cap:.2f} after")
            print(f"  bot process CPU during the broadcast before the kill: {bot_cpu * 100:.0f} % of one core")
            print(f"  rate-limit errors: telegram {len(tg.rate_violations)}, whatsapp (130429) {wa_limit}")
            print(f"  duplicates {dups}; opted-out hits {opted_hits} (of {len(opted_users)} opted out)")
            print(f"  delivered once {delivered}/{audience}; lost at the SIGKILL (never resent) {audience - delivered}")
            print(f"  resume delay (bot healthy -> first campaign send): {resume_delay:.1f}s "
                  f"(sends at kill {at_kill}, first after {first_after})")
            if citizens:
                print(f"  citizen reply during the broadcast: p50 {_pct(citizens, 0.5) * 1000:.0f} ms, "
                      f"p99 {_pct(citizens, 0.99) * 1000:.0f} ms (n={len(citizens)}, "
                      f"mean {statistics.mean(citizens) * 1000:.0f} ms)")
            return dups + opted_hits
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await stores.close()
        await tg.stop()
        await wa.stop()
