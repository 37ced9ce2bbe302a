"""Citizen activity on a report that its agency has not seen yet (added information, an objection).

``mark`` is called by the chat's effect: it sets ``citizen_update_at``, ``citizen_update_kind`` (``info`` or
``objection``) and ``citizen_update_unseen``. ``seen`` is called when an agency officer opens the report page:
it sets ``seen_by_agency_at`` and clears the flag, unless the citizen wrote again after the page was loaded.
The inbox filters on ``UNSEEN``. None of these fields holds personal data.
"""
from __future__ import annotations

from bot.messages import utcnow

UNSEEN = {"citizen_update_unseen": True}
KINDS = ("info", "objection")


async def mark(col, tracking_id: str, kind: str) -> None:
    assert kind in KINDS
    await col.update_one({"tracking_id": tracking_id}, {"$set": {
        "citizen_update_at": utcnow(), "citizen_update_kind": kind, "citizen_update_unseen": True}})


async def seen(col, report: dict) -> None:
    """The agency has looked at ``report`` as it was loaded (its ``citizen_update_at`` then)."""
    now = utcnow()
    await col.update_one({"_id": report["_id"]}, {"$set": {"seen_by_agency_at": now}})
    if report.get("citizen_update_unseen"):
        await col.update_one({"_id": report["_id"], "citizen_update_at": report.get("citizen_update_at")},
                             {"$set": {"citizen_update_unseen": False}})
