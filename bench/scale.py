"""WhatsApp webhook load on 1, 2, 3 ``laporbot run`` processes sharing one ``laporbot db``.

For each process count and each offered rate (messages/s, spread round-robin over the processes) for
``--seconds``: acknowledged p50/p99 (webhook POST answered), reply p50/p99 (post -> the fake Graph API
received the reply, both on this process's monotonic clock), messages answered, duplicates (replies beyond
one per message), database commands per turn (the server's opcounters, minus the idle rate measured before
the load), the bots' own round-trips per turn (the commands each bot process sent, counted by its PyMongo
command listener and read from its ``GET /metrics``, summed over the processes, minus their idle rate, divided
by the turns answered; also by command and collection, not idle-corrected) and CPU ms per turn (bot processes
and database server, from /proc).

Each message is "halo" from a citizen who has not consented yet: one turn, one reply (the consent question),
the cheapest full turn. A citizen writes again only every ``--pool-s`` seconds, so messages of one citizen
never overlap and replies are matched to messages by order.

    .venv/bin/python bench/scale.py                       # short: 20,50,100,200 msg/s x 1,2,3 processes, 5 s
    .venv/bin/python bench/scale.py --seconds 60 --json var/bench/scale.json
    .venv/bin/python bench/scale.py --mongodb-uri "mongodb://h1,h2,h3/?replicaSet=rs0&w=majority"
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402

from bench import machine as bench_machine  # noqa: E402
from bench.cluster import APP_SECRET, Cluster, cpu_ms  # noqa: E402
from fakes.whatsapp.driver import WhatsAppDriver  # noqa: E402
from fakes.whatsapp.server import FakeGraph  # noqa: E402

OPS = ("insert", "query", "update", "delete", "getmore", "command")


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000, 1)


def children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for c in (task / "children").read_text().split():
            out += [int(c), *children(int(c))]
    return out


async def db_ops(client) -> int:
    st = await client.admin.command("serverStatus")
    return sum(int(st["opcounters"].get(k, 0)) for k in OPS)


async def bot_commands(urls: list[str]) -> dict:
    """The bots' database commands so far (``GET /metrics``, bot/storage/roundtrips.py), summed over processes."""
    total, by = 0, {}
    async with aiohttp.ClientSession() as s:
        for u in urls:
            async with s.get(u + "/metrics") as r:
                counts = (await r.json())["db_commands"]
            total += counts["total"]
            for k, v in counts["by_command"].items():
                by[k] = by.get(k, 0) + v
    return {"total": total, "by_command": by}


def cpu(pids: list[int]) -> float:
    total = 0.0
    for p in pids:
        try:
            total += cpu_ms(p)
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


