"""Notifications to citizens after a transition: reporter, supporters, volunteer (+ SMS to the person a
volunteer filed for). Each goes through ``engine.notify`` (the outbox) in the recipient's language.

Never raises: a transition is already saved when this runs. Every attempt is recorded in the
``notifications`` collection with the outbox message id, so the report shows the delivery status
(queued / sent / delivered / failed) of each one.
"""
from __future__ import annotations

import logging

from bson import ObjectId

from bot import reports as domain
from bot.messages import Identity, utcnow
from bot.phones import normalize_phone

log = logging.getLogger(__name__)

RATING_ROLES = ("reporter", "volunteer")


def _note_for(report: dict, role: str, entry: dict) -> str | None:
    """The agency's words go to a supporter only when the report is public (see ``bot/dialogue/access.py``)."""
    if role == "supporter" and report.get("privacy") != "publik":
        return None
    return entry.get("note")


class Notifier:
    def __init__(self, runtime):
        self.runtime = runtime
        self.records = runtime.stores.notifications

    @property
    def engine(self):
        return self.runtime.engine

    async def ensure_indexes(self) -> None:
        await self.records.ensure_indexes()

    def sms_configured(self) -> bool:
        outbox = self.runtime.outbox
        return bool(getattr(self.runtime.settings, "sms_enabled", False)) or bool(outbox and outbox.has_sender("sms"))

    async def recipients(self, report: dict) -> list[tuple[str, dict]]:
        """(role, contact) pairs, each contact once: reporter, volunteer, supporters, on_behalf (SMS)."""
        contacts = self.runtime.stores.contacts
        out: list[tuple[str, dict]] = []
        seen: set = set()

        async def add(role: str, contact_id) -> None:
            if contact_id is None or contact_id in seen:
                return
            seen.add(contact_id)
            c = await contacts.get(contact_id)
            if c:
                out.append((role, c))

        await add("reporter", report.get("contact_id"))
        await add("volunteer", report.get("volunteer_id"))
        for sid in report.get("supporters") or []:
            await add("supporter", sid)
        ob = report.get("on_behalf") or {}
        phone = normalize_phone(ob.get("phone")) if ob.get("phone") else None
        if phone and ob.get("consent") and self.sms_configured():
            c = await contacts.get_or_create(Identity("sms", phone, ob.get("name")),
                                             report.get("language") or "id")
            if c["_id"] not in seen:
                seen.add(c["_id"])
                out.append(("on_behalf", c))
        return out

    async def on_transition(self, report: dict, actor: str | None = None, *, event: str | None = None) -> list[dict]:
        """Tell everyone concerned about the report's latest transition. Returns the notification records."""
        try:
            return await self._notify_all(report, actor, event)
        except Exception:  # never let a notification problem reach the caller
            log.exception("notifications for %s failed", report.get("tracking_id"))
            return []

    async def _notify_all(self, report: dict, actor: str | None, event: str | None) -> list[dict]:
        last = (report.get("history") or [{}])[-1]
        to = last.get("to") or report.get("status")
        if event is None:
            event = "dibuka_kembali" if actor == "warga" and to == domain.DITERUSKAN else to
        records = []
        for role, contact in await self.recipients(report):
            if actor == "warga" and role in ("reporter", "volunteer"):
                continue  # the citizen reopened it themselves and was answered in the conversation
            records.append(await self._send(report, event, role, contact, last))
        return records

    async def _send(self, report: dict, event: str, role: str, contact: dict, entry: dict) -> dict:
        tid = report["tracking_id"]
        rec = {"_id": ObjectId(), "tracking_id": tid, "event": event, "role": role, "contact_id": contact["_id"],
               "channel": contact.get("channel"), "message_id": None, "status": "queued", "error": None,
               "at": utcnow()}
        lang = contact.get("language") or "id"
        renderer = self.engine.renderer
        agency = None
        if report.get("agency"):
            from bot import agencies

            a = agencies.get(report["agency"])
            agency = a["name"] if a else report["agency"]
        choices = None
        if event in (domain.SELESAI, "auto_selesai") and role in RATING_ROLES:
            choices = [(f"rate:{tid}:{n}", str(n)) for n in range(1, 6)]
        elif event == domain.DITANGGAPI and role in RATING_ROLES:
            choices = [(f"addinfo:{tid}", "choice.tambah_info")]
        if contact.get("reachable") is False:
            rec.update(status="failed", error="unreachable")
        else:
            try:
                msg = await self.engine.notify(
                    contact, f"notify/{event}", choices=choices,
                    template_params=[tid, renderer.label(f"status.{report['status']}", lang)],
                    tracking_id=tid, role=role, note=_note_for(report, role, entry), agency=agency,
                    category=report.get("category"), on_behalf=(report.get("on_behalf") or {}).get("name"))
                rec["message_id"] = msg.message_id
            except Exception as exc:
                log.warning("notification %s for %s not queued: %s", event, tid, type(exc).__name__)
                rec.update(status="failed", error=type(exc).__name__)
        try:
            await self.records.add(rec)
        except Exception:
            log.warning("notification record for %s not saved", tid)
        return rec

    async def direct(self, contact: dict, template: str, **ctx):
        """A staff member's own words to a citizen (handoff reply)."""
        return await self.engine.notify(contact, template, **ctx)

    async def statuses(self, tracking_id: str) -> list[dict]:
        """Each notification of a report with the outbox message's current status."""
        recs = await self.records.for_report(tracking_id)
        ids = [r["message_id"] for r in recs if r.get("message_id")]
        msgs = await self.runtime.stores.messages.statuses(ids)
        out = []
        for r in recs:
            m = msgs.get(r.get("message_id")) or {}
            out.append({"event": r["event"], "role": r["role"], "channel": r.get("channel"),
                        "status": m.get("status") or r.get("status"),
                        "error": m.get("failure_reason") or r.get("error"),
                        "attempts": m.get("attempts", 0), "at": r["at"]})
        return out
