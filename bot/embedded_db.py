"""Embedded MongoDB-compatible server: SecantusDB run as a subprocess (never imported: GPL-2.0).

Used when MONGODB_URI is unset (``laporbot run``) and by the test suite. Data lives under
``$LAPOR_DATA_DIR/db`` and survives restarts; ``:memory:`` gives a throw-away server.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from bot.processes import die_with_parent, log_tail

log = logging.getLogger(__name__)
MIN_FREE_BYTES = 50 * 1024 * 1024
ADDRESS_FILE = "server.json"  # in the data directory while the server runs
# Connections per client in the URI the embedded server hands out: it runs each connection in a thread of one
# Python process, so a few connections keep its commands from contending for one interpreter; on a 2-core
# machine 4 answered a 70 msg/s WhatsApp load with lower reply latency and a little less server CPU per turn
# than the driver's default of 100 (docs/deploy.md). A real MongoDB's URI keeps the driver's default.
POOL_SIZE = 4


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port to listen on later, chosen below the kernel's ephemeral range: a port from that range can be
    taken by any outgoing connection (a driver's pool, say) between this check and the server's bind."""
    low, high = _ephemeral_range()
    rnd = random.SystemRandom()
    span = (20000, low) if low > 20100 else (high + 1, 65536) if high < 65000 else None
    for _ in range(50 if span else 0):
        port = rnd.randrange(*span)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_command() -> list[str]:
    exe = Path(sys.executable).with_name("secantusd-py")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the project (make run / make test)")
    return [found]


def running_uri(storage: Path | str) -> str | None:
    """The URI of an embedded server already serving ``storage`` (started by ``laporbot run`` or ``laporbot db``
    on this machine), found through the address file it keeps in its data directory; None if there is none
    or it no longer answers."""
    path = Path(storage) / ADDRESS_FILE
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    with socket.socket() as s:
        s.settimeout(1.0)
        if s.connect_ex(("127.0.0.1", int(info["port"]))) != 0:
            return None
    return str(info["uri"])


class EmbeddedMongo:
    """Start/stop one SecantusDB process. ``uri`` is ready once ``start()`` returns."""

    def __init__(self, storage: Path | str, port: int | None = None, log_path: Path | None = None):
        self.storage = str(storage)
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.state = "stopped"  # up | restarting | down | stopped
        self.restarts = 0

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true&maxPoolSize={POOL_SIZE}"

    def start(self, timeout_s: float = 30.0) -> str:
        self._preflight()
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            # --standalone: no replica-set advertisement, so no oplog entry and no retryable-write record per
            # write (nearly half the server's CPU per command, docs/performance.md); the bot uses neither change
            # streams nor transactions.
            _server_command() + ["--port", str(self.port), "--storage-path", self.storage, "--standalone"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
            preexec_fn=die_with_parent,
        )
        if out is not subprocess.DEVNULL:
            out.close()  # the child has its own copy
        deadline = time.monotonic() + timeout_s
        client = MongoClient(self.uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.describe_failure())
                try:
                    client.admin.command("ping")
                    self.state = "up"
                    self._publish()
                    return self.uri
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError(f"the embedded database did not answer within {timeout_s:.0f} s; "
                                           f"log: {self.log_path}") from None
                    time.sleep(0.2)
        finally:
            client.close()

    def _preflight(self) -> None:
        """Say plainly what is wrong with the data directory instead of a bare exit code."""
        if self.storage == ":memory:":
            return
        path = Path(self.storage)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RuntimeError(f"cannot create the database directory {path}: {exc.strerror}") from None
        if not os.access(path, os.W_OK):
            raise RuntimeError(f"the database directory {path} is not writable (read-only disk or permissions)")
        if shutil.disk_usage(path).free < MIN_FREE_BYTES:
            raise RuntimeError(f"the disk holding {path} is full (less than {MIN_FREE_BYTES >> 20} MB free)")

    def describe_failure(self) -> str:
        """Which process died, how, and where its log is (with the log's last lines)."""
        if self.proc is None:
            return "the embedded database was not started"
        rc = self.proc.poll()
        head = (f"the embedded database (pid {self.proc.pid}) exited with code {rc}" if rc is not None
                else f"the embedded database (pid {self.proc.pid}) is running but does not answer")
        where = f"; log: {self.log_path}" if self.log_path else ""
        tail = log_tail(self.log_path, 8)
        return head + where + (f"\n{tail}" if tail else "")

    async def supervise(self, check_s: float = 1.0, max_backoff_s: float = 30.0) -> None:
        """Restart the server on the same port and data directory when it dies, with back-off. The driver
        reconnects by itself; ``state`` tells /healthz what is going on."""
        backoff = 1.0
        while True:
            await asyncio.sleep(check_s)
            if self.proc is None or self.proc.poll() is None:
                continue
            self.restarts += 1
            self.state = "restarting"
            log.error("%s; restarting it (restart %d, next try in %.0f s if it fails)",
                      self.describe_failure().splitlines()[0], self.restarts, backoff)
            try:
                self.start()
            except (RuntimeError, OSError) as exc:
                self.state = "down"
                log.error("embedded database restart failed: %s", str(exc).splitlines()[0])
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, max_backoff_s)
                continue
            backoff = 1.0
            log.warning("embedded database restarted (pid %d)", self.proc.pid)

    # -- finding a running server ------------------------------------------------------------------
    @property
    def address_file(self) -> Path | None:
        return None if self.storage == ":memory:" else Path(self.storage) / ADDRESS_FILE

    def _publish(self) -> None:
        """Tell other processes on this machine (CLI commands, more bot processes) where the server is."""
        if self.address_file:
            self.address_file.write_text(json.dumps({"uri": self.uri, "pid": self.proc.pid, "port": self.port}))

    def _unpublish(self) -> None:
        if self.address_file:
            self.address_file.unlink(missing_ok=True)

    def stop(self, timeout_s: float = 10.0) -> None:
        self._unpublish()
        self.state = "stopped"
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

