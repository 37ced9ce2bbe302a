"""Live conversations: a staff member takes over from the bot, and gives the citizen back.

- ``intercept`` is the engine's hook (called after the inbound is stored, before any dialogue turn): while a
  handoff is **taken**, the citizen's messages go to its transcript and the bot says nothing. It reads
  ``handoffs`` only when the contact's ``handoff`` marker says ``taken`` (``bot/storage/handoffs.py`` keeps
  the marker on every change), so an ordinary turn costs no query here. A whole message
  from ``dialogues/handoff.yml`` (``kembali ke bot``) ends it. A handoff that is only *requested* does not
  silence the bot: nobody may answer for hours (outside office hours), so the menus keep working.
- ``take`` / ``reply`` / ``hand_back`` are the officer's actions; every one is audited and the citizen hears
  about it on their own channel through the outbox.
- ``HandoffSweeper`` gives a taken handoff back to the bot after ``LAPOR_HANDOFF_IDLE_MINUTES`` with no message
  either way (the citizen is told). ``intercept`` applies the same rule when the citizen writes first.
- ``scope`` decides who sees what: admins every handoff; an officer those of citizens with a report forwarded to
  their agency (only that agency's, when the handoff names a report) and the general ones (citizen without any
  forwarded report). Nobody sees a channel identity; officers see the citizen's name only when none of the
  citizen's reports is anonim/rahasia (``bot.staff.views.reporter_visible``).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import yaml

from bot.dialogue.flows import DIALOGUES_DIR
from bot.dialogue.keywords import norm
from bot.messages import utcnow
from bot.staff.auth import Principal
from bot.staff.views import reporter_visible
from bot.storage.handoffs import CLOSED, REQUESTED, TAKEN, status_of
from bot.tasks import stop_task

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 30.0
PREVIEW_CHARS = 120


@lru_cache(maxsize=1)
def end_words() -> frozenset[str]:
    data = yaml.safe_load((DIALOGUES_DIR / "handoff.yml").read_text(encoding="utf-8")) or {}
    return frozenset(norm(w) for w in data.get("end") or [])


def idle_limit(settings) -> timedelta:
    return timedelta(minutes=float(getattr(settings, "lapor_handoff_idle_minutes", 30.0)))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class Conflict(Exception):
    """The handoff is not in a state this person may act on (taken by someone else, already closed)."""


# ---------------------------------------------------------------------------------------------- the hook
async def intercept(engine, contact: dict, inbound) -> bool:
    """True when a staff member holds this citizen's conversation: the message went to the transcript and no
    dialogue turn must run. False lets the bot answer (no live handoff, or it just timed out / ended)."""
    marker = contact.get("handoff") or {}
    if marker.get("status") != TAKEN:  # no handoff taken (the contact's marker): no query at all
        return False
    store = engine.stores.handoffs
    h = await store.active_for(contact["_id"])
    if h is None or status_of(h) != TAKEN:
        await engine.stores.contacts.clear_handoff(contact["_id"], marker.get("id"))  # a stale marker
        return False
    now = utcnow()
    cutoff = now - idle_limit(engine.settings)
    if _aware(h.get("last_activity_at") or now) < cutoff:
        if await store.close(h["_id"], "timeout", idle_before=cutoff):
            await _tell(engine, contact, "handoff/timed_out")
        return False
    # the citizen wrote: channels that limit free-form replies to a window after the last inbound (WhatsApp's
    # 24 h) read it from the conversation, which no turn updates while the bot is quiet
    await engine.stores.conversations.note_inbound(contact["_id"], inbound.received_at)
    if inbound.kind == "text" and norm(inbound.text) in end_words():
        if await store.close(h["_id"], "citizen"):
            await _tell(engine, contact, "handoff/back_to_bot")
        return True
    await store.add_citizen_message(h["_id"], inbound.text or "", kind=inbound.kind)
    return True


async def _tell(engine, contact: dict, template: str, **ctx) -> None:
    """A message to the citizen through the outbox; a failure is logged, never raised into the caller."""
    try:
        await engine.notify(contact, template, kind="notification", priority=1, **ctx)
    except Exception as exc:
        log.warning("handoff message %s not queued: %s", template, type(exc).__name__)


# ------------------------------------------------------------------------------------- officer actions
def actor(user) -> str:
    return f"staff:{user.id}"


async def _audit(runtime, user, action: str, handoff_id, details: dict | None = None) -> None:
    staff = getattr(runtime, "staff", None)
    if staff is None:
        return
    try:
        await staff.audit.record(actor(user), action, str(handoff_id), details or {})
    except Exception:
        log.exception("audit of %s failed", action)


async def _contact(runtime, h: dict) -> dict:
    contact = await runtime.stores.contacts.get(h["contact_id"])
    if contact is None:
        raise Conflict("no contact")
    return contact


async def take(runtime, h: dict, user) -> dict:
    """requested -> taken by ``user``; the citizen is told an officer joined. Conflict if someone was faster."""
    doc = await runtime.stores.handoffs.take(h["_id"], user.id)
    if doc is None:
        raise Conflict("taken")
    await _audit(runtime, user, "handoff_take", h["_id"])
    # the bot's "write a message for the officer" question is answered by the officer now; left pending, the
    # citizen's first message after hand-back would open a new request. Version bump: a running turn reloads.
    await runtime.stores.conversations.drop_pending(doc["contact_id"], "human_note")
    await _tell(runtime.engine, await _contact(runtime, doc), "handoff/taken")
    return doc


async def reply(runtime, h: dict, user, text: str) -> dict:
    """The officer's words to the citizen; only the person holding the handoff may write."""
    doc = await runtime.stores.handoffs.add_officer_message(h["_id"], user.id, text)
    if doc is None:
        raise Conflict("not_holder")
    await _tell(runtime.engine, await _contact(runtime, doc), "handoff/officer_reply", text=text,
                tracking_id=doc.get("tracking_id"))
    await _audit(runtime, user, "handoff_reply", h["_id"], {"chars": len(text)})
    return doc


