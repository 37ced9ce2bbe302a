"""Builds the ``/staff`` sub-application: stores, middlewares, static files and every page module's routes."""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.backoffice import security
from bot.backoffice.principal import StaffUser

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parents[2] / "templates" / "backoffice" / "static"
STATIC_FILES = frozenset(p.name for p in STATIC.iterdir() if p.is_file())


async def static_file(request: web.Request) -> web.StreamResponse:
    """The console's own files, by exact name: no path is built from the request (a 300-character name made
    the static route's file lookup fail with a 500)."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers={"X-Content-Type-Options": "nosniff"})
CONSOLE_KEY = web.AppKey("backoffice", object)
# Page modules, each exposing routes(). Modules not present in this checkout are skipped.
PAGES = ("bot.backoffice.account", "bot.backoffice.reports", "bot.backoffice.users", "bot.backoffice.dashboard",
         "bot.backoffice.campaigns", "bot.backoffice.volunteers", "bot.backoffice.handoffs",
         "bot.backoffice.forwarding")


@dataclass
class Console:
    runtime: object
    key: bytes
    users: object
    sessions: object
    notes: object
    audit: object
    ready: bool = False

    async def ensure_indexes(self) -> None:
        if not self.ready:
            for store in (self.users, self.sessions, self.notes):
                await store.ensure_indexes()
            self.ready = True

    async def record(self, user: StaffUser, action: str, target: str | None, details: dict | None = None) -> None:
        """Audit a staff action under the person's id (``staff:<id>``) in the shared ``audit`` collection."""
        await self.audit.record(f"staff:{user.id}", action, target, {"email": user.email, **(details or {})})


def make_console(runtime) -> Console:
    from bot.staff.auth import AuditLog
    from bot.storage.report_notes import ReportNoteStore
    from bot.storage.staff_sessions import StaffSessionStore
    from bot.storage.staff_users import StaffUserStore

    db = runtime.stores.db
    return Console(runtime=runtime, key=security.load_key(runtime.settings), users=StaffUserStore(db),
                   sessions=StaffSessionStore(db), notes=ReportNoteStore(db), audit=AuditLog(db))


def console(request: web.Request) -> Console:
    return request.config_dict[CONSOLE_KEY]


def page_routes() -> list[web.RouteDef]:
    out: list[web.RouteDef] = []
    for name in PAGES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        out.extend(mod.routes())
    return out


def build(runtime) -> web.Application:
    con = make_console(runtime)
    app = web.Application(middlewares=[security.html_errors, security.limit_body, security.session_auth(con)])
    app[CONSOLE_KEY] = con

    async def _indexes(_app):
        try:
            await con.ensure_indexes()
        except Exception as exc:  # the console still answers; the next start retries
            log.warning("back-office indexes not created: %s", type(exc).__name__)

    app.on_startup.append(_indexes)
    app.router.add_get("/static/{name}", static_file)
    app.router.add_routes(page_routes())
    return app
