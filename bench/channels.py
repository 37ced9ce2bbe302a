"""WhatsApp channel benchmark: webhook acknowledgement latency and end-to-end reply latency.

    .venv/bin/python bench/channels.py [--rates 20,100] [--seconds 5] [--skip-nlu]

For each rate, a bounded open loop posts correctly signed WhatsApp webhooks (one citizen per message, who
already gave consent, writing free text "jalan di depan rumah saya rusak parah sejak minggu lalu" so the NLU
is called) to the bot's real HTTP server on 127.0.0.1 at that rate for ``--seconds`` seconds. Measured:
  ack  time from sending the POST to the webhook's 200 (signature check + inbox insert)
  e2e  time from sending the POST to the fake Graph API receiving the reply (turn + outbox + send at the
       account's 80 msg/s limit)
The database is the embedded SecantusDB (a fresh data directory); the NLU is the real Rasa model cached
under var/bench/nlu unless --skip-nlu. Everything runs on loopback; nothing leaves the machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import machine as bench_machine  # noqa: E402

SECRET = "bench-app-secret"


def machine() -> str:
    return bench_machine.summary()


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def start_nlu() -> tuple[object, str]:
    from bot.config import load_settings
    from bot.embedded_db import free_port
    from bot.nlu.rasa_server import RasaServer, ensure_model

    data = REPO / "var" / "bench"
    data.mkdir(parents=True, exist_ok=True)
    settings = load_settings(lapor_data_dir=data, rasa_url=None)
    server = RasaServer(settings)
    url = server.start_blocking(model=ensure_model(data), port=free_port())
    return server, url


async def run_rate(rt, graph, driver, rate: float, seconds: float, tag: str) -> dict:
    n = int(rate * seconds)
    acks: list[float] = []
    posted: dict[str, float] = {}
    statuses: list[int] = []
    interval = 1.0 / rate
    from bson import ObjectId

    from bot.messages import utcnow

    await rt.stores.db.contacts.insert_many([  # consented citizens, so the measured turn reaches the NLU
        {"_id": ObjectId(), "channel": "whatsapp", "user_id": f"62899{tag}{i:06d}", "name": "Warga",
         "language": "id", "consent": {"given": True, "at": utcnow()}, "tags": [], "created_at": utcnow(),
         "reachable": True} for i in range(n)])
    nlu0 = rt.nlu.calls if rt.nlu else 0
    t0 = time.monotonic()

    async def one(i: int):
        wa_id = f"62899{tag}{i:06d}"
        payload, _ = driver.message(wa_id, "text", {"body": "jalan di depan rumah saya rusak parah sejak minggu lalu"})
        start = time.monotonic()
        posted[wa_id] = start
        resp = await driver.post(payload)
        acks.append(time.monotonic() - start)
        statuses.append(resp.status)

    tasks = []
    for i in range(n):  # bounded open loop: send on schedule, whatever the answers do
        delay = t0 + i * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    send_span = time.monotonic() - t0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        got = {m["to"] for m in graph.sent if m["to"] in posted}
        if len(got) >= n:
            break
        await asyncio.sleep(0.05)
    first_reply: dict[str, float] = {}
    for m in graph.sent:
        if m["to"] in posted and m["to"] not in first_reply:
            first_reply[m["to"]] = m["at"]
    e2e = [first_reply[w] - posted[w] for w in first_reply]
    return {"rate": rate, "messages": n, "offered_span_s": round(send_span, 2),
            "non_200": sum(1 for s in statuses if s != 200), "replied": len(e2e),
            "ack_p50_ms": round(pct(acks, 50) * 1000, 1), "ack_p99_ms": round(pct(acks, 99) * 1000, 1),
            "e2e_p50_ms": round(pct(e2e, 50) * 1000, 1), "e2e_p99_ms": round(pct(e2e, 99) * 1000, 1),
            "e2e_max_ms": round(max(e2e) * 1000, 1) if e2e else None,
            "graph_rejected": len(graph.rejected), "nlu_calls": (rt.nlu.calls if rt.nlu else 0) - nlu0}


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="20,100")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--skip-nlu", action="store_true")
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bot.engine").setLevel(logging.WARNING)
    from bot.app import Runtime
    from bot.config import Settings
    from fakes import FakeGraph, WhatsAppDriver

    nlu_server, nlu_url = (None, None)
    if not args.skip_nlu:
        try:
            nlu_server, nlu_url = await asyncio.to_thread(start_nlu)
        except Exception as exc:  # no Rasa venv/model: say so and measure degraded mode
            print(f"[nlu] not available ({exc}); running with the NLU off", file=sys.stderr)
    graph = await FakeGraph().start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-channels-"))
    settings = Settings(mongodb_uri=None, lapor_data_dir=tmp, lapor_db="bench_channels", lapor_http_port=0,
                        rasa_url=nlu_url, whatsapp_access_token=graph.token, whatsapp_app_secret=SECRET,
                        whatsapp_verify_token="v", whatsapp_phone_number_id=graph.phone_number_id,
                        whatsapp_api_base_url=graph.base_url)
    rt = Runtime(settings)
    await rt.start(http=True, nlu=nlu_url is not None, sweep_interval_s=1.0)
    results = []
    try:
        async with WhatsAppDriver(graph, f"http://127.0.0.1:{rt.http_port}", SECRET) as driver:
            await run_rate(rt, graph, driver, 5, 1, "w")  # warm-up
            graph.sent.clear()
            graph.rejected.clear()
            for i, rate in enumerate(float(r) for r in args.rates.split(",")):
                res = await run_rate(rt, graph, driver, rate, args.seconds, f"{i}")
                results.append(res)
                graph.rejected.clear()
                await asyncio.sleep(1.0)
    finally:
        await rt.stop()
        await graph.stop()
        if nlu_server is not None:
            await asyncio.to_thread(nlu_server.stop_blocking)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"machine : {machine()}")
    print(f"database: embedded SecantusDB (fresh data dir) | NLU: {'Rasa ' + nlu_url if nlu_url else 'off (degraded)'}"
          f" | WhatsApp account limit {settings.whatsapp_rate_per_s:g} msg/s (fake Graph API enforces 80/s)")
    print(f"{'rate/s':>7} {'msgs':>5} {'non200':>6} {'replied':>7} {'ack p50':>8} {'ack p99':>8} "
          f"{'e2e p50':>8} {'e2e p99':>8} {'e2e max':>8} {'nlu':>5}")
    for r in results:
        print(f"{r['rate']:>7g} {r['messages']:>5} {r['non_200']:>6} {r['replied']:>7} {r['ack_p50_ms']:>6.1f}ms "
              f"{r['ack_p99_ms']:>6.1f}ms {r['e2e_p50_ms']:>6.1f}ms {r['e2e_p99_ms']:>6.1f}ms {r['e2e_max_ms']:>6}ms {r['nlu_calls']:>5}")
    out = REPO / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "channels.json").write_text(json.dumps({"machine": machine(), "nlu": bool(nlu_url), "results": results},
                                                  indent=2))


if __name__ == "__main__":
    asyncio.run(main())