async def hand_back(runtime, h: dict, user) -> dict:
    """Closes the handoff (the holder, anyone in scope while it is only requested, or an admin)."""
    holder = None if user.role == "admin" else user.id
    doc = await runtime.stores.handoffs.close(h["_id"], "handed_back", staff_id=holder)
    if doc is None:
        raise Conflict("not_holder")
    await _audit(runtime, user, "handoff_close", h["_id"])
    await _tell(runtime.engine, await _contact(runtime, doc), "handoff/handed_back")
    return doc


class HandoffSweeper:
    """Periodic task giving idle taken handoffs back to the bot. Closing is one conditional update, so
    several processes sweeping at once tell the citizen only once (no lease needed)."""

    def __init__(self, runtime, interval_s: float = SWEEP_INTERVAL_S):
        self.runtime, self.interval_s = runtime, interval_s
        self._task: asyncio.Task | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._stopping = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self, timeout_s: float = 10.0) -> None:
        task, self._task = self._task, None
        await stop_task(task, stopping=self._stopping, timeout_s=timeout_s, name="live-conversation sweeper")

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except Exception as exc:  # database outage: next round
                log.warning("handoff sweep failed: %s", type(exc).__name__)
            try:
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass

    async def sweep(self, now: datetime | None = None) -> int:
        """Close every taken handoff quiet since ``now - idle``; returns how many this call closed."""
        rt = self.runtime
        cutoff = (now or utcnow()) - idle_limit(rt.settings)
        closed = 0
        for h in await rt.stores.handoffs.idle(cutoff):
            doc = await rt.stores.handoffs.close(h["_id"], "timeout", idle_before=cutoff)
            if doc is None:
                continue
            closed += 1
            contact = await rt.stores.contacts.get(doc["contact_id"])
            if contact:
                await _tell(rt.engine, contact, "handoff/timed_out")
        return closed


