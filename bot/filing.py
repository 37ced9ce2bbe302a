"""Filing a report: the one domain step every front door uses (the chat dialogue, the Open311 server).

``file_report`` adds the deadlines of a new report (the ``ReportLifecycle`` port, set by the staff side) and
creates it, idempotent per ``draft_id``: the same draft id always gives the same report, so a rerun turn
files once.
"""
from __future__ import annotations

from bot.messages import utcnow


async def file_report(stores, lifecycle, fields: dict) -> dict:
    fields = {**fields, **lifecycle.initial_deadlines(utcnow())}
    return await stores.reports.create(fields)
