"""NLU throughput and latency: Rasa's /model/parse directly vs through the bot's NluClient.

    .venv/bin/python bench/nlu.py [--url URL] [--n 300] [--concurrency 1]

Without --url (or RASA_URL) it trains if needed and starts a temporary Rasa server on a free
loopback port (model cached under $LAPOR_DATA_DIR/nlu/, the same cache `laporbot run` uses). Texts are the held-out set's, cycled.
Prints one table with both columns side by side.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.nlu.client import NluClient  # noqa: E402


def _texts(n: int) -> list[str]:
    rows = [json.loads(x)["text"] for x in (REPO / "tests/nlu/heldout.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    return [rows[i % len(rows)] for i in range(n)]


async def _run(texts: list[str], concurrency: int, call) -> dict:
    lat: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(t: str) -> None:
        async with sem:
            t0 = time.perf_counter()
            await call(t)
            lat.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(t) for t in texts))
    wall = time.perf_counter() - t0
    lat.sort()
    return {"n": len(texts), "per_s": len(texts) / wall, "p50_ms": 1000 * statistics.median(lat),
            "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))]}


async def bench(url: str, n: int, concurrency: int) -> tuple[dict, dict, int]:
    texts = _texts(n)
    async with aiohttp.ClientSession() as http:
        async def direct(t: str) -> None:
            async with http.post(f"{url}/model/parse", json={"text": t}) as r:
                await r.json()

        await _run(texts[:20], 4, direct)  # warm-up
        d = await _run(texts, concurrency, direct)
    client = NluClient(url, timeout_s=30)
    try:
        c = await _run(texts, concurrency, client.parse)
        degraded = client.failures
    finally:
        await client.close()
    return d, c, degraded


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("RASA_URL"))
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=1)
    args = ap.parse_args()
    server = None
    url = args.url
    if not url:
        from bot.config import load_settings
        from bot.nlu.rasa_server import RasaServer

        server = RasaServer(load_settings(rasa_url=None))
        url = server.start_blocking(port=0)
    try:
        d, c, degraded = asyncio.run(bench(url, args.n, args.concurrency))
    finally:
        if server:
            server.stop_blocking()
    print(f"NLU parse benchmark: {args.n} texts, concurrency {args.concurrency}, {url}")
    print(f"{'':14}{'rasa direct':>14}{'NluClient':>14}")
    print(f"{'parses/s':14}{d['per_s']:>14.1f}{c['per_s']:>14.1f}")
    print(f"{'p50 ms':14}{d['p50_ms']:>14.1f}{c['p50_ms']:>14.1f}")
    print(f"{'p99 ms':14}{d['p99_ms']:>14.1f}{c['p99_ms']:>14.1f}")
    if degraded:
        print(f"warning: {degraded} client calls degraded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
