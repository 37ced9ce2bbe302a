"""Who may see and do what with a report from the chat.

Roles: the ``reporter`` (filed it), the ``volunteer`` (filed it for someone), a ``supporter`` (pressed an
offered "support" button on a similar report). Reporter and volunteer own the report: full status view, add
information, rate, object. The person a volunteer filed for (``filed_for``, once their number is proved, see
``behalf``) owns it too: it is their complaint, so they may also add information, rate and object. A supporter
gets status notifications and the view a stranger gets, plus the text and the agency's answer only when the
report is public.
"""
from __future__ import annotations

from bot.dialogue import behalf
from bot.dialogue.turn import Turn
from bot.tracking import find_in_text

OWNERS = ("reporter", "volunteer", "filed_for")


def party_role(report: dict, contact_id, phone: str | None = None) -> str | None:
    """``phone``: the number the contact proved to own (``behalf.verified_phone``)."""
    if behalf.filed_for(report, phone):
        return "filed_for"
    if contact_id is None:
        return None
    if report.get("contact_id") == contact_id:
        return "reporter"
    if report.get("volunteer_id") == contact_id:
        return "volunteer"
    if contact_id in (report.get("supporters") or []):
        return "supporter"
    return None


def is_owner(report: dict, contact_id, phone: str | None = None) -> bool:
    return party_role(report, contact_id, phone) in OWNERS


def role_in_turn(report: dict, turn: Turn) -> str | None:
    return party_role(report, turn.contact["_id"], behalf.verified_phone(turn))


def may_read_text(report: dict, role: str | None) -> bool:
    return role in OWNERS or (role == "supporter" and report.get("privacy") != "rahasia")


def may_read_answer(report: dict, role: str | None) -> bool:
    return role in OWNERS or (role == "supporter" and report.get("privacy") == "publik")


class ReportGuard:
    """Guard for payloads naming a report (``status:<id>``, ``addinfo:<id>``, ``rate:<id>:<n>``…).

    Without having been offered the button, only the report's owners may use it."""

    def subject(self, arg: str) -> str | None:
        tid, _ = find_in_text(arg)
        return tid

    async def entitled(self, turn: Turn, subject: str) -> bool:
        report = await turn.stores.reports.get(subject)
        return report is not None and role_in_turn(report, turn) in OWNERS


class OfferedOnly:
    """Guard for payloads that must have been offered to this contact (``support:<id>``): nobody is entitled."""

    def subject(self, arg: str) -> str | None:
        return arg or None

    async def entitled(self, turn: Turn, subject: str) -> bool:
        return False


REPORT = ReportGuard()
OFFERED_ONLY = OfferedOnly()
