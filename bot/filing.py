"""Filing a report: the one domain step every front door uses (the chat dialogue, the Open311 server).

``file_report`` adds the SLA deadlines of a new report (``engine.services['sla']``, registered by the staff
side) and creates it, idempotent per ``draft_id``: the same draft id always gives the same report.
"""
from __future__ import annotations

from bot.messages import utcnow


async def file_report(engine, fields: dict) -> dict:
    sla = engine.services.get("sla")
    if sla:
        fields = {**fields, **sla.initial_deadlines(utcnow())}
    return await engine.stores.reports.create(fields)
