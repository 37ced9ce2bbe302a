"""The engine: one path for every inbound message, whatever the channel.

handle(inbound):
  1. clean the text (control characters, size limit; the original size is kept)
  2. find or create the contact (this process's cached copy while it runs alone: no read; see
     ``bot/storage/contact_cache.py``), store the inbound message (a redelivered id stops here, unless its
     earlier turn died unfinished: see ``MessageStore.store_inbound``)
  3. run one dialogue turn under a per-contact lock on the state read with the contact (``contact.conv``),
     saved with the contact's changes in one update with an optimistic version check
     (another process saving first makes us reload and rerun the turn); the turn's effects (added
     information, ratings, objections, notifications…) run only after its state saved, so exactly once; the
     saved conversation lists the inbound ids it answered, so a rerun after a crash never answers twice, and
     keeps the last turn's rendered replies (``replied``, ids fixed before the save), so a process killed
     between the save and the outbox insert does not lose them: the rerun queues exactly those
  4. store the replies in the outbox (queued, or already delivered for inline channels), mark the inbound
     ``processed``
"""
from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
import weakref
from collections import OrderedDict

import bson
from bson import ObjectId
from pymongo.errors import PyMongoError

from bot import held
from bot.dialogue.runtime import Dialogue
from bot.dialogue.turn import NoLifecycle, Ports, Turn
from bot.messages import Choice, Identity, InboundMessage, OutboundMessage
from bot.outbox import Outbox, mask_user
from bot.storage.contact_cache import CACHED, REV
from bot.storage.conversations import VersionConflict, state_of, version_of, without_state
from bot.templates import Renderer

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


def plain_digits(text: str) -> str:
    """Digits that ``str.isdigit()`` accepts but ``int()`` refuses (², ①, ➍...) become ASCII digits, so no
    "is it a number?" check downstream can crash on them."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.digit(ch)) if ch.isdigit() and not ch.isdecimal() else ch for ch in text)


UNREAD = "_unread"  # marks a contact ``accept`` did not read (only its id is known)
HANDLED_KEPT = 20  # inbound ids a conversation remembers as answered
SAVED_VERSIONS_KEPT = 4096  # contacts whose last saved state version this process remembers
STALE_RESTARTS = 3  # a cached contact found out of date: read it and start the inbound path again


# per-citizen order across processes: how long a turn waits, in steps, for an earlier message of the same contact
# that another process is still running (then it goes ahead: order is kept, a stuck process cannot stall it)
ORDER_WAITS_S = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, None)


class _Behind(Exception):
    """An earlier message of the contact is still running (in another process): run this turn again later."""


class _Stale(Exception):
    """The turn ran on a cached contact that changed since (its save matched nothing): read it and start the
    inbound path again (held messages, live conversation, turn)."""


class TurnFailed(Exception):
    """The turn could not be completed (database outage). Nothing was half-written; the user may retry."""


def clean_text(msg: InboundMessage, max_chars: int) -> InboundMessage:
    text = unicodedata.normalize("NFC", _CONTROL.sub("", msg.text or ""))
    text = plain_digits(text)
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) > max_chars:
        msg.original_size = len(msg.text)
        text = text[:max_chars]
    msg.text = text
    return msg


def replied_entry(inbound_id, replies: list[OutboundMessage]) -> dict:
    """The last turn's replies as kept in its conversation state (ids fixed here, before the save)."""
    for m in replies:
        m.message_id = m.message_id or ObjectId()
    return {"inbound": inbound_id, "out": [
        {"_id": m.message_id, "text": m.text, "template": m.template, "location": m.request_location or None,
         "choices": [[c.payload, c.label, c.description] for c in m.choices] or None} for m in replies]}


def saved_replies(state: dict, inbound_id, inbound: InboundMessage, contact_id) -> list[OutboundMessage]:
    """The replies saved with the turn of ``inbound_id`` ([] when a later turn replaced them)."""
    kept = state.get("replied") or {}
    if kept.get("inbound") != inbound_id:
        log.warning("a turn saved before a crash: its replies were replaced by a later turn's, not resent")
        return []
    return [OutboundMessage(identity=inbound.identity, text=r["text"], template=r.get("template"),
                            choices=[Choice(*c) for c in r.get("choices") or []],
                            request_location=bool(r.get("location")), contact_id=contact_id, priority=0,
                            message_id=r["_id"]) for r in kept.get("out") or []]


