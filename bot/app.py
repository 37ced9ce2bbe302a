"""Runtime: assembles the parts of the bot in one place and starts/stops what ``laporbot run`` needs, in order.

``open()`` is the assembly, used by every command (``laporbot run`` and the CLI commands alike):
database (embedded SecantusDB unless MONGODB_URI) -> NLU client (a local Rasa server only when asked) ->
outbox -> engine -> staff services -> outreach (its stores, its send-time check on the outbox). Nothing runs
in the background after ``open()``.
``start()`` = ``open()`` + channels (their senders on the outbox) -> background tasks (SLA worker, campaign
scheduler, outbox) -> channel start -> HTTP server. ``stop`` undoes it in reverse, also on Ctrl-C and SIGTERM.
A missing in-tree module or a failing part stops start-up with an error; nothing is skipped silently.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

import outreach
from bot.config import Settings
from bot.embedded_db import EmbeddedMongo
from bot.engine import Engine
from bot.nlu import NluClient
from bot.outbox import Outbox
from bot.staff import services as staff_services
from bot.staff.services import StaffServices
from bot.storage import Stores, connect
from outreach.dispatch import Outreach

log = logging.getLogger(__name__)


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
        self.channels: list = []
        self.http_runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.stop_hooks: list = []  # async callables run first on stop (background tasks of subsystems)
        self._stopped = False

    # ------------------------------------------------------------------ assembly
    async def open(self, *, nlu: bool = False, db_attempts: int | None = None,
                   sweep_interval_s: float = 0.0) -> "Runtime":
        """Every part wired on the database, nothing started in the background (CLI commands stop here)."""
        await self._open_database(db_attempts)
        await self._start_nlu(nlu)
        self.outbox = Outbox(self.stores, sweep_interval_s=sweep_interval_s)
        self.engine = Engine(self.stores, self.outbox, self.nlu, self.settings)
        self.staff = staff_services.register(self)
        self.outreach = outreach.register(self)
        return self

    async def _open_database(self, attempts: int | None) -> None:
        s = self.settings
        uri = s.mongodb_uri
        if not uri:
            s.lapor_data_dir.mkdir(parents=True, exist_ok=True)
            self.embedded_db = EmbeddedMongo(s.db_dir, log_path=s.lapor_data_dir / "db.log")
            # started from the loop's own thread: PR_SET_PDEATHSIG ties the server's life to this thread
            uri = self.embedded_db.start()
            log.info("embedded database ready at %s (data in %s)", uri.split("/?")[0], s.db_dir)
        self.stores = await connect(uri, s.lapor_db, retention_days=s.lapor_message_retention_days,
                                    attempts=attempts or s.lapor_db_connect_attempts)

    # ------------------------------------------------------------------ running
    async def start(self, *, http: bool = True, nlu: bool = True, console: bool = False,
                    console_user: str | None = None, db_attempts: int | None = None,
                    sweep_interval_s: float = 2.0) -> "Runtime":
        """``open()``, then channels, background tasks and the HTTP server. ``console_user`` attaches a console
        chat for that user (``laporbot chat``) without the terminal check ``console`` implies."""
        await self.open(nlu=nlu, db_attempts=db_attempts, sweep_interval_s=sweep_interval_s)
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
        if http:
            await self._start_http()
        return self

    def _start_background(self) -> None:
        """The SLA worker and the campaign scheduler; each stops before the database closes."""
        self.staff.start()
        self.stop_hooks.append(self.staff.worker.stop)
        outreach.start(self)

        async def _stop_outreach():
            await outreach.stop(self)

        self.stop_hooks.append(_stop_outreach)

    async def _start_nlu(self, enabled: bool) -> None:
        s = self.settings
        url = s.rasa_url
        if enabled and not url:
            from bot.nlu.rasa_server import RasaServer

            self.rasa_server = RasaServer(s)
            try:
                url = await self.rasa_server.start()
            except Exception as exc:  # NLU is optional at run time: buttons and numbered menus still work
                log.warning("NLU server not started (%s); running in degraded mode", exc)
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
        if self._stopped:
            return
        self._stopped = True
        for hook in reversed(self.stop_hooks):
            try:
                await hook()
            except Exception:
                log.exception("stop hook failed")
        self.stop_hooks = []
        for ch in reversed(self.channels):
            try:
                await ch.stop()
            except Exception:
                log.exception("stopping channel %s", ch.name)
        if self.http_runner:
            await self.http_runner.cleanup()
        if self.outbox:
            await self.outbox.stop()
        if self.nlu:
            await self.nlu.close()
        if self.rasa_server:
            await self.rasa_server.stop()
        if self.stores:
            await self.stores.close()
        if self.embedded_db:
            await self.embedded_db.astop()