def start(runtime) -> HandoffSweeper:
    """Start the sweeper with the runtime; it stops before the database closes."""
    sweeper = HandoffSweeper(runtime)
    sweeper.start()
    runtime.stop_hooks.append(sweeper.stop)
    return sweeper


# ------------------------------------------------------------------------------------------ privacy scope
@dataclass
class View:
    """One handoff as a staff member may see it. Never holds a channel identity."""
    doc: dict
    name: str | None
    channel: str | None  # admins only
    language: str | None
    tracking_ids: list[str]
    general: bool

    @property
    def id(self) -> str:
        return str(self.doc["_id"])

    @property
    def status(self) -> str:
        return status_of(self.doc)

    def for_json(self, user) -> dict:
        d = self.doc
        last = next((e for e in reversed(d.get("transcript") or []) if e.get("who") == "citizen"), None)
        return {"id": self.id, "status": self.status, "name": self.name, "channel": self.channel,
                "language": self.language, "tracking_ids": self.tracking_ids, "general": self.general,
                "taken_by_me": d.get("taken_by") == user.id, "created_at": iso(d.get("created_at")),
                "last_activity_at": iso(d.get("last_activity_at")),
                "created_local": local_time(d.get("created_at")),
                "last_text": ((last or {}).get("text") or "")[:PREVIEW_CHARS] or None,
                "closed_reason": d.get("closed_reason")}


def iso(v):
    return v.isoformat() if isinstance(v, datetime) else v


WIB = timezone(timedelta(hours=7))


def local_time(v) -> str:
    """A stored UTC time as staff read it (WIB, like the office hours the citizen is told)."""
    return _aware(v).astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB") if isinstance(v, datetime) else ""


def principal(user) -> Principal:
    return Principal("admin") if user.role == "admin" else Principal("agency", user.agency)


async def scope(runtime, user, docs: list[dict]) -> list[View]:
    """The handoffs among ``docs`` that ``user`` may see, each reduced to what they may see of it."""
    if not docs:
        return []
    stores = runtime.stores
    contact_ids = list({d["contact_id"] for d in docs})
    tids = [d["tracking_id"] for d in docs if d.get("tracking_id")]
    reports = await stores.reports.linked_to(contact_ids, tids)
    who = principal(user)
    out = []
    for d in docs:
        linked = [r for r in reports if r.get("contact_id") == d["contact_id"]
                  or (d.get("tracking_id") and r.get("tracking_id") == d["tracking_id"])]
        named = next((r for r in linked if d.get("tracking_id") and r.get("tracking_id") == d["tracking_id"]
                      and r.get("agency")), None)
        agencies = {named["agency"]} if named else {r["agency"] for r in linked if r.get("agency")}
        general = not agencies
        if not who.is_admin and not general and user.agency not in agencies:
            continue
        contact = await stores.contacts.get(d["contact_id"]) or {}
        show_name = all(reporter_visible(r, who) for r in linked)
        visible_reports = linked if who.is_admin else [r for r in linked if r.get("agency") == user.agency]
        out.append(View(doc=d, name=contact.get("name") if show_name else None,
                        channel=contact.get("channel") if who.is_admin else None,
                        language=contact.get("language"),
                        tracking_ids=sorted({r["tracking_id"] for r in visible_reports if r.get("tracking_id")}),
                        general=general))
    return out


async def one(runtime, user, handoff_id) -> View | None:
    """One handoff if ``user`` may see it (None: the page answers 404)."""
    doc = await runtime.stores.handoffs.get(handoff_id)
    if doc is None:
        return None
    views = await scope(runtime, user, [doc])
    return views[0] if views else None


__all__ = ["intercept", "take", "reply", "hand_back", "HandoffSweeper", "start", "scope", "one", "View",
           "Conflict", "REQUESTED", "TAKEN", "CLOSED"]
