"""Staff API for campaigns: ``POST /api/v1/campaigns`` and ``GET /api/v1/campaigns/{name}/stats``.

Auth: ``Authorization: Bearer <LAPOR_STAFF_TOKEN>`` (constant-time compare; 401 without, 503 if unset).
Bodies go through ``bot.untrusted`` (400 for bad JSON or nesting, 413 over 256 KB); a name that is not a slug
is a 400 and never becomes a path; texts are checked in the sandbox (``outreach.sandbox``) by the preview
that runs before anything is stored: a refused or broken text is a 422 with the reasons.
"""
from __future__ import annotations

import hmac
import json

from aiohttp import web
from pydantic import ValidationError

from bot.untrusted import BadInput, read_json_object

MAX_BODY_BYTES = 256 * 1024
MAX_BODY_DEPTH = 16


def _authorized(request: web.Request, runtime) -> None:
    token = runtime.settings.lapor_staff_token
    if not token:
        raise web.HTTPServiceUnavailable(reason="staff API disabled (LAPOR_STAFF_TOKEN not set)")
    got = request.headers.get("Authorization", "")
    if not (got.startswith("Bearer ") and hmac.compare_digest(got[7:].encode(), token.encode())):
        raise web.HTTPUnauthorized(reason="missing or wrong bearer token")


def add_routes(app: web.Application, runtime) -> None:
    from outreach.campaigns import Campaign, save_codes, valid_name
    from outreach.dispatch import install

    async def create(request: web.Request) -> web.Response:
        _authorized(request, runtime)
        try:
            body = await read_json_object(request, max_bytes=MAX_BODY_BYTES, max_depth=MAX_BODY_DEPTH)
        except BadInput as exc:
            return web.json_response({"error": exc.message, "status": exc.status}, status=exc.status)
        try:
            c = Campaign.model_validate(body)
        except ValidationError as exc:
            errs = [{"field": ".".join(str(x) for x in e["loc"]), "error": e["msg"]} for e in exc.errors()]
            return web.json_response({"error": "invalid campaign", "details": errs, "status": 422}, status=422)
        out = install(runtime)
        await out.ensure_indexes()
        from outreach.preview import preview

        p = await preview(runtime, c)
        if p["errors"]:
            return web.json_response({"error": "template errors", "details": p["errors"], "status": 422},
                                     status=422)
        new = await out.campaigns.save(c, "api")
        await save_codes(out.codes, c)
        return web.json_response({"name": c.name, "created": new, "audience": p["audience"]},
                                 status=201 if new else 200)

    async def stats(request: web.Request) -> web.Response:
        _authorized(request, runtime)
        from outreach.stats import campaign_stats

        name = request.match_info["name"]
        if not valid_name(name):
            return web.json_response({"error": "invalid campaign name", "status": 400}, status=400)
        out = install(runtime)
        c = await out.campaigns.get(name)
        if c is None:
            raise web.HTTPNotFound(reason="no such campaign")
        return web.json_response(json.loads(json.dumps(await campaign_stats(runtime, c), default=str)))

    app.router.add_post("/api/v1/campaigns", create)
    app.router.add_get("/api/v1/campaigns/{name}/stats", stats)
