"""Held messages: what could not go out as free text waits for the person to write again (issue 12).

WhatsApp allows free text only within 24 hours of the person's last message. A message that cannot go out
(outside the window by our own check, or refused by the Graph API with 131047) is not dropped:

- ``hold``: the claimed outbox document moves ``sending → held`` (parts already delivered are remembered in
  ``parts_sent``), and the contact gets ONE invitation: the approved template with a quick-reply button whose
  payload is ``RELEASE_PAYLOAD``. Several held messages share one invitation: a marker in ``held_invites``
  (``_id`` = contact id, inserted once, so concurrent holds cannot both invite) is kept until the contact
  writes; a new hold invites again only when the last invitation is older than ``INVITE_AGAIN_AFTER``.
- The contact document carries ``has_held`` while something is held for them (set after each hold, removed
  just before each release), so ``on_inbound`` costs no query for a contact with nothing held. A hold that
  finds the window open after all (our own check re-run, or an inbound of the last ``JUST_NOW`` still being
  handled: it may have passed ``on_inbound`` before the marker was set) releases at once.
- ``on_inbound`` (the one call in the inbound path): any message from the contact opens the window again, so
  everything held for them goes back to ``queued`` in the order it was created, pushed as replies (priority
  0, in that order, before the replies to what they wrote). Each document leaves ``held`` in one conditional update, so two
  taps or two processes racing release it once. The button tap itself ends there (``True``: no dialogue
  turn); if nothing was held any more it gets ``held/nothing``. Anything else the person wrote is then
  handled as usual, and its replies come after the released messages.

Campaign messages are never held (they have their own templates, see ``outreach/dispatch.py``).
"""
from __future__ import annotations

import logging
from datetime import timedelta

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from bot.messages import Choice, Identity, InboundMessage, OutboundMessage, utcnow
from bot.outbox import SendResult, mask_user
from bot.storage.leases import PROCESS_ID

log = logging.getLogger(__name__)

HELD = "held"
HOLD_CHANNELS = ("whatsapp",)  # channels with a service window
RELEASE_PAYLOAD = "held:show"  # the invitation's quick-reply payload (contains ":" so channels pass it on)
INVITE_KIND = "held_invite"
INVITE_AGAIN_AFTER = timedelta(hours=24)
JUST_NOW = timedelta(minutes=2)  # an inbound this recent counts as "the person is writing" when holding


def holdable(doc: dict) -> bool:
    """Replies, notifications and staff messages wait; campaigns and invitations themselves do not."""
    return not doc.get("campaign") and doc.get("kind") not in (INVITE_KIND, "template_fallback")


def is_release(inbound: InboundMessage) -> bool:
    return (inbound.payload or "") == RELEASE_PAYLOAD


