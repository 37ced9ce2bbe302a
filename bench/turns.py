"""Conversation-turn throughput: our bot vs a Rasa-only baseline, side by side, on one SecantusDB server.

    .venv/bin/python bench/turns.py [--citizens 20] [--conversations 3] [--skip-rasa] [--profile]

One SecantusDB server (WiredTiger-style on-disk storage in a temp dir) serves every variant:

  ours+nlu     Engine.handle(..., inline=True) for N concurrent citizens, each filing K reports with buttons
               (payloads) for structured turns and free text for description/location/date; the real Rasa
               NLU model (ensure_model, cached under var/bench/nlu) on a loopback port.
  ours-nlu     the same with the NLU off (degraded mode: keywords, buttons, numbers).
  rasa+mongo   bench/rasa_baseline (DIET + RulePolicy + filing_form), `rasa run --enable-api`, tracker store
               `mongod` on the same server (db rasa_baseline), driven through POST /webhooks/rest/webhook.
  rasa-mem     the same model with the default in-memory tracker store.

Per variant: turns/s (wall clock over the timed phase), p50/p99 turn latency, NLU calls per turn, bytes
stored per conversation and the largest single document. For our bot every database command is
counted with a pymongo CommandListener, giving round-trips per turn by command name.
Results go to bench/results/turns.json (git-ignored). Everything binds 127.0.0.1; child processes are
stopped on exit.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import hashlib
import itertools
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ["RASA_TELEMETRY_ENABLED"] = "false"

import aiohttp  # noqa: E402
import bson  # noqa: E402
from pymongo import MongoClient, monitoring  # noqa: E402

BASELINE_DIR = REPO / "bench" / "rasa_baseline"
VAR = REPO / "var" / "bench"
RESULTS = REPO / "bench" / "results" / "turns.json"

# Free-text answers (the only turns that need understanding). Cycled so citizens do not all say the same.
DESCRIPTIONS = [
    "Jalan di depan SD Negeri 3 rusak parah dan berlubang besar, sudah ada motor yang jatuh",
    "Lampu penerangan jalan di sepanjang jalan utama kampung kami mati semua sejak minggu lalu",
    "Puskesmas tutup terus padahal masih jam buka, warga yang sakit harus pulang lagi",
    "Sampah menumpuk di pinggir sungai dan tidak pernah diangkut, baunya menyengat",
    "Pembuatan KTP elektronik sudah tiga bulan belum jadi padahal sudah rekam data",
    "Air PDAM tidak mengalir sudah lima hari di perumahan kami",
    "Guru honorer di sekolah kami belum menerima gaji selama empat bulan",
    "Jembatan penghubung antar desa ambruk dan belum diperbaiki sampai sekarang",
]
LOCATIONS = ["Jl. Merdeka No. 5, Kota Kupang", "Jl. Diponegoro, Kota Kendari", "Kelurahan Oebobo, Kota Kupang",
             "Jl. Sudirman, Kota Kendari"]
DATES = ["kemarin", "minggu lalu", "3 hari yang lalu"]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")


def proc_cpu(pid: int | None) -> float:
    """CPU seconds (user+system) a process has used so far; 0 if unknown."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


DB_PID: int | None = None


def cpu_snapshot(*pids: int | None) -> list[float]:
    return [proc_cpu(p) for p in pids]


def cpu_per_turn(before: list[float], after: list[float], names: list[str], turns: int) -> dict:
    return {n: round(1000 * (a - b) / max(1, turns), 2) for n, b, a in zip(names, before, after)}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --------------------------------------------------------------------------------------------- database
