"""Embedded database CPU per command: SecantusDB as a single-node replica set (its default) vs ``--standalone``
(what ``bot/embedded_db.py`` runs), on the same small workload.

Each run starts a throw-away server, creates the two ``messages``-like indexes, and has ``--concurrency``
clients do ``--ops`` rounds of insert_one + update_one ($set on a nested path, upsert) + find_one. Prints
commands/s and the server's CPU ms per command (from /proc). Run: ``.venv/bin/python -m bench.db_ops``.
"""
from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

from pymongo import AsyncMongoClient

from bench.cluster import cpu_ms
from bot.embedded_db import _server_command, free_port


async def one_run(flags: list[str], rounds: int, concurrency: int) -> tuple[float, float]:
    port = free_port()
    proc = subprocess.Popen(_server_command() + ["--port", str(port), "--storage-path", ":memory:", *flags],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    client = AsyncMongoClient(f"mongodb://127.0.0.1:{port}/?directConnection=true", serverSelectionTimeoutMS=30000)
    try:
        await client.admin.command("ping")
        db = client["bench_db_ops"]
        await db.m.create_index("contact_id")
        await db.m.create_index([("status", 1), ("at", 1)])
        todo = iter(range(rounds))

        async def worker():
            for i in todo:
                await db.m.insert_one({"_id": i, "contact_id": i % 100, "status": "new", "at": i, "text": "x" * 200})
                await db.c.update_one({"_id": i % 100}, {"$set": {"conv.slots.a": i}, "$inc": {"n": 1}}, upsert=True)
                await db.c.find_one({"_id": i % 100})

        cpu0, t0 = cpu_ms(proc.pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        took, cpu = time.perf_counter() - t0, cpu_ms(proc.pid) - cpu0
        return 3 * rounds / took, cpu / (3 * rounds)
    finally:
        await client.close()
        proc.terminate()
        proc.wait()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=3000, help="rounds of insert + update + find")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    print(f"{args.ops} rounds x 3 commands, {args.concurrency} clients")
    for _ in range(args.repeat):
        for name, flags in (("replica set (default)", []), ("--standalone", ["--standalone"])):
            rate, cpu = await one_run(flags, args.ops, args.concurrency)
            print(f"{name:22s} {rate:7.0f} commands/s   server CPU {cpu:.3f} ms/command")


if __name__ == "__main__":
    asyncio.run(main())