class Engine:
    def __init__(self, stores, outbox: Outbox, nlu, settings, renderer: Renderer | None = None,
                 dialogue: Dialogue | None = None):
        self.stores, self.outbox, self.nlu, self.settings = stores, outbox, nlu, settings
        self.renderer = renderer or Renderer()
        self.dialogue = dialogue or Dialogue()
        # what a turn sees of the bot; the staff side sets ``ports.lifecycle`` (deadlines, notifications)
        self.ports = Ports(stores=stores, nlu=nlu, settings=settings, renderer=self.renderer, lifecycle=NoLifecycle())
        # features that may take a message away from the dialogue, asked in order under the contact's lock:
        # ``async (engine, contact, inbound) -> bool`` (True: handled, no turn). The staff side's live
        # conversations register one (bot/staff/handoff.py).
        self.interceptors: list = []
        self._locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self._saved_versions: OrderedDict = OrderedDict()  # contact id -> state version this process saved
        self.metrics = {"turns": 0, "nlu_turns": 0, "duplicates": 0, "conflicts": 0, "stale": 0, "failures": 0}

    def _lock(self, key) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def accept(self, inbound: InboundMessage, contact_id=None) -> tuple[dict, ObjectId | None]:
        """Steps 1–3 on their own: clean the text, find or create the contact, store the inbound message.
        Returns (contact, stored id); the id is None for a redelivered message that is not ours to run.
        A channel whose stored message is its inbox (WhatsApp) calls this before acknowledging the webhook,
        then ``handle(inbound, accepted=...)``. With ``contact_id`` (the channel has a turn of this contact
        waiting, so the contact exists and a read now would be stale by then) the contact is read by the turn.
        Raises PyMongoError while the database is away."""
        clean_text(inbound, self.settings.lapor_max_text_chars)
        if contact_id is not None:
            return {"_id": contact_id, UNREAD: True}, await self.stores.messages.store_inbound(inbound, contact_id)
        contact = await self.stores.contacts.get_or_create(inbound.identity, self.settings.lapor_default_language,
                                                           cached=self._alone())
        return contact, await self.stores.messages.store_inbound(inbound, contact["_id"])

    async def handle(self, inbound: InboundMessage, *, inline: bool = False,
                     accepted: tuple[dict, ObjectId | None] | None = None) -> list[OutboundMessage]:
        """Process one inbound message; returns the replies (already stored in the outbox).

        ``inline`` is for channels that deliver replies in their own response (console, TwiML, web chat).
        ``accepted`` is what ``accept`` returned for this message, when the channel stored it already.
        Raises TurnFailed when storage is unavailable; nothing of the turn is then saved.
        """
        corr = uuid.uuid4().hex[:8]
        stored = None
        try:
            if accepted is None:
                contact, stored = await self.accept(inbound)
            else:
                contact, stored = accepted
                if contact.get(UNREAD) or self._saved_versions.get(contact["_id"], -1) > version_of(contact):
                    # not read yet, or read before an earlier turn of this contact saved: read it now
                    contact = await self.stores.contacts.get_with_state(contact["_id"], cached=self._alone()) or \
                        await self.stores.contacts.get_or_create(inbound.identity,  # erased meanwhile
                                                                 self.settings.lapor_default_language)
            if stored is None:
                self.metrics["duplicates"] += 1
                log.info("turn %s duplicate %s message from %s ignored", corr, inbound.identity.channel,
                         mask_user(inbound.identity.user_id))
                return []
            text, payload = inbound.text, inbound.payload
            for _ in range(STALE_RESTARTS):
                inbound.text, inbound.payload = text, payload  # each start from the message as received
                try:
                    turn, replies = await self._inbound_path(contact, inbound, stored)
                    break
                except _Stale:  # the cached copy was out of date: read the contact, start again
                    contact = await self._reread(contact["_id"], inbound, stored)
            else:
                raise TurnFailed("contact kept changing under us")
            if turn is False:  # handled without a turn (held messages released, a live conversation)
                await self.stores.messages.mark_inbound(stored, "processed")
                return []
            if turn is None:  # the turn was saved before a crash: only the bookkeeping below was missing
                await self._queue_saved(replies, inline)
                await self.stores.messages.mark_inbound(stored, "processed")
                return replies
            await self.outbox.enqueue(replies, already_sent=inline)
            # a typed number answered the last choices: the stored message keeps what it meant
            meant = {"payload": inbound.payload} if inbound.payload and not payload else {}
            await self.stores.messages.mark_inbound(stored, "processed", **meant)
        except PyMongoError as exc:
            self.metrics["failures"] += 1
            log.warning("turn %s failed: database unavailable (%s)", corr, type(exc).__name__)
            raise TurnFailed(str(exc)) from exc
        except Exception as exc:  # a bug must not lose the message: it stays stored, marked failed
            self.metrics["failures"] += 1
            log.exception("turn %s crashed (%s); inbound kept for review", corr, type(exc).__name__)
            if stored is not None:
                try:
                    await self.stores.messages.mark_inbound(stored, "failed", error=type(exc).__name__)
                except PyMongoError:
                    pass
            raise TurnFailed(type(exc).__name__) from exc
        self.metrics["turns"] += 1
        if turn.nlu_calls:
            self.metrics["nlu_turns"] += 1
        log.info("turn %s %s from %s: flow=%s step=%s replies=%d nlu=%d", corr, inbound.identity.channel,
                 mask_user(inbound.identity.user_id), turn.state.get("flow"), turn.state.get("step"),
                 len(replies), turn.nlu_calls)
        return replies

    async def _inbound_path(self, contact: dict, inbound: InboundMessage, stored) -> tuple:
        """Steps 4–6 of ``handle``: (False, []) when no turn ran, else what ``_run_turn`` returned.
        Raises _Stale when ``contact`` was a cached copy that turned out old."""
        cached = contact.pop(CACHED, False)
        if await held.on_inbound(self, contact, inbound):  # a WhatsApp message releases what was held for the contact
            return False, []
        if contact.pop("has_held", None):  # released just now: that write raised ``rev`` (save on the version)
            cached = False
        for wait in ORDER_WAITS_S:  # an earlier message of the contact still running elsewhere: it goes first
            async with self._lock(contact["_id"]):
                for intercept in self.interceptors:  # e.g. a staff member holds the conversation
                    if await intercept(self, contact, inbound):
                        return False, []
                try:
                    return await self._run_turn(contact, inbound, stored, keep_order=wait is not None, cached=cached)
                except _Behind:
                    pass
            await asyncio.sleep(wait)
        raise AssertionError("the last wait is None: the turn runs")  # pragma: no cover

    async def _reread(self, contact_id, inbound: InboundMessage, stored) -> dict:
        """The contact as stored now; erased meanwhile (by another process): created again, with the stored
        inbound message moved to the new contact."""
        fresh = await self.stores.contacts.get_with_state(contact_id)
        if fresh is None:
            fresh = await self.stores.contacts.get_or_create(inbound.identity, self.settings.lapor_default_language)
            await self.stores.messages.set_contact(stored, fresh["_id"])
        return fresh

    def _alone(self) -> bool:
        """No other bot process is live: this process's cached contacts can be used (they are checked anyway)."""
        return not self._other_processes()

    async def _run_turn(self, contact: dict, inbound: InboundMessage, inbound_id=None,
                        keep_order: bool = False, cached: bool = False) -> tuple[Turn | None, list[OutboundMessage]]:
        """Run and save one turn: (turn, its rendered replies). When the conversation already saved this
        inbound's turn (a rerun after a crash): (None, the replies saved with it, if still kept), so a message
        is never answered twice, nor left unanswered. ``keep_order``: with other bot processes live, the
        state is not saved while an earlier message of the contact is still running (``_Behind``).

        The state comes with ``contact`` (its ``conv``, read by ``get_or_create``); the new state and the
        turn's contact changes are written by one update. A contact gone when saving was erased during the
        turn (its own "hapus data saya", or an admin): nothing is written back and no effect runs."""
        convs = self.stores.conversations
        if self._saved_versions.get(contact["_id"], -1) > version_of(contact):
            # a turn of this process saved since ``contact`` was read (two messages at once): re-read now
            # rather than run into the version conflict
            fresh = await self.stores.contacts.get_with_state(contact["_id"], cached=self._alone())
            if fresh is not None:
                contact, cached = fresh, fresh.pop(CACHED, False)
        text, payload = inbound.text, inbound.payload  # a turn may rewrite them (held first message, a number)
        for attempt in range(5):
            inbound.text, inbound.payload = text, payload  # a rerun starts from the message as received
            before = bson.encode(contact) if self._alone() else None
            state = state_of(contact)
            if inbound_id is not None and inbound_id in (state.get("handled") or []):
                return None, saved_replies(state, inbound_id, inbound, contact["_id"])
            turn = Turn(self.ports, without_state(contact), state, inbound)
            await self.dialogue.run(turn)
            self.dialogue.remember_choices(turn)
            state["last_inbound_at"] = inbound.received_at
            replies = turn.render()
            if inbound_id is not None:  # saved with the state: the proof this turn happened, and its replies
                state["handled"] = [*(state.get("handled") or [])[-(HANDLED_KEPT - 1):], inbound_id]
                state["replied"] = replied_entry(inbound_id, replies)
                if keep_order and self._other_processes() and await self.stores.messages.earlier_in_flight(
                        contact["_id"], inbound_id, inbound.received_at):
                    raise _Behind()  # nothing of this attempt was written; its effects are dropped with it
            try:
                await convs.save(state, turn.contact_updates, rev=(contact.get(REV) or 0) if cached else None,
                                 before=before)  # cached as saved (while this process runs alone)
            except VersionConflict:
                # another process answered first: this attempt's effects are dropped with it, the turn reruns
                if cached and not turn.erased:
                    self.metrics["stale"] += 1
                    raise _Stale() from None
                fresh = await self.stores.contacts.get_with_state(contact["_id"])
                if fresh is None:
                    return turn, replies
                self.metrics["conflicts"] += 1
                contact = fresh
                continue
            self._note_saved(contact["_id"], state["version"])
            said = len(turn.replies)
            for effect in turn.effects:  # once per inbound message: only the attempt whose state saved
                await effect()
            if len(turn.replies) > said:  # an effect said something too (not kept with the state)
                replies += turn.render()[said:]
            return turn, replies
        raise TurnFailed("conversation kept changing under us")

    def _note_saved(self, contact_id, version: int) -> None:
        saved = self._saved_versions
        saved[contact_id] = version
        saved.move_to_end(contact_id)
        if len(saved) > SAVED_VERSIONS_KEPT:
            saved.popitem(last=False)

    def _other_processes(self) -> bool:
        """Other bot processes are live (their heartbeats, ``bot/storage/rate_shares.py``): only then can an
        earlier message of the same contact be running elsewhere (in this process the lock orders turns)."""
        shares = getattr(self.outbox, "shares", None)
        return shares is not None and shares.peers > 1

    async def _queue_saved(self, replies: list[OutboundMessage], inline: bool) -> None:
        """Queue the replies of a turn saved before a crash. Their ids were fixed before the save, so those
        the crashed process had queued already are kept, not added twice; the outbox sweep sends the rest."""
        if replies:
            docs = [self.stores.messages.outbound_doc(m, "sent" if inline else "queued") for m in replies]
            n = await self.stores.messages.insert_outbound(docs)
            log.info("a turn saved before a crash: %d of its %d replies queued now", n, len(replies))

    def failure_text(self, lang: str = "id") -> str:
        """What a channel says when TurnFailed: rendered without touching the database."""
        return self.renderer.render("errors/unavailable", lang)

    async def notify(self, contact: dict, template: str, *, kind: str = "notification", priority: int = 5,
                     choices: list[tuple[str, str]] | None = None, template_params: list[str] | None = None,
                     **ctx) -> OutboundMessage:
        """Queue a message the person did not just ask for (status change, reminder)."""
        lang = contact.get("language") or "id"
        text = self.renderer.render(template, lang, contact=contact, **ctx)
        msg = OutboundMessage(
            identity=Identity(contact["channel"], contact["user_id"]), text=text,
            choices=[Choice(p, self.renderer.label(lbl, lang) if self.renderer.is_label_key(lbl) else lbl)
                     for p, lbl in (choices or [])],
            kind=kind, template=template, template_params=template_params or [],
            contact_id=contact["_id"], priority=priority)
        await self.outbox.enqueue([msg])
        return msg