class DbCommands(monitoring.CommandListener):
    """Counts commands and their server time (as seen by the client) while ``on``."""

    def __init__(self):
        self.on = False
        self.counts: collections.Counter = collections.Counter()
        self.micros: collections.Counter = collections.Counter()
        self.max_written: collections.Counter = collections.Counter()

    def started(self, event):
        # largest document written per collection, taken from the commands themselves (no extra reads):
        # for the conversation state this is its size at every turn, not only at the end
        if not self.on or event.command_name not in ("insert", "update"):
            return
        coll = event.command.get(event.command_name)
        if event.command_name == "insert":
            docs = event.command.get("documents") or []
        else:
            docs = [u.get("u") for u in event.command.get("updates") or [] if isinstance(u.get("u"), dict)]
        for d in docs:
            size = len(bson.encode(d))
            if size > self.max_written[coll]:
                self.max_written[coll] = size

    def succeeded(self, event):
        if self.on:
            self.counts[event.command_name] += 1
            self.micros[event.command_name] += event.duration_micros

    def failed(self, event):
        if self.on:
            self.counts[event.command_name + "!"] += 1

    def reset(self):
        self.counts.clear()
        self.micros.clear()
        self.max_written.clear()


COMMANDS = DbCommands()
monitoring.register(COMMANDS)


