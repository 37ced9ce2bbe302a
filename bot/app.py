"""Runtime: assembles the parts of the bot in one place and starts/stops what ``laporbot run`` needs, in order.

``open()`` is the assembly, used by every command (``laporbot run`` and the CLI commands alike):
database (embedded SecantusDB unless MONGODB_URI or a running one is found; supervised when ours) -> NLU client
(a local Rasa server only when asked) -> outbox -> engine -> staff services -> outreach (its stores, its
send-time check on the outbox) -> privacy (its chat commands). Nothing runs in the background after ``open()``.
``start()`` = NLU model (trained before any database connection exists) + ``open()`` + channels (their senders
on the outbox) -> background tasks (SLA worker, live-conversation sweeper, forwarding, retention, campaign
scheduler, outbox) -> channel start -> HTTP server. ``stop`` undoes it in reverse, also on Ctrl-C and SIGTERM,
with a time limit on every step. It drains first: webhooks, new web chat sockets and readiness answer 503 with
Retry-After (``bot/http.py``), the turns already acknowledged finish (``Channel.drain``, up to
``channels.inbox.DRAIN_S``), the outbox sends what this process holds (up to ``OUTBOX_DRAIN_S``), then every
lease is released and the process's heartbeat is ended, so other processes take over whatever is left at once.
A missing in-tree module or a failing part stops start-up with an error.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web
from pymongo.errors import PyMongoError

import outreach
from bot.config import Settings
from bot.embedded_db import EmbeddedMongo, running_uri
from bot.engine import Engine
from bot.nlu import NluClient
from bot.outbox import Outbox
from bot.privacy import chat as privacy_chat
from bot.privacy import retention
from bot.progress import Progress, Silent
from bot.staff import services as staff_services
from bot.staff.services import StaffServices
from bot.storage import Stores, connect
from outreach.dispatch import Outreach

log = logging.getLogger(__name__)
HOOK_STOP_TIMEOUT_S = 15.0  # each subsystem's background task gets this long to end
OUTBOX_DRAIN_S = 8.0  # a stopping process sends what it holds for this long (within its heartbeat's life)


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.embedded_db: EmbeddedMongo | None = None
        self.rasa_server = None
        self.stores: Stores | None = None
        self.outbox: Outbox | None = None
        self.nlu: NluClient | None = None
        self.engine: Engine | None = None
        self.staff: StaffServices | None = None
        self.outreach: Outreach | None = None
        self.outreach_scheduler: asyncio.Task | None = None
        self.outreach_stopping: asyncio.Event | None = None
        self.channels: list = []
        self.http_runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.stop_hooks: list = []  # async callables run first on stop (background tasks of subsystems)
        self._supervisor: asyncio.Task | None = None
        self._stopped = False
        self.draining = False  # stopping: nothing new is taken (bot/http.py), what was taken finishes

    # ------------------------------------------------------------------ assembly
    async def open(self, *, nlu: bool = False, db_attempts: int | None = None, sweep_interval_s: float = 0.0,
                   model=None, progress: Progress | None = None) -> "Runtime":
        """Every part wired on the database, nothing started in the background (CLI commands stop here)."""
        p = progress or Silent()
        await p.step("database", self._open_database(db_attempts), result=lambda where: f"ready ({where})")
        await p.step("NLU server", self._start_nlu(nlu, model),
                     result=lambda _: "ready" if self.nlu and self.nlu.url else "off: buttons and menus only")
        self.outbox = Outbox(self.stores, sweep_interval_s=sweep_interval_s)
        self.engine = Engine(self.stores, self.outbox, self.nlu, self.settings)
        self.staff = staff_services.register(self)
        self.outreach = outreach.register(self)
        privacy_chat.register_dialogue(self.engine.dialogue.registry)  # "data saya", "hapus data saya"
        return self

    async def _open_database(self, attempts: int | None) -> str:
        s = self.settings
        uri = s.mongodb_uri
        where = "MONGODB_URI"
        if not uri and (uri := running_uri(s.db_dir)):
            where = f"shared embedded database of another process, data in {s.db_dir}"
        elif not uri:
            s.lapor_data_dir.mkdir(parents=True, exist_ok=True)
            self.embedded_db = EmbeddedMongo(s.db_dir, log_path=s.lapor_data_dir / "db.log")
            # started from the loop's own thread: PR_SET_PDEATHSIG ties the server's life to this thread
            uri = self.embedded_db.start()
            where = f"embedded, data in {s.db_dir}, log {self.embedded_db.log_path}"
            log.info("embedded database ready at %s (data in %s)", uri.split("/?")[0], s.db_dir)
        try:
            self.stores = await connect(uri, s.lapor_db, retention_days=s.lapor_message_retention_days,
                                        attempts=attempts or s.lapor_db_connect_attempts)
        except PyMongoError as exc:
            if self.embedded_db is not None:
                raise RuntimeError(self.embedded_db.describe_failure()) from exc
            raise
        if self.embedded_db is not None:
            self._supervisor = asyncio.create_task(self.embedded_db.supervise())
        return where

    # ------------------------------------------------------------------ running
    async def start(self, *, http: bool = True, nlu: bool = True, console: bool = False,
                    console_user: str | None = None, db_attempts: int | None = None,
                    sweep_interval_s: float = 2.0, progress: Progress | None = None) -> "Runtime":
        """NLU model (trained before the database connection exists, so a long first training cannot affect
        it), ``open()``, then channels, background tasks and the HTTP server. ``console_user`` attaches a
        console chat for that user (``laporbot chat``) without the terminal check ``console`` implies."""
        s = self.settings
        p = progress or Silent()
        model = None
        if nlu and not s.rasa_url:
            from bot.nlu.rasa_server import cached_model

            cached = cached_model(s.lapor_data_dir)
            model = await p.step("NLU model", self._prepare_model(),
                                 note="cached" if cached else "training (first run, about 2-5 min; "
                                 f"log: {s.lapor_data_dir / 'nlu' / 'train.log'})",
                                 result=lambda m: "ready" if m else "not available: buttons and menus only")
        else:
            p.skip("NLU model", f"using {s.rasa_url}" if nlu and s.rasa_url else "off")
        await self.open(nlu=nlu and (bool(s.rasa_url) or model is not None), db_attempts=db_attempts,
                        sweep_interval_s=sweep_interval_s, model=model, progress=p)
        await p.step("channels", self._start_channels(console, console_user),
                     result=lambda names: ", ".join(names) or "none")
        if http:
            await p.step("HTTP server", self._start_http(),
                         result=lambda _: f"http://{s.lapor_http_host}:{self.http_port}")
        return self

    async def _prepare_model(self):
        """Train the NLU model if nlu_data/ changed (in a worker thread). None: run without understanding."""
        from bot.nlu.rasa_server import ensure_model

        s = self.settings
        try:
            return await asyncio.to_thread(ensure_model, Path(s.lapor_data_dir).resolve(), venv=s.rasa_venv)
        except Exception as exc:  # NLU is optional at run time: buttons and numbered menus still work
            log.warning("NLU model not available (%s); running in degraded mode", str(exc).splitlines()[0][:200])
            return None

    async def _start_channels(self, console: bool, console_user: str | None) -> list[str]:
        from channels import enabled_channels

        self.channels = enabled_channels(self, console=console)
        if console_user is not None:
            from channels.console import ConsoleChannel

            self.channels.append(ConsoleChannel(self, user_id=console_user))
        for ch in self.channels:
            snd = ch.sender()
            if snd is not None:
                self.outbox.register(snd)
        self._start_background()
        await self.outbox.start()
        for ch in self.channels:
            await ch.start()
        return [ch.name for ch in self.channels]

    def _start_background(self) -> None:
        """The staff side's tasks, the retention sweep and the campaign scheduler; each stops before the
        database closes."""
        self.staff.start()
        retention.start(self)  # the retention sweep (docs/privacy.md)
        outreach.start(self)

        async def _stop_outreach():
            await outreach.stop(self)

        self.stop_hooks.append(_stop_outreach)

    async def _start_nlu(self, enabled: bool, model=None) -> None:
        s = self.settings
        url = s.rasa_url
        if enabled and not url:
            from bot.nlu.rasa_server import RasaServer

            self.rasa_server = RasaServer(s)
            try:
                url = await self.rasa_server.start(model=model)
            except Exception as exc:  # NLU is optional at run time: buttons and numbered menus still work
                log.warning("NLU server not started (%s); running in degraded mode", str(exc).splitlines()[0][:200])
                self.rasa_server, url = None, None
        self.nlu = NluClient(url if enabled else None, timeout_s=s.rasa_timeout_s)

    async def _start_http(self) -> None:
        from bot.http import build_app

        app = build_app(self)
        self.http_runner = web.AppRunner(app, access_log=None)
        await self.http_runner.setup()
        site = web.TCPSite(self.http_runner, self.settings.lapor_http_host, self.settings.lapor_http_port)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1] if site._server else None
        log.info("HTTP on http://%s:%s (healthz, webhooks, webchat, api)", self.settings.lapor_http_host,
                 self.http_port)

    async def stop(self) -> None:
        """Undo start in reverse order. Every step has a time limit: a stuck step is logged and left behind,
        so stopping never waits forever."""
        if self._stopped:
            return
        self._stopped = True
        self.draining = True
        log.info("stopping: draining (webhooks answered 503 from now on)")
        for hook in reversed(self.stop_hooks):
            await _bounded(f"stop hook {getattr(hook, '__qualname__', hook)}", hook(), HOOK_STOP_TIMEOUT_S)
        self.stop_hooks = []
        from channels.inbox import DRAIN_S

        for ch in reversed(self.channels):  # acknowledged turns finish (then, past the bound, others take over)
            if hasattr(ch, "drain"):  # channels made outside channels/ may not have one
                await _bounded(f"channel {ch.name} drain", ch.drain(), DRAIN_S + 5)
        if self.outbox:
            await _bounded("outbox drain", self.outbox.finish(OUTBOX_DRAIN_S), OUTBOX_DRAIN_S + 5)
        for ch in reversed(self.channels):
            await _bounded(f"channel {ch.name}", ch.stop(), 10)
        if self.http_runner:
            await _bounded("HTTP server", self.http_runner.cleanup(), 10)
        if self.outbox:
            await _bounded("outbox", self.outbox.stop(), 10)
        if self.nlu:
            await _bounded("NLU client", self.nlu.close(), 5)
        if self.rasa_server:
            await _bounded("NLU server", self.rasa_server.stop(), 25)
        if self._supervisor:
            self._supervisor.cancel()
            await _bounded("database supervisor", asyncio.gather(self._supervisor, return_exceptions=True), 5)
        if self.stores:  # leases given up at once: a restarted bot resumes within seconds (issue 18)
            await _bounded("leases", self.stores.leases.release_all(), 5)
            await _bounded("database client", self.stores.close(), 10)
        if self.embedded_db:
            await _bounded("embedded database", self.embedded_db.astop(), 20)


async def _bounded(what: str, work, timeout_s: float) -> None:
    try:
        await asyncio.wait_for(work, timeout_s)
    except asyncio.TimeoutError:
        log.warning("stop: %s still running after %.0f s; not waiting any longer", what, timeout_s)
    except Exception:
        log.exception("stop: %s failed", what)
