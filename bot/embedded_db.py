"""Embedded MongoDB-compatible server: SecantusDB run as a subprocess (never imported: GPL-2.0).

Used when MONGODB_URI is unset (``laporbot run``) and by the test suite. Data lives under
``$LAPOR_DATA_DIR/db`` and survives restarts; ``:memory:`` gives a throw-away server.
"""
from __future__ import annotations

import asyncio
import logging
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """preexec_fn: on Linux, the child gets SIGTERM when its parent dies (even by SIGKILL), so no server
    outlives a killed bot or test run."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _server_command() -> list[str]:
    exe = Path(sys.executable).with_name("secantusd-py")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError("secantusd-py not found: install the project (make run / make test)")
    return [found]


class EmbeddedMongo:
    """Start/stop one SecantusDB process. ``uri`` is ready once ``start()`` returns."""

    def __init__(self, storage: Path | str, port: int | None = None, log_path: Path | None = None):
        self.storage = str(storage)
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def start(self, timeout_s: float = 30.0) -> str:
        if self.storage != ":memory:":
            Path(self.storage).mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            _server_command() + ["--port", str(self.port), "--storage-path", self.storage],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches us, and we stop it in order
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout_s
        client = MongoClient(self.uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        try:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"embedded database exited with code {self.proc.returncode}")
                try:
                    client.admin.command("ping")
                    return self.uri
                except PyMongoError:
                    if time.monotonic() > deadline:
                        self.stop()
                        raise RuntimeError("embedded database did not answer ping in time") from None
                    time.sleep(0.2)
        finally:
            client.close()

    def stop(self, timeout_s: float = 10.0) -> None:
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