# --------------------------------------------------------------------------------------------- our bot
async def run_ours(uri: str, db_name: str, nlu_url: str | None, citizens: int, conversations: int,
                   profile: bool) -> dict:
    from bot.app import Runtime
    from bot.config import Settings
    from bot.messages import Identity, InboundMessage

    settings = Settings(mongodb_uri=uri, lapor_db=db_name, rasa_url=nlu_url, lapor_data_dir=VAR / "runtime",
                        lapor_max_messages_per_minute=1_000_000, lapor_max_reports_per_day=1_000_000)
    rt = await Runtime(settings).start(http=False, nlu=bool(nlu_url))
    ids = itertools.count(1)
    lat: list[float] = []
    failures: list[str] = []
    filed = 0

    async def send(ident, text: str = "", payload: str | None = None, timed: bool = True):
        msg = InboundMessage(ident, f"b{next(ids)}", text=text, payload=payload,
                             kind="choice" if payload else "text")
        t0 = time.perf_counter()
        replies = await rt.engine.handle(msg, inline=True)
        if timed:
            lat.append(time.perf_counter() - t0)
        return replies

    def answer(replies, n: int) -> tuple[str, str | None] | None:
        """What a citizen answers to the bot's last question: buttons where the bot offers them."""
        for r in reversed(replies):
            t = r.template or ""
            payloads = [c.payload for c in r.choices]
            if t == "filing/ask_type":
                return "", "choice:pengaduan"
            if t == "filing/ask_description":
                return DESCRIPTIONS[n % len(DESCRIPTIONS)], None
            if t == "filing/ask_location":
                return LOCATIONS[n % len(LOCATIONS)], None
            if t == "filing/ask_region":
                return ("", payloads[0]) if payloads else ("Kota Kupang", None)
            if t == "filing/ask_date":
                return DATES[n % len(DATES)], None
            if t == "filing/ask_category":
                return ("", payloads[0]) if payloads else ("infrastruktur", None)
            if t == "filing/ask_agency":
                return "", "agency:auto"
            if t == "filing/ask_attachments":
                return "", "choice:lewati"
            if t == "filing/ask_privacy":
                return "", "choice:publik"
            if t == "filing/similar_found":
                return "", "similar:new"          # a new report, not support for an existing one
            if t == "filing/summary":
                return "", "confirm"
            if t == "filing/receipt":
                return None
            if payloads and any(p.startswith("confirm") or p.startswith("choice:ya") for p in payloads):
                return "", next(p for p in payloads if p.startswith("confirm") or p.startswith("choice:ya"))
        raise RuntimeError(f"unexpected question: {[r.template for r in replies]}")

    async def citizen(i: int, timed: bool, convs: int) -> None:
        nonlocal filed
        ident = Identity("console", f"{'w' if not timed else 'c'}{i}")
        await send(ident, "halo", timed=False)                 # first contact + consent: once per citizen,
        await send(ident, "", "consent:ya", timed=False)       # not part of a filing
        for k in range(convs):
            n = i * 7 + k
            try:
                replies = await send(ident, "lapor", timed=timed)
                for _ in range(16):
                    nxt = answer(replies, n)
                    if nxt is None:
                        filed += timed
                        break
                    replies = await send(ident, nxt[0], nxt[1], timed=timed)
                else:
                    failures.append(f"citizen {i} conversation {k}: not filed")
            except Exception as exc:  # noted, and the citizen starts a new filing ("lapor" restarts it)
                failures.append(f"citizen {i} conversation {k}: {type(exc).__name__}: {exc}"[:300])

    try:
        await asyncio.gather(*(citizen(i, False, 1) for i in range(min(4, citizens))))  # warm-up
        await rt.stores.db.command("ping")
        lat.clear()
        filed = 0
        for k in ("turns", "nlu_turns", "failures", "conflicts"):
            rt.engine.metrics[k] = 0
        nlu_calls0 = rt.nlu.calls
        COMMANDS.reset()
        COMMANDS.on = True
        prof = None
        if profile:
            import cProfile
            prof = cProfile.Profile()
            prof.enable()
        c0 = cpu_snapshot(os.getpid(), DB_PID)
        l0, t0 = load(), time.perf_counter()
        await asyncio.gather(*(citizen(i, True, conversations) for i in range(citizens)))
        wall = time.perf_counter() - t0
        c1 = cpu_snapshot(os.getpid(), DB_PID)
        if prof:
            prof.disable()
            prof.dump_stats(str(VAR / f"profile-{'nlu' if nlu_url else 'nonlu'}.pstats"))
        COMMANDS.on = False
        turns = rt.engine.metrics["turns"]
        res = {
            "turns": turns, "conversations": filed, "wall_s": round(wall, 3), "turns_per_s": turns / wall,
            "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * pct(lat, 0.99),
            "nlu_turns": rt.engine.metrics["nlu_turns"], "nlu_calls": rt.nlu.calls - nlu_calls0,
            "failures": rt.engine.metrics["failures"] + len(failures), "failure_notes": failures[:5],
            "conflicts": rt.engine.metrics["conflicts"], "load_before": l0, "load_after": load(),
            "db_commands_per_turn": {k: round(v / turns, 2) for k, v in sorted(COMMANDS.counts.items())},
            "db_ms_per_turn": {k: round(v / 1000 / turns, 2) for k, v in sorted(COMMANDS.micros.items())},
        }
        res["cpu_ms_per_turn"] = cpu_per_turn(c0, c1, ["bot", "database"], turns)
        res["db_round_trips_per_turn"] = round(sum(COMMANDS.counts.values()) / turns, 2)
        res["db_ms_per_turn_total"] = round(sum(COMMANDS.micros.values()) / 1000 / turns, 2)
        res.update(ours_sizes(uri, db_name, filed))
        res["max_written_doc_bytes_by_collection"] = dict(COMMANDS.max_written)
        # the state is written inside the contact (conv) since the conversations collection went
        res["conversation_doc_bytes_max"] = max(COMMANDS.max_written["conversations"], COMMANDS.max_written["contacts"])
        res["max_doc_bytes"] = max([res["max_doc_bytes"], *COMMANDS.max_written.values()])
        return res
    finally:
        COMMANDS.on = False
        await rt.stop()


