"""The data subject's rights under UU No. 27/2022 (PDP): access (``summary``) and erasure (``erase``).

Both take the ``Stores`` and a contact id, so the chat command and the admin API share them.

``erase`` forgets the person and keeps their reports for the agencies, without them:
- deleted: the contact (identity, name, language, consent, subscription, tags) and the SMS contact the
  staff side created for their phone number (notifications of a report filed for them), every message to or
  from them, their conversation state and draft, handoff requests (transcripts), volunteer membership, the last
  numbered menu the channel showed them, unprocessed WhatsApp webhook payloads from them, and the files they
  sent that no kept report uses;
- pseudonymised: reports they filed (``contact_id`` becomes a fresh random id per report, ``reporter_name``
  goes), reports they filed as a volunteer (``volunteer_id`` likewise; the data of the person they helped
  stays), reports they supported (removed from ``supporters``), reports a volunteer filed for them (their
  name and phone in ``on_behalf`` go), campaign deliveries (fresh random id), subscription events and
  notification records (no contact id);
- kept: what the reports themselves say (description, place, additions, rating) and the files attached to
  them (already stripped of EXIF on receipt; the uploader's traces in the file metadata go).
Each pseudonymised report and the erasure itself are written to the audit log, with counts only.

The reply that confirms an erasure is the last trace: ``purge_after_reply`` removes it (and the state
saved with it) once it has been delivered; ``erasures`` remembers what is still to purge, so the retention
sweep finishes the job if this process stops first.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.messages import utcnow
from bot.phones import normalize_phone
from bot.storage.erasures import ErasureStore

log = logging.getLogger(__name__)

PURGE_POLL_S = 0.5
PURGE_PATIENCE_S = 600.0


def _phone_of(contact: dict) -> str | None:
    """The contact's phone in E.164: the channel identity on WhatsApp and SMS, else the number the person proved
    to own with an SMS code (``verified_phone``, bot/dialogue/behalf.py)."""
    uid = contact.get("user_id") or ""
    if contact.get("channel") == "whatsapp":
        return normalize_phone("+" + uid.lstrip("+"))
    if contact.get("channel") == "sms":
        return normalize_phone(uid)
    return contact.get("verified_phone")


# ------------------------------------------------------------------ access
async def summary(stores, contact_id) -> dict | None:
    """What is stored about this contact, summarised (no channel user id, no message bodies)."""
    contact = await stores.contacts.get(contact_id)
    if contact is None:
        return None
    reports = []
    for r in await stores.reports.of_party(contact_id).sort("created_at", -1).to_list(500):
        role = ("reporter" if r.get("contact_id") == contact_id else
                "volunteer" if r.get("volunteer_id") == contact_id else "supporter")
        reports.append({"tracking_id": r["tracking_id"], "status": r.get("status"), "role": role,
                        "privacy": r.get("privacy"), "created_at": r.get("created_at")})
    phone = _phone_of(contact)
    if phone:  # reports a volunteer filed for this number
        async for r in stores.reports.filed_for_someone():
            if normalize_phone(r["on_behalf"]["phone"]) == phone:
                reports.append({"tracking_id": r["tracking_id"], "status": r.get("status"), "role": "filed_for",
                                "privacy": r.get("privacy"), "created_at": r.get("created_at")})
    state = await stores.conversations.stored(contact_id) or {}
    draft = ({"flow": state.get("flow"), "started_at": state.get("flow_started_at"),
              "fields": sorted(k for k in (state.get("slots") or {}) if not k.startswith("_"))}
             if state.get("flow") else None)
    sub = contact.get("subscription") or {}
    consent = contact.get("consent") or {}
    return {
        "contact": {"name": contact.get("name"), "channel": contact.get("channel"),
                    "language": contact.get("language"), "role": contact.get("role"),
                    "created_at": contact.get("created_at"),
                    "consent": ({"given": consent.get("given"), "at": consent.get("at")} if consent else None),
                    "reachable": contact.get("reachable", True)},
        "messages": {"received": await stores.messages.count_of_contact(contact_id, "in"),
                     "sent": await stores.messages.count_of_contact(contact_id, "out")},
        "reports": reports,
        "subscription": ({"status": sub.get("status"), "since": sub.get("since"),
                          "campaign": sub.get("campaign")} if sub else None),
        "draft": draft,
        "handoffs": await stores.handoffs.count_of_contact(contact_id),
        "volunteer": await stores.volunteers.has_membership(contact_id),
        "files": len(await _files_sent_by(stores, contact, state)),
    }


# ------------------------------------------------------------------ erasure
async def _files_sent_by(stores, contact: dict, state: dict | None = None) -> set:
    """GridFS ids of files this contact sent: in their messages, their draft, their web chat uploads."""
    ids = set()
    async for m in stores.messages.inbound_media_of_contact(contact["_id"]):
        ids.update(x.get("gridfs_id") for x in m.get("media") or [] if x.get("gridfs_id"))
    for a in ((state or {}).get("slots") or {}).get("attachments") or []:
        if a.get("gridfs_id"):
            ids.add(a["gridfs_id"])
    if contact.get("channel") == "webchat":
        ids.update(await stores.files.visitor_file_ids(contact.get("user_id")))
    return ids


async def erase(stores, contact_id, actor: str, *, in_turn: bool = False) -> dict | None:
    """Forget a contact (see the module docstring). Returns counts, or None for an unknown contact.

    ``in_turn``: called from the contact's own dialogue turn, which sends a reply afterwards (removed by
    ``purge_after_reply``); its conversation state goes with the contact document, so the turn's save finds
    nothing to write back. From the admin API the conversation is deleted at once."""
    contact = await stores.contacts.get(contact_id)
    if contact is None:
        return None
    erasures = ErasureStore(stores.db)
    channel, user_id = contact.get("channel"), contact.get("user_id")
    now = utcnow()
    counts: dict = {}
    await erasures.begin(contact_id, now)

    # reports: keep them for the agency, without the person
    rep = stores.reports
    pseudonymised = []
    async for r in rep.of_party(contact_id, {"tracking_id": 1, "contact_id": 1, "volunteer_id": 1}):
        await rep.pseudonymise_party(r, contact_id, now)
        pseudonymised.append(r["tracking_id"])
    phone = _phone_of(contact)
    if phone:  # reports a volunteer filed for this person: their name and phone go
        async for r in rep.filed_for_someone({"tracking_id": 1, "on_behalf": 1}):
            if normalize_phone(r["on_behalf"]["phone"]) == phone:
                await rep.erase_on_behalf(r["_id"], now)
                pseudonymised.append(r["tracking_id"])
    counts["reports"] = len(set(pseudonymised))

    # files they sent: deleted unless a kept report uses them (then only the uploader's traces go)
    state = await stores.conversations.stored(contact_id) or {}
    files = await _files_sent_by(stores, contact, state)
    kept = set()
    if files:
        async for r in rep.using_files(list(files)):
            kept.update(a.get("gridfs_id") for a in r.get("attachments") or [])
    counts["files_deleted"] = await stores.files.delete_many(files - kept)
    if files & kept:
        await stores.files.strip_uploader(list(files & kept))

    # everything else about them
    counts["messages"] = await stores.messages.delete_of_contact(contact_id)
    counts["messages"] += await stores.messages.delete_of_identity(channel, user_id)
    counts["handoffs"] = await stores.handoffs.delete_of_contact(contact_id)
    await stores.volunteers.delete_of_contact(contact_id)
    if channel == "whatsapp":
        await erasures.forget_whatsapp_payloads(user_id)
    await erasures.unlink_subscription_events(contact_id)
    await stores.notifications.unlink_contact(contact_id)
    await erasures.pseudonymise_deliveries(contact_id)
    if not in_turn:
        await stores.conversations.delete(contact_id)
    await stores.contacts.delete(contact_id)

    if phone:  # the SMS contact the staff side made to tell this number about a report filed for it
        for other in await stores.contacts.notified_sms_contacts(phone, contact_id):
            await erase(stores, other["_id"], actor)
    await stores.audit.record(actor, "contact_erase", str(contact_id), {k: v for k, v in counts.items()})
    for tid in sorted(set(pseudonymised)):
        await stores.audit.record(actor, "report_pseudonymise", tid, {"reason": "contact_erase"})
    if not in_turn:
        await erasures.finish(contact_id)
    log.info("contact erased by %s: %s", actor, counts)
    return counts


# ------------------------------------------------------------------ the last reply
async def purge_erased(stores, contact_id) -> bool:
    """Remove what an erased contact's last turn left (its reply once sent, its saved state).
    True when nothing is left to wait for."""
    waiting = await stores.messages.count_unsent_of_contact(contact_id)
    await stores.messages.delete_settled_of_contact(contact_id)
    await stores.conversations.delete(contact_id)
    if waiting:
        return False
    await ErasureStore(stores.db).finish(contact_id)
    return True


async def purge_after_reply(stores, contact_id, since: datetime, patience_s: float = PURGE_PATIENCE_S) -> None:
    """Wait for the confirmation reply of an in-turn erasure to be stored and delivered, then purge.
    Bounded: after ``patience_s`` the retention sweep takes over (``erasures``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience_s
    try:
        while loop.time() < deadline:
            await asyncio.sleep(PURGE_POLL_S)
            replied = await stores.messages.reply_since(contact_id, since)
            if replied and await purge_erased(stores, contact_id):
                return
    except Exception as exc:  # the sweep finishes it
        log.warning("purge after erasure postponed: %s", type(exc).__name__)


async def forget_messages_and_files(stores, contact: dict) -> None:
    """What declining consent leaves behind goes: the files and the inbound messages received so far."""
    files = await _files_sent_by(stores, contact)
    if files:
        await stores.files.delete_many(files)
    await stores.messages.delete_inbound_of_contact(contact["_id"])


def forget_declined(turn) -> None:
    """Consent declined (called by the dialogue's consent question): drop the name now, and every message and
    file received so far once the turn saved. The contact document stays as the opt-out."""
    turn.state["held"] = None  # not popped: saving $sets the state's keys, a popped one would stay stored
    turn.set_contact(name=None)
    stores, contact = turn.stores, dict(turn.contact)
    turn.effect(lambda: forget_messages_and_files(stores, contact))
