"""Runtime: starts and stops everything ``laporbot run`` needs, in order, and nothing it does not.

database (embedded SecantusDB unless MONGODB_URI) -> NLU (local Rasa unless RASA_URL) -> outbox ->
engine -> channels -> HTTP server. ``stop`` undoes it in reverse, also on Ctrl-C and SIGTERM.
"""
from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from bot.config import Settings
from bot.embedded_db import EmbeddedMongo
from bot.engine import Engine
from bot.outbox import Outbox
from bot.storage import connect

log = logging.getLogger(__name__)


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.embedded_db: EmbeddedMongo | None = None
        self.rasa_server = None
        self.stores = None
        self.outbox: Outbox | None = None
        self.nlu = None
        self.engine: Engine | None = None
        self.channels: list = []
        self.http_runner: web.AppRunner | None = None
        self.http_port: int | None = None
        self.stop_hooks: list = []  # async callables run first on stop (background tasks of subsystems)

    async def start(self, *, http: bool = True, nlu: bool = True, console: bool = False,
                    db_attempts: int | None = None, sweep_interval_s: float = 2.0) -> "Runtime":
        s = self.settings
        uri = s.mongodb_uri
        if not uri:
            s.lapor_data_dir.mkdir(parents=True, exist_ok=True)
            self.embedded_db = EmbeddedMongo(s.db_dir, log_path=s.lapor_data_dir / "db.log")
            # started from the loop's own thread: PR_SET_PDEATHSIG ties the server's life to this thread
            uri = self.embedded_db.start()
            log.info("embedded database ready at %s (data in %s)", uri.split("/?")[0], s.db_dir)
        self.stores = await connect(uri, s.lapor_db, retention_days=s.lapor_message_retention_days,
                                    attempts=db_attempts or s.lapor_db_connect_attempts)
        await self._start_nlu(nlu)
        self.outbox = Outbox(self.stores, sweep_interval_s=sweep_interval_s)
        self.engine = Engine(self.stores, self.outbox, self.nlu, s)
        self._register_services()
        from channels import enabled_channels

        self.channels = enabled_channels(self, console=console)
        for ch in self.channels:
            snd = ch.sender()
            if snd is not None:
                self.outbox.register(snd)
        self._start_outreach()
        await self.outbox.start()
        for ch in self.channels:
            await ch.start()
        if http:
            await self._start_http()
        return self

    async def _start_nlu(self, enabled: bool) -> None:
        from bot.nlu import NluClient

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

    def _register_services(self) -> None:
        """Optional collaborators the dialogue calls by name (staff side, outreach)."""
        try:
            from bot.staff.services import register
        except ImportError:
            return
        register(self)

    def _start_outreach(self) -> None:
        """Campaign codes for the dialogue, send-time guards (opt-outs) and the campaign scheduler."""
        import outreach

        outreach.start(self)

        async def _stop_outreach():
            await outreach.stop(self)

        self.stop_hooks.append(_stop_outreach)

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
        if getattr(self, "_stopped", False):
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
