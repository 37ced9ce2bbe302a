"""Train (when nlu_data/ changed) and run Rasa Open Source as a child process on a loopback port.

The model is cached under ``$LAPOR_DATA_DIR/nlu/`` and named after a hash of everything in
``nlu_data/`` (training files and config.yml), so an unchanged data set never trains twice; a file
lock keeps two processes (e.g. two test sessions) from training at the same time.
"""
from __future__ import annotations

import asyncio
import atexit
import fcntl
import hashlib
import logging
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from bot.embedded_db import free_port
from bot.processes import die_with_parent, port_in_use

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
NLU_DATA = REPO_ROOT / "nlu_data"
TRAIN_TIMEOUT_S = 900
READY_TIMEOUT_S = 240


def _env() -> dict:
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    env.pop("PIP_CONSTRAINT", None)
    return env


def rasa_venv(venv: Path | str | None = None) -> Path:
    """The Rasa virtualenv: explicit, $RASA_VENV, or .venv-rasa (relative to cwd, else the repo)."""
    p = Path(venv or os.environ.get("RASA_VENV") or ".venv-rasa")
    if not p.is_absolute() and not p.exists() and (REPO_ROOT / p).exists():
        p = REPO_ROOT / p
    return p.resolve()  # absolute: training runs with another working directory


def rasa_bin(venv: Path | str | None = None) -> Path:
    exe = rasa_venv(venv).resolve() / "bin" / "rasa"
    if not exe.exists():
        raise FileNotFoundError(f"{exe} not found: run scripts/install-rasa.sh first")
    return exe


def data_hash(nlu_dir: Path = NLU_DATA) -> str:
    h = hashlib.sha256()
    for f in sorted(nlu_dir.rglob("*")):
        if f.is_file() and f.suffix in (".yml", ".yaml"):
            h.update(str(f.relative_to(nlu_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def cached_model(data_dir: Path, nlu_dir: Path = NLU_DATA) -> Path | None:
    """The trained model for the current nlu_data/, if it is already in the cache."""
    model = Path(data_dir).resolve() / "nlu" / f"nlu-{data_hash(Path(nlu_dir).resolve())}.tar.gz"
    return model if model.exists() else None


def ensure_model(data_dir: Path, nlu_dir: Path = NLU_DATA, venv: Path | str | None = None) -> Path:
    """Return the model for the current nlu_data/, training it first if needed."""
    model_dir = Path(data_dir).resolve() / "nlu"
    nlu_dir = Path(nlu_dir).resolve()
    model_dir.mkdir(parents=True, exist_ok=True)
    name = f"nlu-{data_hash(nlu_dir)}"
    model = model_dir / f"{name}.tar.gz"
    if model.exists():
        return model
    with open(model_dir / ".train.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if model.exists():  # trained by whoever held the lock before us
            return model
        cmd = [str(rasa_bin(venv)), "train", "nlu", "--nlu", str(nlu_dir), "--config", str(nlu_dir / "config.yml"),
               "--out", str(model_dir), "--fixed-model-name", name]
        log_path = model_dir / "train.log"
        log.info("training NLU model %s (nlu_data changed); log: %s", name, log_path)
        t0 = time.monotonic()
        with open(log_path, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=model_dir,
                                  timeout=TRAIN_TIMEOUT_S)
        if proc.returncode != 0 or not model.exists():
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"rasa train failed (exit {proc.returncode}):\n{tail}")
        (model_dir / f"{name}.seconds").write_text(f"{time.monotonic() - t0:.1f}\n")
        log.info("trained NLU model %s in %.0f s", name, time.monotonic() - t0)
        for old in model_dir.glob("nlu-*.tar.gz"):
            if old != model:
                old.unlink(missing_ok=True)
        return model


def wait_until_ready(proc: subprocess.Popen, url: str, timeout_s: float, log_path: Path) -> None:
    """Poll ``GET {url}/status`` until 200. RuntimeError (with the log's tail) if the process exits first,
    TimeoutError after ``timeout_s``. Shared by the server lifecycle and the benchmarks."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-2000:]
            raise RuntimeError(f"rasa run exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/status", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"rasa run not ready after {timeout_s:.0f} s (log: {log_path})")


class RasaServer:
    """`rasa run --enable-api` from the Rasa virtualenv, on 127.0.0.1, for the life of the bot."""

    def __init__(self, settings=None):
        self.settings = settings
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.model: Path | None = None
        self._log = None

    async def start(self, settings=None, model: Path | None = None, port: int | None = None) -> str:
        """Train if needed (worker thread), start the server from the loop's own thread (so it dies with the bot),
        wait until ready (worker thread); returns the base URL."""
        settings = self._settings(settings)
        if model is None:
            model = await asyncio.to_thread(ensure_model, Path(settings.lapor_data_dir).resolve(),
                                            venv=settings.rasa_venv)
        log_path = self._spawn(settings, model, port)
        await asyncio.to_thread(self._wait_ready, log_path)
        return self.url

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_blocking)

    def _settings(self, settings=None):
        settings = settings or self.settings
        if settings is None:
            from bot.config import load_settings
            settings = load_settings()
        self.settings = settings
        return settings

    def start_blocking(self, settings=None, model: Path | None = None, port: int | None = None) -> str:
        settings = self._settings(settings)
        if self.proc and self.proc.poll() is None:
            return self.url
        model = model or ensure_model(Path(settings.lapor_data_dir).resolve(), venv=settings.rasa_venv)
        self._wait_ready(self._spawn(settings, model, port))
        return self.url

    def _spawn(self, settings, model: Path, port: int | None) -> Path:
        data_dir = Path(settings.lapor_data_dir).resolve()
        self.model = Path(model).resolve()
        (data_dir / "nlu").mkdir(parents=True, exist_ok=True)
        port = port if port is not None else settings.rasa_port
        if not port or port_in_use(port):
            if port:
                log.warning("NLU port %s is taken by another process; using a free port instead", port)
            port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        log_path = data_dir / "nlu" / "rasa-run.log"
        self._log = open(log_path, "ab")
        cmd = [str(rasa_bin(settings.rasa_venv)), "run", "--enable-api", "-m", str(self.model), "-i", "127.0.0.1",
               "-p", str(port)]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=_env(),
                                     cwd=data_dir / "nlu", start_new_session=True, preexec_fn=die_with_parent)
        atexit.register(self.stop_blocking)
        return log_path

    def _wait_ready(self, log_path: Path) -> None:
        try:
            wait_until_ready(self.proc, self.url, READY_TIMEOUT_S, log_path)
        except (RuntimeError, TimeoutError):
            self.stop_blocking()
            raise

    def stop_blocking(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
