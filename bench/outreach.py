"""Outreach broadcast benchmark: 5,000 contacts over the fake Telegram (30/s) and WhatsApp (80/s) servers.

    .venv/bin/python bench/outreach.py [--contacts 5000] [--skip-kill]
    .venv/bin/python bench/outreach.py --full-bot [--contacts 5000] [--signups 200]   (see bench/full_bot.py)

Everything runs on loopback: an embedded in-memory database, FakeTelegram and FakeGraph from
fakes/ (they answer 429 / 130429 above their caps). Phase 1 runs the campaign in this process
and measures achieved rate / cap per channel, rate-limit errors received, duplicates and the reply latency of
a citizen message sent mid-broadcast. Phase 2 runs ``laporbot campaign run`` as a subprocess, SIGKILLs it at
~50 % and runs it again: duplicates must stay 0 (messages in flight at the kill are 'interrupted', never resent).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bson import ObjectId  # noqa: E402
from pymongo import UpdateOne  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.embedded_db import EmbeddedMongo  # noqa: E402
from bot.messages import utcnow  # noqa: E402
from fakes import FakeGraph, FakeTelegram  # noqa: E402

WA_TEMPLATE = "lapor_status_update"


def _contacts(n: int, tag: str):
    """Split by channel rate (30:80) so both channels take about as long; WhatsApp half inside the window."""
    n_tg = round(n * 30 / 110)
    now = utcnow()
    docs, convs, inside = [], [], []
    for i in range(n):
        ch = "telegram" if i < n_tg else "whatsapp"
        uid = f"{7000000 + i}" if ch == "telegram" else f"62812{tag}{i:06d}"
        cid = ObjectId()
        docs.append({"_id": cid, "channel": ch, "user_id": uid, "name": f"Warga {i}", "language": "id" if i % 4 else "en",
                     "consent": {"given": True, "at": now}, "tags": [], "created_at": now, "reachable": True,
                     "subscription": {"status": "subscribed", "since": now - timedelta(days=2), "segment": "kampus",
                                      "institution": "Universitas Bench", "region": "16.71"}})
        if ch == "whatsapp" and i % 2 == 0:
            convs.append({"_id": cid, "last_inbound_at": now - timedelta(hours=2)})
            inside.append(uid)
    return docs, convs, inside


async def _seed(uri: str, db_name: str, n: int, fake_wa: FakeGraph, tag: str):
    from bot.storage import connect
    from outreach.campaigns import Campaign
    from outreach.dispatch import Outreach

    stores = await connect(uri, db_name)
    docs, convs, inside = _contacts(n, tag)
    t0 = time.monotonic()
    for i in range(0, len(docs), 1000):
        await stores.contacts.col.insert_many(docs[i:i + 1000], ordered=False)
    if convs:  # the conversation state lives in the contact (conv)
        await stores.contacts.col.bulk_write([UpdateOne({"_id": c["_id"]}, {"$set": {
            "conv.last_inbound_at": c["last_inbound_at"]}}) for c in convs], ordered=False)
    for uid in inside:
        fake_wa.last_inbound[uid] = time.time() - 7200
    out = Outreach(stores.db)
    await out.ensure_indexes()
    await out.campaigns.save(Campaign(
        name="bench", goal="Benchmark", template={"id": "Halo {{ contact.name }}, LAPOR! hadir di kampus Anda.",
                                                   "en": "Hi {{ contact.name }}, LAPOR! is on your campus."},
        audience={"segment": ["kampus"], "channel": ["telegram", "whatsapp"]},
        whatsapp_template={"name": WA_TEMPLATE, "params": ["{{ contact.name }}", "{{ campaign.goal }}"]}))
    seeded = time.monotonic() - t0
    await stores.close()
    return seeded


def _settings(uri, db_name, tg: FakeTelegram, wa: FakeGraph, data_dir: Path) -> dict:
    return {"mongodb_uri": uri, "lapor_db": db_name, "lapor_data_dir": str(data_dir),
            "telegram_bot_token": tg.token, "telegram_api_base_url": tg.base_url,
            "whatsapp_access_token": wa.token, "whatsapp_app_secret": "bench-app-secret-123456",
            "whatsapp_verify_token": "bench-verify", "whatsapp_phone_number_id": wa.phone_number_id,
            "whatsapp_api_base_url": wa.base_url, "whatsapp_notify_template": WA_TEMPLATE}


def _campaign_sends(tg: FakeTelegram, wa: FakeGraph):
    tg_s = [s for s in tg.sent if s["text"].startswith(("Halo", "Hi ")) and s["chat_id"] != "6999999"]
    wa_s = list(wa.sent)
    return tg_s, wa_s


def _report(title, tg, wa, t_tg, t_wa, extra="", wa_elapsed=None):
    tg_s, wa_s = _campaign_sends(tg, wa)
    dup_tg = sum(k - 1 for k in Counter(s["chat_id"] for s in tg_s).values() if k > 1)
    dup_wa = sum(k - 1 for k in Counter(m["to"] for m in wa_s).values() if k > 1)

    def rate(times):  # from the provider's own timestamps of the first and last send, like a provider counts
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
    r_tg, r_wa = rate(t_tg), rate(t_wa)
    if not t_wa and wa_elapsed:
        r_wa = len(wa_s) / wa_elapsed
    wa_limit = sum(1 for r in wa.rejected if r.get("code") == 130429)
    wa_131047 = sum(1 for r in wa.rejected if r.get("code") == 131047)
    print(f"\n== {title}")
    print(f"  telegram: {len(tg_s)} sent, {r_tg:5.1f}/s = {r_tg / 30:.2f} of 30/s cap, "
          f"rate-limit errors {len(tg.rate_violations)}, duplicates {dup_tg}")
    print(f"  whatsapp: {len(wa_s)} sent ({sum(1 for m in wa_s if m['type'] == 'template')} as template), "
          f"{r_wa:5.1f}/s = {r_wa / 80:.2f} of 80/s cap, rate-limit errors (130429) {wa_limit}, "
          f"131047 re-engagement {wa_131047}, duplicates {dup_wa}")
    if extra:
        print("  " + extra)
    return dup_tg + dup_wa


async def phase_inprocess(uri, n, data_dir) -> int:
    from bot.app import Runtime
    from outreach.dispatch import Dispatcher, ProgressLine

    tg = await FakeTelegram().start()
    wa = await FakeGraph(templates=(WA_TEMPLATE,)).start()
    # the fakes stamp sends; we keep our own times too
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    seeded = await _seed(uri, db_name, n, wa, "1")
    rt = Runtime(Settings(**_settings(uri, db_name, tg, wa, data_dir)))
    await rt.start(http=False, nlu=False, sweep_interval_s=1.0)
    try:
        from outreach.campaigns import CampaignStore

        c = await CampaignStore(rt.stores.db).get("bench")
        d = Dispatcher(rt, c)
        t0 = time.monotonic()
        task = asyncio.create_task(d.run(progress=ProgressLine()))
        # a citizen writes in the middle of the broadcast
        while len(tg.sent) < 150:
            await asyncio.sleep(0.05)
        citizen = "6999999"
        n_before = len(tg.to_chat(citizen))
        t_msg = time.monotonic()
        tg.text(citizen, "halo")
        while len(tg.to_chat(citizen)) <= n_before:
            await asyncio.sleep(0.01)
        latency = time.monotonic() - t_msg
        await task
        await rt.outbox.drain(30)
        elapsed = time.monotonic() - t0
        tg_s, wa_s = _campaign_sends(tg, wa)
        t_tg = sorted(s["at"] for s in tg_s)
        t_wa_count = len(wa_s)
        dups = _report(f"in-process broadcast of {n} contacts ({seeded:.1f}s to seed; {elapsed:.1f}s to send)",
                       tg, wa, t_tg, sorted(m["at"] for m in wa_s),
                       f"citizen reply latency during the broadcast: {latency * 1000:.0f} ms", wa_elapsed=elapsed)
        print(f"  whatsapp overall: {t_wa_count / elapsed:5.1f}/s over the whole run "
              f"(telegram {len(tg_s) / elapsed:5.1f}/s)")
        return dups
    finally:
        await rt.stop()
        await tg.stop()
        await wa.stop()


async def phase_kill(uri, n, data_dir) -> int:
    tg = await FakeTelegram().start()
    wa = await FakeGraph(templates=(WA_TEMPLATE,)).start()
    db_name = f"bench_{uuid.uuid4().hex[:8]}"
    await _seed(uri, db_name, n, wa, "2")
    env = {**os.environ, **{k.upper(): str(v) for k, v in _settings(uri, db_name, tg, wa, data_dir).items()}}
    env.pop("RASA_URL", None)
    # this checkout's code (the venv's ``laporbot`` script may import another checkout's installed package)
    cmd = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())",
           "campaign", "run", "bench", "--quiet"]
    env["PYTHONPATH"] = str(REPO)
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while len(tg.sent) + len(wa.sent) < n // 2:
            if p.poll() is not None:
                raise SystemExit("campaign run ended early:\n" + p.stderr.read().decode()[-3000:])
            await asyncio.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        at_kill = len(tg.sent) + len(wa.sent)
        t_kill = time.monotonic() - t0
        p2 = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await asyncio.to_thread(p2.communicate)
        if p2.returncode != 0:
            print(err.decode()[-3000:])
        total = time.monotonic() - t0
        from bot.storage import connect

        stores = await connect(uri, db_name)
        interrupted = await stores.messages.col.count_documents({"campaign": "bench", "status": "failed",
                                                                 "failure_reason": "interrupted"})
        stuck = await stores.messages.col.count_documents({"campaign": "bench", "status": "sending"})
        await stores.close()
        tg_s, wa_s = _campaign_sends(tg, wa)
        received = len({s["chat_id"] for s in tg_s}) + len({m["to"] for m in wa_s})
        # lost = never received by the fakes (claimed, not yet at the provider, at the kill); 'interrupted' also
        # counts sends that reached the provider but whose result was not yet stored (at most once: not resent)
        return _report(f"SIGKILL at {at_kill}/{n} sends ({t_kill:.1f}s), then resume ({total:.1f}s in all)", tg, wa,
                       sorted(s["at"] for s in tg_s), [],
                       f"delivered once: {received}/{n}; lost at the kill (never received, never resent): "
                       f"{n - received}; marked interrupted {interrupted + stuck} "
                       f"({interrupted + stuck - (n - received)} of them reached the provider)", wa_elapsed=total)
    finally:
        await tg.stop()
        await wa.stop()


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--contacts", type=int, default=5000)
    ap.add_argument("--skip-kill", action="store_true")
    ap.add_argument("--full-bot", action="store_true", help="run `laporbot run` as a subprocess (bench/full_bot.py)")
    ap.add_argument("--signups", type=int, default=200, help="--full-bot: contacts that sign up via the webhooks")
    args = ap.parse_args()
    data_dir = REPO / "var" / "bench-outreach"
    data_dir.mkdir(parents=True, exist_ok=True)
    server = EmbeddedMongo(":memory:")
    uri = server.start()
    try:
        if args.full_bot:
            from bench.full_bot import run_full_bot

            bad = await run_full_bot(uri, args.contacts, args.signups, data_dir, _seed, _contacts, WA_TEMPLATE)
            print(f"\nduplicates + opted-out hits: {bad} (must be 0)")
            return 0 if bad == 0 else 1
        dups = await phase_inprocess(uri, args.contacts, data_dir)
        if not args.skip_kill:
            dups += await phase_kill(uri, args.contacts, data_dir)
    finally:
        await server.astop()
    print(f"\nduplicates in all: {dups} (must be 0)")
    return 0 if dups == 0 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