async def one_load(cluster: Cluster, graph: FakeGraph, client, rate: int, seconds: float, pool_s: float,
                   tag: str, drain_s: float) -> dict:
    urls = cluster.urls()
    drivers = [WhatsAppDriver(graph, u, APP_SECRET) for u in urls]
    for d in drivers:
        await d.__aenter__()
    n_msgs = int(rate * seconds)
    pool = max(1, int(rate * pool_s))
    wa = [f"628{tag}{i:06d}" for i in range(pool)]
    bot_pids = [b.pid for b in cluster.bots]
    db_pids = [cluster.db.pid, *children(cluster.db.pid)] if cluster.db is not None else []
    # idle database traffic (driver monitoring, leases, sweeps) measured first and subtracted
    ops0, rt0, t0 = await db_ops(client), await bot_commands(urls), time.monotonic()
    await asyncio.sleep(2.0)
    idle_ops_per_s = (await db_ops(client) - ops0 - 1) / (time.monotonic() - t0)
    idle_rt_per_s = ((await bot_commands(urls))["total"] - rt0["total"]) / (time.monotonic() - t0)
    ops_start, bot_cpu0, db_cpu0 = await db_ops(client), cpu(bot_pids), cpu(db_pids)
    rt_start = await bot_commands(urls)
    posts: dict[str, list[float]] = {w: [] for w in wa}
    acks: list[float] = []
    failed = 0
    start = time.monotonic()

    async def post(i: int) -> None:
        nonlocal failed
        w = wa[i % pool]
        payload, _ = drivers[0].message(w, "text", {"body": "halo"}, wamid=f"wamid.B{tag}{i:08d}")
        raw = json.dumps(payload).encode()
        t = time.monotonic()
        posts[w].append(t)
        try:
            resp = await drivers[i % len(drivers)].post(payload, raw=raw)
            if resp.status == 200:
                acks.append(time.monotonic() - t)
            else:
                failed += 1
        except aiohttp.ClientError:
            failed += 1

    tasks = []
    for i in range(n_msgs):
        due = start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(post(i)))
    await asyncio.gather(*tasks)
    offered_s = time.monotonic() - start
    # wait for the replies (bounded), then measure
    deadline = time.monotonic() + drain_s
    while time.monotonic() < deadline:
        if sum(min(len(posts[w]), len(graph.to(w))) for w in wa) >= n_msgs - failed:
            break
        await asyncio.sleep(0.1)
    ops = await db_ops(client) - ops_start - idle_ops_per_s * (time.monotonic() - start)
    rt_end = await bot_commands(urls)
    rts = rt_end["total"] - rt_start["total"] - idle_rt_per_s * (time.monotonic() - start)
    bot_cpu, db_cpu = cpu(bot_pids) - bot_cpu0, cpu(db_pids) - db_cpu0
    replies, answered, dupes = [], 0, 0
    for w in wa:
        got = graph.to(w)
        for t_post, m in zip(posts[w], got):
            replies.append(m["at"] - t_post)
        answered += min(len(posts[w]), len(got))
        dupes += max(0, len(got) - len(posts[w]))
    for d in drivers:
        await d.__aexit__(None, None, None)
    turns = max(1, answered)
    return {"processes": cluster.n, "rate": rate, "seconds": seconds, "offered_s": round(offered_s, 2),
            "messages": n_msgs, "acknowledged": len(acks), "not_acknowledged": failed,
            "ack_p50_ms": pct(acks, 50), "ack_p99_ms": pct(acks, 99),
            "reply_p50_ms": pct(replies, 50), "reply_p99_ms": pct(replies, 99),
            "answered": answered, "duplicates": dupes,
            "db_commands_per_turn": round(ops / turns, 2),
            "bot_roundtrips_per_turn": round(rts / turns, 2),
            "bot_roundtrips_by_command": {k: round(v / turns, 2) for k, v in sorted(
                ((k, v - rt_start["by_command"].get(k, 0)) for k, v in rt_end["by_command"].items()),
                key=lambda kv: -kv[1]) if v >= 0.01 * turns},
            "bot_cpu_ms_per_turn": round(bot_cpu / turns, 2),
            "db_cpu_ms_per_turn": round(db_cpu / turns, 2) if db_pids else None}


async def run(args) -> list[dict]:
    results = []
    for n in args.processes:
        graph = await FakeGraph(rate_per_s=args.provider_rate).start()
        with tempfile.TemporaryDirectory(prefix="lapor-scale-") as tmp:
            extra = {"LAPOR_DB": f"{args.db_name}_{n}"} if args.mongodb_uri else {}
            cluster = Cluster(Path(tmp) / "var", graph, n=n, WHATSAPP_RATE_PER_S=args.provider_rate, **extra)
            await cluster.start(args.mongodb_uri)
            client = AsyncMongoClient(cluster.uri)
            try:
                for rate in args.rates:
                    r = await one_load(cluster, graph, client, rate, args.seconds, args.pool_s,
                                       f"{n}{rate:03d}", args.drain_s)
                    results.append(r)
                    print(json.dumps(r), flush=True)
            finally:
                await client.close()
                await cluster.stop()
                await graph.stop()
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",")], default=[20, 50, 100, 200])
    ap.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--pool-s", type=float, default=3.0, help="each citizen writes once per this many seconds")
    ap.add_argument("--drain-s", type=float, default=120.0, help="how long to wait for the last replies")
    ap.add_argument("--provider-rate", type=float, default=1000.0,
                    help="the fake Graph API's and the bot's per-account send cap (msg/s)")
    ap.add_argument("--mongodb-uri", help="an existing MongoDB (e.g. a replica set) instead of laporbot db; "
                    "database CPU is then not measured")
    ap.add_argument("--db-name", default="lapor_bench", help="with --mongodb-uri: databases NAME_<processes>")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = asyncio.run(run(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": bench_machine.summary(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