def ours_sizes(uri: str, db_name: str, conversations: int) -> dict:
    """Bytes the timed citizens (user ids c*) left behind: contact, conversation state, messages, reports."""
    client = MongoClient(uri)
    try:
        db = client[db_name]
        contacts = list(db.contacts.find({"user_id": {"$regex": "^c"}}))
        ids = [c["_id"] for c in contacts]
        total = collections.Counter()
        biggest = collections.Counter()
        for name, query in (("contacts", {"_id": {"$in": ids}}), ("conversations", {"_id": {"$in": ids}}),
                            ("messages", {"contact_id": {"$in": ids}}), ("reports", {"contact_id": {"$in": ids}})):
            for doc in db[name].find(query):
                size = len(bson.encode(doc))
                total[name] += size
                biggest[name] = max(biggest[name], size)
        return {
            "bytes_per_conversation": sum(total.values()) / max(1, conversations),
            "bytes_per_conversation_by_collection": {k: round(v / max(1, conversations)) for k, v in total.items()},
            "max_doc_bytes": max(biggest.values() or [0]),
            "max_doc_bytes_by_collection": dict(biggest),
            "docs": {name: db[name].count_documents({}) for name in ("contacts", "conversations", "messages",
                                                                      "reports")},
        }
    finally:
        client.close()


# --------------------------------------------------------------------------------------------- Rasa
def rasa_exe() -> Path:
    from bot.nlu.rasa_server import rasa_bin
    return rasa_bin(REPO / ".venv-rasa")


def rasa_env() -> dict:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               SQLALCHEMY_SILENCE_UBER_WARNING="1")
    env.pop("PIP_CONSTRAINT", None)
    return env


def baseline_model() -> Path:
    """Train bench/rasa_baseline once per content hash; the model is cached under var/bench/rasa_baseline/."""
    h = hashlib.sha256()
    for f in sorted(BASELINE_DIR.rglob("*.yml")):
        if not f.name.startswith("endpoints"):
            h.update(str(f.relative_to(BASELINE_DIR)).encode() + b"\0" + f.read_bytes())
    name = f"baseline-{h.hexdigest()[:12]}"
    out = VAR / "rasa_baseline"
    model = out / f"{name}.tar.gz"
    if model.exists():
        return model
    out.mkdir(parents=True, exist_ok=True)
    print(f"[rasa] training baseline {name} (log {out / 'train.log'})", file=sys.stderr)
    t0 = time.monotonic()
    with open(out / "train.log", "w") as log:
        proc = subprocess.run([str(rasa_exe()), "train", "--data", "data", "--config", "config.yml",
                               "--domain", "domain.yml", "--out", str(out), "--fixed-model-name", name],
                              cwd=BASELINE_DIR, stdout=log, stderr=subprocess.STDOUT, env=rasa_env(), timeout=1200)
    if proc.returncode != 0 or not model.exists():
        raise RuntimeError(f"baseline training failed ({proc.returncode}); see {out / 'train.log'}")
    (out / f"{name}.seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
    print(f"[rasa] trained in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return model


class RasaProcess:
    """`rasa run --enable-api` on 127.0.0.1 in its own process group."""

    def __init__(self, model: Path, port: int, endpoints: Path | None, log_path: Path):
        self.url = f"http://127.0.0.1:{port}"
        cmd = [str(rasa_exe()), "run", "--enable-api", "-m", str(model), "-i", "127.0.0.1", "-p", str(port)]
        if endpoints:
            cmd += ["--endpoints", str(endpoints)]
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=rasa_env(),
                                     cwd=BASELINE_DIR, start_new_session=True)

    def wait_ready(self, timeout_s: float = 300) -> None:
        from bot.nlu.rasa_server import wait_until_ready

        wait_until_ready(self.proc, self.url, timeout_s, Path(self.log.name))

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self.log.close()


async def run_rasa(url: str, citizens: int, conversations: int, prefix: str, rasa_pid: int | None = None) -> dict:
    lat: list[float] = []
    problems: list[str] = []
    turns = 0
    filed = 0
    counting = False

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                     connector=aiohttp.TCPConnector(limit=citizens + 4)) as http:
        async def say(sender: str, text: str, timed: bool = True) -> list[dict]:
            nonlocal turns, counting
            t0 = time.perf_counter()
            async with http.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}) as r:
                body = await r.json(content_type=None)
                if r.status != 200:
                    raise RuntimeError(f"HTTP {r.status}: {body}")
            if timed:
                lat.append(time.perf_counter() - t0)
            if counting:  # every turn Rasa processed inside the timed window counts, as engine.metrics does
                turns += 1
            return body or []

        async def citizen(i: int, timed: bool, convs: int) -> None:
            nonlocal filed
            sender = f"{prefix}{'c' if timed else 'w'}{i}"
            await say(sender, "halo", timed=False)
            for k in range(convs):
                n = i * 7 + k
                # the same answers our bot gets; the form has no agency/attachments/summary steps
                script = ["lapor", "pengaduan", DESCRIPTIONS[n % len(DESCRIPTIONS)], LOCATIONS[n % len(LOCATIONS)],
                          DATES[n % len(DATES)], "infrastruktur", "publik"]
                out: list[dict] = []
                for text in script:
                    out = await say(sender, text, timed)
                if any("sudah kami terima" in (m.get("text") or "") for m in out):
                    filed += timed
                else:
                    problems.append(f"{sender}/{k}: last reply {out!r}"[:200])

        await asyncio.gather(*(citizen(i, False, 1) for i in range(min(4, citizens))))  # warm-up
        lat.clear()
        turns = 0
        filed = 0
        counting = True
        c0 = cpu_snapshot(rasa_pid, DB_PID, os.getpid())
        l0, t0 = load(), time.perf_counter()
        await asyncio.gather(*(citizen(i, True, conversations) for i in range(citizens)))
        wall = time.perf_counter() - t0
        c1 = cpu_snapshot(rasa_pid, DB_PID, os.getpid())
    return {"cpu_ms_per_turn": cpu_per_turn(c0, c1, ["rasa", "database", "driver"], turns),"turns": turns, "conversations": filed, "wall_s": round(wall, 3), "turns_per_s": turns / wall,
            "p50_ms": 1000 * statistics.median(lat), "p99_ms": 1000 * pct(lat, 0.99),
            "nlu_turns": turns, "nlu_calls": turns,  # Rasa runs the NLU pipeline on every message
            "failures": len(problems), "failure_notes": problems[:5], "load_before": l0, "load_after": load()}