class HeldMessages:
    def __init__(self, stores, outbox, renderer):
        self.stores, self.outbox, self.renderer = stores, outbox, renderer
        self.col = stores.messages.col
        self.invites = stores.db["held_invites"]

    @classmethod
    def of(cls, engine) -> "HeldMessages":
        return cls(engine.stores, engine.outbox, engine.renderer)

    # ------------------------------------------------------------------ holding (sender side)
    async def hold(self, doc: dict, contact: dict | None, reason: str, *, parts_sent: int = 0,
                   window_open=None) -> SendResult:
        """Park a claimed message. ``window_open`` (our own check, re-run after parking) closes the race with
        a message from the person arriving meanwhile: then it is released at once instead of invited for."""
        res = await self.col.update_one(
            {"_id": doc["_id"], "status": "sending"},
            {"$set": {"status": HELD, "held_at": utcnow(), "held_reason": reason, "parts_sent": parts_sent}})
        if res.modified_count != 1:  # the claim expired meanwhile (marked interrupted): leave it so
            return SendResult("failed", error="interrupted")
        log.info("message %s to %s held (%s)", doc["_id"], mask_user(doc.get("user_id")), reason)
        await self.stores.contacts.mark_held([doc.get("contact_id")])
        if window_open is not None and (await window_open() or await self.wrote_just_now(doc.get("contact_id"))):
            await self.release(doc.get("contact_id"))
        else:
            await self.invite(doc, contact)
        return SendResult(HELD, error=reason)

    async def hold_copy(self, doc: dict, contact: dict | None, reason: str) -> None:
        """A message reported sent and later refused (a ``failed`` receipt with 131047): hold a copy of it."""
        copy = {k: doc.get(k) for k in ("channel", "user_id", "contact_id", "kind", "text", "choices",
                                        "request_location", "template", "template_params", "priority")}
        now = utcnow()
        copy.update(_id=ObjectId(), direction="out", status=HELD, held_at=now, held_reason=reason, parts_sent=0,
                    attempts=0, next_attempt_at=now, created_at=now, sent_at=None, copy_of=doc["_id"])
        await self.col.insert_one(copy)
        await self.stores.contacts.mark_held([copy.get("contact_id")])
        await self.invite(copy, contact)

    async def invite(self, doc: dict, contact: dict | None) -> bool:
        """Queue the invitation template unless one went out recently for this contact. True if queued."""
        cid = doc.get("contact_id")
        if cid is None:
            return False
        now = utcnow()
        try:
            await self.invites.insert_one({"_id": cid, "invited_at": now})
        except DuplicateKeyError:
            res = await self.invites.update_one({"_id": cid, "invited_at": {"$lte": now - INVITE_AGAIN_AFTER}},
                                                {"$set": {"invited_at": now}})
            if res.modified_count != 1:
                return False
        lang = (contact or {}).get("language") or "id"
        params = [str(p) for p in (doc.get("template_params") or [])][:2]
        if len(params) < 2:
            params = [self.renderer.render("held/subject", lang), self.renderer.render("held/status", lang)]
        msg = OutboundMessage(
            Identity(doc["channel"], doc["user_id"]), self.renderer.render("held/invite", lang, params=params),
            choices=[Choice(RELEASE_PAYLOAD, self.renderer.render("held/button", lang))], kind=INVITE_KIND,
            template="held/invite", template_params=params, contact_id=cid, priority=doc.get("priority", 5))
        await self.outbox.enqueue([msg])
        return True

    # ------------------------------------------------------------------ releasing (inbound side)
    async def wrote_just_now(self, contact_id) -> bool:
        """A message from the person is being handled (stored in the last ``JUST_NOW``, its turn not finished):
        it may have passed ``on_inbound`` before the contact's ``has_held`` marker was set, and its turn may not
        have saved ``last_inbound_at`` yet."""
        if contact_id is None:
            return False
        return await self.col.find_one({"contact_id": contact_id, "direction": "in", "status": "received",
                                        "created_at": {"$gte": utcnow() - JUST_NOW}}, {"_id": 1}) is not None

    async def release(self, contact_id, wrote_at=None) -> list[dict]:
        """Everything held for the contact back to ``queued``, in creation order, each document once.
        The contact's ``has_held`` marker goes first (a message held meanwhile sets it again), together with
        ``wrote_at`` raised into the conversation's ``last_inbound_at``."""
        if contact_id is None:
            return []
        await self.stores.contacts.clear_held(contact_id, wrote_at)
        token, now = ObjectId(), utcnow()
        res = await self.col.update_many(
            {"contact_id": contact_id, "direction": "out", "status": HELD},
            {"$set": {"status": "queued", "release_id": token, "released_at": now, "next_attempt_at": now,
                      "queued_by": PROCESS_ID}})
        if not res.modified_count:
            return []
        docs = await self.col.find({"release_id": token}).sort(
            [("created_at", ASCENDING), ("_id", ASCENDING)]).to_list(None)
        await self.invites.delete_one({"_id": contact_id})
        for d in docs:
            worker = self.outbox.workers.get(d["channel"])
            if worker is not None:  # otherwise the sweeper of the process holding the lease sends them
                worker.push(0, d["_id"], d.get("user_id"))
        return docs

    async def on_inbound(self, contact: dict, inbound: InboundMessage) -> bool:
        """The person wrote: the window is open; release what was held. True when the message was only the
        invitation's button (consumed here, no dialogue turn)."""
        if inbound.identity.channel not in HOLD_CHANNELS:
            return False
        if not contact.get("has_held") and not is_release(inbound):  # nothing held: no query at all
            return False
        # the turn saves last_inbound_at too, but released messages may reach the sender before it has saved
        released = await self.release(contact["_id"], wrote_at=inbound.received_at)
        if not is_release(inbound):
            return False
        if not released:
            lang = contact.get("language") or "id"
            await self.outbox.enqueue([OutboundMessage(
                Identity(inbound.identity.channel, inbound.identity.user_id),
                self.renderer.render("held/nothing", lang), template="held/nothing", contact_id=contact["_id"])])
        log.info("held messages for %s released by the button: %d", mask_user(inbound.identity.user_id),
                 len(released))
        return True


async def on_inbound(engine, contact: dict, inbound: InboundMessage) -> bool:
    """The hook for the inbound path (see ``HeldMessages.on_inbound``)."""
    return await HeldMessages.of(engine).on_inbound(contact, inbound)
