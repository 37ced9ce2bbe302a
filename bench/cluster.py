"""Several ``laporbot run`` processes on one database, as separate OS processes: what the multi-process tests
(tests/scale/) and ``bench/scale.py`` drive. One ``laporbot db`` serves them all; the WhatsApp Graph API fake
runs in the caller's process and every bot is configured to send to it."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bot.embedded_db import free_port
from bot.processes import die_with_parent, log_tail

ROOT = Path(__file__).resolve().parents[1]
# ``laporbot`` as this checkout's code: the console script of a shared editable install would import the
# checkout it was installed from, not this one
LAPORBOT = (sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())")
APP_SECRET = "scale-app-secret"


def base_env(data_dir: Path, **extra) -> dict:
    """The caller's environment without any LAPOR!/provider settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONGODB_", "LAPOR_", "RASA_", "TELEGRAM_",
                                                                      "WHATSAPP_", "SMS_"))}
    env.update(LAPOR_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), **{k: str(v) for k, v in extra.items()})
    return env


class Cluster:
    """``laporbot db`` plus ``n`` bot processes with WhatsApp pointed at ``graph`` (a started FakeGraph)."""

    def __init__(self, data_dir: Path, graph, n: int = 3, *, log_dir: Path | None = None, **env):
        self.data_dir, self.graph, self.n = data_dir, graph, n
        self.log_dir = log_dir or data_dir
        self.env = env
        self.db = None
        self.uri: str | None = None
        self.bots: list = [None] * n
        self.ports = [free_port() for _ in range(n)]

    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def bot_env(self, i: int) -> dict:
        g = self.graph
        return base_env(self.data_dir, MONGODB_URI=self.uri, LAPOR_HTTP_PORT=self.ports[i],
                        WHATSAPP_ACCESS_TOKEN=g.token, WHATSAPP_APP_SECRET=APP_SECRET,
                        WHATSAPP_VERIFY_TOKEN="verify", WHATSAPP_PHONE_NUMBER_ID=g.phone_number_id,
                        WHATSAPP_API_BASE_URL=g.base_url, **self.env)

    async def start_db(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = await asyncio.create_subprocess_exec(
            *LAPORBOT, "db", env=base_env(self.data_dir), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            stderr=open(self.log_dir / "db.log", "ab"), stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)
        line = (await asyncio.wait_for(self.db.stdout.readline(), 90)).decode().strip()
        if not line.startswith("MONGODB_URI="):
            raise RuntimeError(f"laporbot db said {line!r}")
        self.uri = line.split("=", 1)[1]
        return self.uri

    async def start_bot(self, i: int) -> None:
        self.bots[i] = await asyncio.create_subprocess_exec(
            *LAPORBOT, "run", "--no-console", "--no-nlu", env=self.bot_env(i), cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=open(self.log_dir / f"bot{i}.log", "ab"),
            stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)
        await healthy(self.ports[i], proc=self.bots[i], log=self.log_dir / f"bot{i}.log")

    async def start(self, uri: str | None = None) -> "Cluster":
        """Start ``laporbot db`` and the bots, or only the bots on ``uri`` (an existing MongoDB)."""
        if uri:
            self.uri = uri
        else:
            await self.start_db()
        await asyncio.gather(*(self.start_bot(i) for i in range(self.n)))
        return self

    def kill(self, i: int) -> None:
        """kill -9: no drain, no cleanup."""
        self.bots[i].send_signal(signal.SIGKILL)

    async def stop(self) -> list[int | None]:
        codes = await asyncio.gather(*(stop_process(b) for b in self.bots if b is not None))
        if self.db is not None:
            await stop_process(self.db)
        return list(codes)

    def pids(self) -> dict[str, int]:
        out = {f"bot{i}": b.pid for i, b in enumerate(self.bots) if b is not None and b.returncode is None}
        if self.db is not None:
            out["db"] = self.db.pid
        return out


async def healthy(port: int, timeout_s: float = 120, proc=None, log: Path | None = None) -> dict:
    """The bot's /healthz once it answers 200. With ``proc`` (and its ``log``), a bot that exits stops the wait,
    and the error carries the end of its log."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as s:
        while time.monotonic() < deadline:
            rc = None if proc is None else (proc.poll() if hasattr(proc, "poll") else proc.returncode)
            if rc is not None:
                raise AssertionError(f"bot on port {port} exited with {rc}:\n{log_tail(log, 30)}")
            try:
                async with s.get(f"http://127.0.0.1:{port}/healthz") as r:
                    if r.status == 200:
                        return await r.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.3)
    raise AssertionError(f"bot on port {port} never became healthy:\n{log_tail(log, 30)}")


async def stop_process(proc, timeout_s: float = 40) -> int | None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(proc.wait(), timeout_s)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
    return proc.returncode


def end_process(proc: subprocess.Popen, timeout_s: float = 30) -> int | None:
    """SIGTERM a bot started with ``spawn_bot`` (or any ``Popen``), SIGKILL it if it has not exited in time."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def cpu_ms(pid: int) -> float:
    """User + system CPU time of a process (and its reaped children) from /proc, in milliseconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks * 1000.0 / os.sysconf("SC_CLK_TCK")


def spawn_bot(env: dict, log: Path) -> subprocess.Popen:
    """``bot.cli run --no-console --no-nlu`` from this checkout, its stderr appended to ``log``."""
    with open(log, "ab") as err:
        return subprocess.Popen([*LAPORBOT, "run", "--no-console", "--no-nlu"], cwd=ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                preexec_fn=die_with_parent)

