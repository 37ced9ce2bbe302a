"""The HTTP server: health, channel webhooks, web chat, staff API. Bodies over 10 MB are refused (413).

Health: ``/healthz/live`` (liveness: the process answers, 200 always) and ``/healthz/ready`` = ``/healthz``
(readiness: 503 only when the database is unreachable; NLU down or failing is ``degraded`` with 200).

Draining (``laporbot run`` got SIGTERM or Ctrl-C, ``Runtime.stop``): readiness answers 503 ``draining``, and
webhooks and new web chat sockets get 503 with ``Retry-After`` (providers retry, a load balancer moves on) while
the turns already acknowledged finish."""
from __future__ import annotations

import logging

from aiohttp import web
from pymongo.errors import ConnectionFailure

from bot.appkeys import RUNTIME_KEY  # noqa: F401  (re-exported: tests and older imports)

log = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024
DRAIN_RETRY_AFTER_S = 5
REFUSED_WHILE_DRAINING = ("/webhooks/", "/webchat/ws", "/healthz/ready")


@web.middleware
async def drain_gate(request: web.Request, handler):
    """While the process drains, nothing new is taken: 503 + Retry-After (another process, or later)."""
    rt = request.app[RUNTIME_KEY]
    if getattr(rt, "draining", False) and (request.path == "/healthz"
                                           or request.path.startswith(REFUSED_WHILE_DRAINING)):
        return web.json_response({"status": "draining", "error": "this process is stopping, retry"}, status=503,
                                 headers={"Retry-After": str(DRAIN_RETRY_AFTER_S)})
    return await handler(request)


@web.middleware
async def json_errors(request: web.Request, handler):
    """Every error answers JSON; no traceback ever reaches a client. The database being away is a 503 (which
    providers retry) with one warning line, not a traceback per request."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return web.json_response({"error": exc.reason, "status": exc.status}, status=exc.status)
    except ConnectionFailure as exc:  # unreachable or timed out; other database errors are bugs (500, logged)
        log.warning("%s %s: database unavailable (%s); answered 503", request.method, request.path,
                    type(exc).__name__)
        return web.json_response({"error": "storage unavailable, retry later", "status": 503}, status=503)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "internal error", "status": 500}, status=500)


async def live(request: web.Request) -> web.Response:
    """Liveness: the process and its event loop answer. Never touches a dependency."""
    return web.json_response({"status": "ok"})


def nlu_state(health: dict) -> dict:
    """Rasa down, or up while its parses fail (last parse degraded): ``degraded``, never ``down``: citizens are
    still answered with buttons, numbered menus and keywords."""
    if health.get("state") == "down" or (health.get("state") == "up" and health.get("last_error")):
        return {**health, "state": "degraded", "status_endpoint": health.get("state")}
    return health


async def ready(request: web.Request) -> web.Response:
    """Readiness (also ``/healthz``): 503 only when the bot cannot take messages (database unreachable);
    degraded understanding is reported as ``degraded`` with 200."""
    rt = request.app[RUNTIME_KEY]
    db_up = await rt.stores.ping() if rt.stores else False
    deps = {"database": {"state": "up" if db_up else "down", "embedded": rt.embedded_db is not None}}
    if rt.embedded_db is not None:  # supervised: "restarting" while it comes back after a crash
        deps["database"].update(process=rt.embedded_db.state, restarts=rt.embedded_db.restarts)
    if rt.nlu is not None:
        deps["nlu"] = nlu_state(await rt.nlu.health())
    deps["channels"] = {"state": "up", "enabled": sorted(c.name for c in rt.channels)}
    down = [k for k, v in deps.items() if v.get("state") == "down"]
    degraded = [k for k, v in deps.items() if v.get("state") == "degraded"]
    status = "down" if down else "degraded" if degraded else "ok"
    body = {"status": status, "down": down, "degraded": degraded, "dependencies": deps}
    return web.json_response(body, status=503 if down else 200)


async def metrics(request: web.Request) -> web.Response:
    """Counters of this process (no personal data): turns, database commands sent (bot/storage/roundtrips.py),
    outbox outcomes per channel. Benchmarks read it to report round-trips per turn."""
    rt = request.app[RUNTIME_KEY]
    rtrips = getattr(rt.stores, "roundtrips", None) if rt.stores else None
    body = {"engine": dict(rt.engine.metrics) if rt.engine else {},
            "db_commands": rtrips.snapshot() if rtrips is not None else None,
            "outbox": rt.outbox.stats() if rt.outbox else {}}
    return web.json_response(body)


def build_app(runtime) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[drain_gate, json_errors])
    app[RUNTIME_KEY] = runtime
    app.router.add_get("/healthz", ready)
    app.router.add_get("/healthz/ready", ready)
    app.router.add_get("/healthz/live", live)
    app.router.add_get("/metrics", metrics)
    for ch in runtime.channels:
        ch.add_routes(app)
    from bot.staff.api import add_routes as add_staff_routes

    add_staff_routes(app, runtime)
    from outreach.api import add_routes as add_outreach_routes

    add_outreach_routes(app, runtime)
    from bot.backoffice.app import build as build_backoffice

    app.add_subapp("/staff", build_backoffice(runtime))
    from bot.open311.server import PREFIX as OPEN311, build as build_open311
    from bot.publik.pages import add_routes as add_public_routes

    app.add_subapp(OPEN311, build_open311(runtime))
    add_public_routes(app)
    return app