def rasa_sizes(uri: str, db_name: str, prefix: str, conversations: int) -> dict:
    client = MongoClient(uri)
    try:
        sizes = [len(bson.encode(d)) for d in client[db_name].conversations.find({"sender_id": {"$regex": f"^{prefix}c"}})]
        events = [len(d.get("events", [])) for d in client[db_name].conversations.find(
            {"sender_id": {"$regex": f"^{prefix}c"}}, {"events": 1})]
        return {"bytes_per_conversation": sum(sizes) / max(1, conversations), "max_doc_bytes": max(sizes or [0]),
                "tracker_docs": len(sizes), "events_per_doc_max": max(events or [0])}
    finally:
        client.close()


# --------------------------------------------------------------------------------------------- probe
def db_probe(uri: str, n: int = 200) -> dict:
    """Sequential single-client latency (p50 ms) of the operations a turn is made of, on the same server."""
    client = MongoClient(uri)
    try:
        col = client["bench_probe"]["docs"]
        doc = {"flow": "filing", "step": "location", "slots": {"type": "pengaduan", "description": "x" * 120},
               "window": {"n": 3}, "version": 1}
        lat = collections.defaultdict(list)

        def timed(name, fn):
            t0 = time.perf_counter()
            fn()
            lat[name].append(time.perf_counter() - t0)

        ids = []
        for i in range(n):
            d = dict(doc, _id=i)
            timed("insert_one", lambda: col.insert_one(d))
            ids.append(i)
        for i in ids:
            timed("find_one", lambda: col.find_one({"_id": i}))
        for i in ids:
            timed("update_one", lambda: col.update_one({"_id": i, "version": 1}, {"$set": {"version": 2, "step": "d"}}))
        for i in range(n):
            pair = [dict(doc, _id=f"m{i}a"), dict(doc, _id=f"m{i}b")]
            timed("insert_many(2)", lambda: col.insert_many(pair))
        for i in ids[: n // 2]:
            timed("find_one_and_update", lambda: col.find_one_and_update({"_id": i}, {"$inc": {"version": 1}}))
        client.drop_database("bench_probe")
        return {k: round(1000 * statistics.median(v), 2) for k, v in lat.items()}
    finally:
        client.close()


# --------------------------------------------------------------------------------------------- main
def machine() -> dict:
    from bench.machine import cpu_model

    cpu = cpu_model()
    try:
        rasa_v = subprocess.run([str(rasa_exe()), "--version"], capture_output=True, text=True, env=rasa_env(),
                                timeout=120).stdout.split("\n")[0].split(":")[-1].strip()
    except Exception as exc:
        rasa_v = f"? ({type(exc).__name__})"
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cores": os.cpu_count(), "cpu": cpu,
            "load_avg": load(), "python": platform.python_version(), "rasa": rasa_v, "platform": platform.platform()}


