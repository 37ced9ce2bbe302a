"""Admin API for data-subject requests (UU 27/2022), under /api/v1, admin token only, audited:

- ``GET  /api/v1/contacts/{id}/data``: what is stored about a contact (``rights.summary``);
- ``POST /api/v1/contacts/{id}/erase``: erase the contact, pseudonymise their reports (``rights.erase``).

Registered by ``bot.staff.api.add_routes`` through ``add_routes(app, runtime)``.
"""
from __future__ import annotations

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId

from bot.privacy import rights
from bot.staff.auth import authenticate
from bot.staff.views import _jsonable

PREFIX = "/api/v1"


def _error(status: int, code: str, message: str) -> web.Response:
    headers = {"WWW-Authenticate": 'Bearer realm="lapor-staff"'} if status == 401 else None
    return web.json_response({"error": code, "message": message}, status=status, headers=headers)


def add_routes(app: web.Application, runtime) -> None:
    def staff():
        return runtime.staff

    def admin_only(handler):
        async def wrapped(request: web.Request) -> web.StreamResponse:
            st = staff()
            who = await authenticate(request.headers.get("Authorization"), runtime.settings.lapor_staff_token,
                                     st.tokens) if st else None
            if who is None:
                return _error(401, "unauthorized", "missing or invalid bearer token")
            if not who.is_admin:
                return _error(403, "forbidden", "this action needs the administrator token")
            try:
                cid = ObjectId(request.match_info["contact_id"])
            except (InvalidId, TypeError):
                return _error(404, "not_found", "no such contact")
            return await handler(request, st, who, cid)
        return wrapped

    @admin_only
    async def get_data(request, st, who, cid):
        data = await rights.summary(runtime.stores, cid)
        if data is None:
            return _error(404, "not_found", "no such contact")
        await st.audit.record(who.actor, "contact_data_view", str(cid), {})
        return web.json_response(_jsonable(data))

    @admin_only
    async def post_erase(request, st, who, cid):
        counts = await rights.erase(runtime.stores, cid, who.actor)
        if counts is None:
            return _error(404, "not_found", "no such contact")
        return web.json_response({"erased": True, **counts})

    app.router.add_get(f"{PREFIX}/contacts/{{contact_id}}/data", get_data)
    app.router.add_post(f"{PREFIX}/contacts/{{contact_id}}/erase", post_erase)


_CID = {"name": "contact_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ERR = {"401": {"description": "missing or wrong token"}, "403": {"description": "not the admin token"},
        "404": {"description": "unknown contact"}}
OPENAPI_PATHS = {
    "/contacts/{contact_id}/data": {"get": {
        "summary": "What is stored about a contact (admin, audited): contact fields, message counts, reports "
                   "with tracking IDs and status, subscription, draft, handoffs, files",
        "parameters": [_CID], "responses": {"200": {"description": "the summary"}, **_ERR}}},
    "/contacts/{contact_id}/erase": {"post": {
        "summary": "Erase a contact (admin, audited): identity, messages, draft, subscriptions, handoffs, files "
                   "go; their reports stay for the agency without the reporter",
        "parameters": [_CID], "responses": {"200": {"description": "counts of what was erased"}, **_ERR}}},
}
