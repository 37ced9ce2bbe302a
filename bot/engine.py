"""The engine: one path for every inbound message, whatever the channel.

handle(inbound):
  1. clean the text (control characters, size limit; the original size is kept)
  2. find or create the contact, store the inbound message (a redelivered id stops here)
  3. run one dialogue turn under a per-contact lock, saved with an optimistic version check
     (another process saving first makes us reload and rerun the turn)
  4. store the replies in the outbox (queued, or already delivered for inline channels)
"""
from __future__ import annotations

import asyncio
import logging
import re
import unicodedata
import uuid
import weakref

from pymongo.errors import PyMongoError

from bot import held
from bot.dialogue.runtime import Dialogue
from bot.dialogue.turn import Turn
from bot.messages import Choice, Identity, InboundMessage, OutboundMessage
from bot.outbox import Outbox, mask_user
from bot.staff import handoff as handoffs
from bot.storage import turn_ledger
from bot.storage.conversations import VersionConflict
from bot.templates import Renderer

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


class TurnFailed(Exception):
    """The turn could not be completed (database outage). Nothing was half-written; the user may retry."""


def clean_text(msg: InboundMessage, max_chars: int) -> InboundMessage:
    text = unicodedata.normalize("NFC", _CONTROL.sub("", msg.text or ""))
    text = re.sub(r"[ \t]+", " ", text).strip()
    if len(text) > max_chars:
        msg.original_size = len(msg.text)
        text = text[:max_chars]
    msg.text = text
    return msg


class Engine:
    def __init__(self, stores, outbox: Outbox, nlu, settings, renderer: Renderer | None = None,
                 dialogue: Dialogue | None = None):
        self.stores, self.outbox, self.nlu, self.settings = stores, outbox, nlu, settings
        self.renderer = renderer or Renderer()
        self.dialogue = dialogue or Dialogue()
        self._locks: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
        self.metrics = {"turns": 0, "nlu_turns": 0, "duplicates": 0, "conflicts": 0, "failures": 0}
        self.services: dict = {}  # optional collaborators registered by subsystems (agencies, outreach…)

    def _lock(self, key) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[key] = lock
        return lock

    async def handle(self, inbound: InboundMessage, *, inline: bool = False) -> list[OutboundMessage]:
        """Process one inbound message; returns the replies (already stored in the outbox).

        ``inline`` is for channels that deliver replies in their own response (console, TwiML, web chat).
        Raises TurnFailed when storage is unavailable; nothing of the turn is then saved.
        """
        clean_text(inbound, self.settings.lapor_max_text_chars)
        corr = uuid.uuid4().hex[:8]
        stored = None
        try:
            contact = await self.stores.contacts.get_or_create(inbound.identity, self.settings.lapor_default_language)
            stored = await self.stores.messages.store_inbound(inbound, contact["_id"])
            if stored is None:  # stored before: a duplicate, unless its turn was cut off (bot/storage/turn_ledger.py)
                stored = await turn_ledger.interrupted(self.stores, inbound, contact["_id"])
            if stored is None:
                self.metrics["duplicates"] += 1
                log.info("turn %s duplicate %s message from %s ignored", corr, inbound.identity.channel,
                         mask_user(inbound.identity.user_id))
                return []
            if await held.on_inbound(self, contact, inbound):  # a WhatsApp message releases what was held for the contact
                return []
            async with self._lock(contact["_id"]):
                if await handoffs.intercept(self, contact, inbound):  # a staff member holds the conversation
                    return []
                turn = await self._run_turn(contact, inbound)
            if turn is None:  # another process consumed this message first
                self.metrics["duplicates"] += 1
                return []
            replies = turn.rendered
            await self.outbox.enqueue(replies, already_sent=inline)
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

    async def _run_turn(self, contact: dict, inbound: InboundMessage) -> Turn | None:
        for attempt in range(5):
            state = await self.stores.conversations.load(contact["_id"])
            if turn_ledger.consumed(state, inbound):
                return None
            turn = Turn(self, dict(contact), state, inbound)
            await self.dialogue.run(turn)
            self.dialogue.remember_choices(turn)
            state["last_inbound_at"] = inbound.received_at
            turn_ledger.record(state, inbound)
            turn.rendered = turn_ledger.stash(state, inbound, turn.render(), self.stores.messages)
            try:
                await self.stores.conversations.save(state)
            except VersionConflict:
                self.metrics["conflicts"] += 1
                contact = await self.stores.contacts.get(contact["_id"]) or contact
                continue
            if turn.contact_updates:
                await self.stores.contacts.update(contact["_id"], turn.contact_updates)
            return turn
        raise TurnFailed("conversation kept changing under us")

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
