"""``/staff/forwarding`` (admins): agencies forwarded to their own system, the forward jobs still waiting
(attempts, last error, next try; "try now" makes one due at once) and the latest ones sent. See
docs/open311.md (:mod:`bot.forwarding`)."""
from __future__ import annotations

from aiohttp import web
from bson import ObjectId
from bson.errors import InvalidId

from bot.backoffice.app import console
from bot.backoffice.pages import render
from bot.backoffice.principal import ADMIN


def _admin(request: web.Request):
    user = request["staff"]
    if user.role != ADMIN:
        raise web.HTTPForbidden(text="errors.forbidden")
    return user


def _forwarder(request: web.Request):
    fwd = getattr(console(request).runtime, "forwarding", None)
    if fwd is None:
        raise web.HTTPNotFound(text="errors.not_found")
    return fwd


async def page(request: web.Request) -> web.Response:
    _admin(request)
    fwd = _forwarder(request)
    sent = await fwd.jobs.recently_sent(20)
    return render(request, "forwarding.html", upstreams=await fwd.upstreams.list(), pending=await fwd.pending(),
                  sent=sent)


async def retry(request: web.Request) -> web.Response:
    user = _admin(request)
    fwd = _forwarder(request)
    try:
        job_id = ObjectId(request.match_info["job"])
    except InvalidId:
        raise web.HTTPNotFound(text="errors.not_found") from None
    job = await fwd.jobs.retry_now(job_id)
    if job is None:
        raise web.HTTPNotFound(text="errors.not_found")
    await console(request).record(user, "forward_retry", job["tracking_id"], {"agency": job["agency"]})
    fwd.wake()
    raise web.HTTPSeeOther("/staff/forwarding")


def routes() -> list[web.RouteDef]:
    return [web.get("/forwarding", page), web.post("/forwarding/{job}/retry", retry)]