def table(results: dict, baseline_key: str | None) -> str:
    cols = ["system", "turns/s", "p50 ms", "p99 ms", "NLU calls/turn", "bytes/conv", "max doc B", "ours/base"]
    rows = [cols]
    base = results.get(baseline_key, {}).get("turns_per_s") if baseline_key else None
    for name, r in results.items():
        if "turns_per_s" not in r:
            rows.append([name, "error: " + r.get("error", "?")[:60]] + [""] * 6)
            continue
        ratio = f"{r['turns_per_s'] / base:.2f}x" if base and name.startswith("ours") else ""
        rows.append([name, f"{r['turns_per_s']:.1f}", f"{r['p50_ms']:.1f}", f"{r['p99_ms']:.1f}",
                     f"{r['nlu_calls'] / max(1, r['turns']):.2f}",
                     f"{r['bytes_per_conversation']:.0f}" if "bytes_per_conversation" in r else "-",
                     f"{r['max_doc_bytes']}" if "max_doc_bytes" in r else "-", ratio])
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(cols))]
    return "\n".join("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--citizens", type=int, default=20)
    ap.add_argument("--conversations", type=int, default=3, help="filings per citizen (timed)")
    ap.add_argument("--skip-rasa", action="store_true", help="only our bot (no baseline)")
    ap.add_argument("--skip-nlu", action="store_true", help="our bot without the NLU variant")
    ap.add_argument("--no-rasa-memory", action="store_true", help="skip the in-memory Rasa variant")
    ap.add_argument("--profile", action="store_true", help="cProfile our bot's timed phase (var/bench/*.pstats)")
    ap.add_argument("--timeout", type=float, default=1500, help="seconds for the whole run")
    args = ap.parse_args()

    from bot.embedded_db import EmbeddedMongo
    from bot.embedded_db import free_port
    from bot.nlu.rasa_server import RasaServer, ensure_model

    VAR.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("benchmark timeout")))
    signal.alarm(int(args.timeout))
    info = machine()
    tmp = Path(tempfile.mkdtemp(prefix="bench-turns-"))
    db = EmbeddedMongo(tmp / "db", log_path=tmp / "db.log")
    results: dict = {}
    nlu_server = None
    rasa_procs: list[RasaProcess] = []
    base_key = None
    try:
        uri = db.start()
        global DB_PID
        DB_PID = db.proc.pid
        print(f"SecantusDB on disk at {tmp / 'db'} ({uri.split('/?')[0]})", file=sys.stderr)
        results_probe = db_probe(uri)
        info["db_op_p50_ms"] = results_probe
        # models first (training is not part of any measurement)
        nlu_model = None if args.skip_nlu else ensure_model(VAR)
        base_model = None if args.skip_rasa else baseline_model()

        if nlu_model:
            from bot.config import Settings
            nlu_server = RasaServer(Settings(lapor_data_dir=VAR))
            nlu_url = nlu_server.start_blocking(model=nlu_model, port=free_port())
            print("[ours+nlu] running", file=sys.stderr)
            results["ours+nlu"] = asyncio.run(run_ours(uri, "bench_nlu", nlu_url, args.citizens, args.conversations,
                                                       args.profile))
            nlu_server.stop_blocking()
            nlu_server = None
        print("[ours-nlu] running", file=sys.stderr)
        results["ours-nlu"] = asyncio.run(run_ours(uri, "bench_nonlu", None, args.citizens, args.conversations,
                                                   args.profile))

        if base_model:
            endpoints = VAR / "endpoints.yml"
            endpoints.write_text(f"tracker_store:\n  type: mongod\n  url: {uri}\n  db: rasa_baseline\n")
            variants = [("rasa+mongo", endpoints)] + ([] if args.no_rasa_memory else [("rasa-mem", None)])
            for name, ep in variants:
                print(f"[{name}] starting rasa run", file=sys.stderr)
                try:
                    p = RasaProcess(base_model, free_port(), ep, VAR / f"{name}.log")
                    rasa_procs.append(p)
                    p.wait_ready()
                    prefix = name.split("+")[0].split("-")[0] + ("m" if ep else "i")
                    r = asyncio.run(run_rasa(p.url, args.citizens, args.conversations, prefix, p.proc.pid))
                    if ep:
                        r.update(rasa_sizes(uri, "rasa_baseline", prefix, r["conversations"]))
                    results[name] = r
                except Exception as exc:
                    results[name] = {"error": f"{type(exc).__name__}: {exc}"}
                finally:
                    if rasa_procs:
                        rasa_procs.pop().stop()
            base_key = "rasa+mongo" if "turns_per_s" in results.get("rasa+mongo", {}) else None
    finally:
        signal.alarm(0)
        for p in rasa_procs:
            p.stop()
        if nlu_server:
            nlu_server.stop_blocking()
        db.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    info["load_avg_end"] = load()
    out = {"machine": info, "citizens": args.citizens, "conversations_per_citizen": args.conversations,
           "results": results}
    if base_key:
        b = results[base_key]["turns_per_s"]
        out["ratio_vs_rasa_mongo"] = {k: round(v["turns_per_s"] / b, 2) for k, v in results.items()
                                      if k.startswith("ours") and "turns_per_s" in v}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2, default=str) + "\n")

    print(f"\nTurn throughput, {args.citizens} concurrent citizens x {args.conversations} filings each, "
          f"one SecantusDB server (on disk), 127.0.0.1")
    print(f"machine: {info['cores']} cores, {info['cpu']}, Python {info['python']}, Rasa {info['rasa']}, "
          f"load {info['load_avg']} -> {info['load_avg_end']}, {info['date']}")
    print(f"SecantusDB single-op p50 ms (sequential, one client): {info.get('db_op_p50_ms')}")
    print(table(results, base_key))
    for name, r in results.items():
        if r.get("db_commands_per_turn"):
            print(f"{name}: {r['db_round_trips_per_turn']} DB round-trips/turn "
                  f"({r['db_ms_per_turn_total']} ms/turn client-observed) {r['db_commands_per_turn']}; "
                  f"conversation doc max {r['conversation_doc_bytes_max']} B; "
                  f"NLU turns {r['nlu_turns']}/{r['turns']}")
        if r.get("failures"):
            print(f"{name}: {r['failures']} failures {r.get('failure_notes')}")
        if r.get("cpu_ms_per_turn"):
            print(f"{name}: CPU ms/turn {r['cpu_ms_per_turn']}")
        if "events_per_doc_max" in r:
            print(f"{name}: {r['tracker_docs']} tracker docs, up to {r['events_per_doc_max']} events each")
    print(f"results: {RESULTS.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
