"""Kawan LAPOR! volunteers ``/staff/volunteers`` (admin and coordinators; everyone else 403).

Invite (a code, with the Telegram deep link ``/start relawan-CODE`` and the WhatsApp click-to-chat text
``RELAWAN CODE`` when the bot's username / number are configured), list invites and volunteers with the
reports they filed for others, revoke an invite or a volunteer. A coordinator sees a volunteer's name,
channel and the last digits of their channel id, and of assisted reports only tracking ID, status, category,
agency and date: never the description nor the person helped. Every change is audited.
"""
from __future__ import annotations

import os
from urllib.parse import quote

from aiohttp import web
from bson import ObjectId

from bot.backoffice.pages import render
from bot.backoffice.principal import COORDINATOR
from bot.appkeys import RUNTIME_KEY

CODE_CHARS = set("23456789ABCDEFGHJKMNPQRSTVWXYZ")
DONE = ("invited", "invite_revoked", "revoked")
MAX_NOTE = 500
MAX_USES = 10_000
RECENT = 5


def _user(request: web.Request):
    user = request.get("staff")
    if user is None or not user.can(COORDINATOR):
        raise web.HTTPForbidden()
    return user


def _rt(request: web.Request):
    return request.config_dict[RUNTIME_KEY]


def _actor(request: web.Request) -> str:
    return f"staff:{request['staff'].id}"


async def _audit(request: web.Request, action: str, target: str, details: dict | None = None) -> None:
    staff = getattr(_rt(request), "staff", None)
    if staff is not None:
        await staff.audit.record(_actor(request), action, target, details or {})


def invite_links(code: str) -> dict:
    """Where a new volunteer joins: deep link / click-to-chat when configured, and the text to send."""
    bot, number = os.environ.get("TELEGRAM_BOT_USERNAME"), os.environ.get("WHATSAPP_DISPLAY_NUMBER")
    text = f"RELAWAN {code}"
    out = {"text": text}
    if bot:
        out["telegram"] = f"https://t.me/{bot.lstrip('@')}?start=relawan-{code}"
    if number:
        out["whatsapp"] = f"https://wa.me/{''.join(ch for ch in number if ch.isdigit())}?text={quote(text)}"
    return out


def _masked(user_id: str | None) -> str:
    uid = str(user_id or "")
    return "…" + uid[-4:] if len(uid) > 4 else "…"


async def _assisted(rt, contact_ids: list) -> dict:
    """Per volunteer: number of reports filed for others, settled ones, the latest few (safe fields only)."""
    out = {cid: {"total": 0, "settled": 0, "recent": []} for cid in contact_ids}
    if not contact_ids:
        return out
    async for r in rt.stores.reports.filed_by_volunteers(contact_ids):
        row = out[r["volunteer_id"]]
        row["total"] += 1
        row["settled"] += r.get("status") == "selesai"
        row["recent"].append(r)
    return out


async def page(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
    _user(request)
    rt = _rt(request)
    store = rt.stores.volunteers
    vols = await store.list()
    contacts = await rt.stores.contacts.names_of([v["contact_id"] for v in vols])
    assisted = await _assisted(rt, [v["contact_id"] for v in vols])
    rows = []
    for v in vols:
        c = contacts.get(v["contact_id"]) or {}
        a = assisted[v["contact_id"]]
        rows.append({"id": str(v["contact_id"]), "name": c.get("name"), "channel": c.get("channel"),
                     "masked": _masked(c.get("user_id")), "joined_at": v.get("joined_at"),
                     "invite_code": v.get("invite_code"), "revoked_at": v.get("revoked_at"),
                     "total": a["total"], "settled": a["settled"], "recent": a["recent"][:RECENT]})
    new = None
    code = (request.query.get("code") or "").strip().upper()
    if request.query.get("done") == "invited" and code and set(code) <= CODE_CHARS:
        inv = await store.get_invite(code)
        if inv is not None:
            new = {**inv, "links": invite_links(inv["code"])}
    done = request.query.get("done")
    return render(request, "volunteers.html", status=status, invites=await store.list_invites(), volunteers=rows,
                  new=new, done=done if done in DONE else None, error=error, max_note=MAX_NOTE, max_uses=MAX_USES)


async def invite(request: web.Request) -> web.Response:
    user = _user(request)
    form = await request.post()
    note = str(form.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_NOTE, actual_size=len(note))
    uses = str(form.get("max_uses") or "1").strip()
    if not (uses.isascii() and uses.isdigit()) or not 1 <= int(uses) <= MAX_USES:
        return await page(request, error="bad_max_uses", status=400)
    inv = await _rt(request).stores.volunteers.create_invite(_actor(request), note=note or None, max_uses=int(uses))
    await _audit(request, "volunteer_invite", inv["code"], {"max_uses": int(uses), "by": user.email})
    raise web.HTTPSeeOther(f"/staff/volunteers?done=invited&code={inv['code']}")


async def revoke_invite(request: web.Request) -> web.Response:
    _user(request)
    code = request.match_info["code"].upper()
    if not await _rt(request).stores.volunteers.revoke_invite(code, _actor(request)):
        return await page(request, error="no_invite", status=404)
    await _audit(request, "volunteer_invite_revoke", code)
    raise web.HTTPSeeOther("/staff/volunteers?done=invite_revoked")


async def revoke(request: web.Request) -> web.Response:
    _user(request)
    cid = request.match_info["contact_id"]
    rt = _rt(request)
    if not ObjectId.is_valid(cid) or not await rt.stores.volunteers.revoke(ObjectId(cid), _actor(request)):
        return await page(request, error="no_volunteer", status=404)
    await _audit(request, "volunteer_revoke", cid)
    raise web.HTTPSeeOther("/staff/volunteers?done=revoked")


async def reports(request: web.Request) -> web.Response:
    """All reports one volunteer filed for others (safe fields only)."""
    _user(request)
    cid = request.match_info["contact_id"]
    rt = _rt(request)
    vol = await rt.stores.volunteers.get(ObjectId(cid)) if ObjectId.is_valid(cid) else None
    if vol is None:
        raise web.HTTPNotFound()
    contact = await rt.stores.contacts.get(vol["contact_id"]) or {}
    assisted = (await _assisted(rt, [vol["contact_id"]]))[vol["contact_id"]]
    return render(request, "volunteers_reports.html", vol=vol, volunteer_name=contact.get("name"),
                  channel=contact.get("channel"), masked=_masked(contact.get("user_id")), assisted=assisted)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/volunteers", page),
        web.post("/volunteers/invites", invite),
        web.post("/volunteers/invites/{code:[A-Za-z0-9]{1,16}}/revoke", revoke_invite),
        web.get("/volunteers/{contact_id:[0-9a-f]{24}}", reports),
        web.post("/volunteers/{contact_id:[0-9a-f]{24}}/revoke", revoke),
    ]
