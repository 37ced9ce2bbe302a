"""Who is signed in to the back office, and what each role may do."""
from __future__ import annotations

from dataclasses import dataclass

ADMIN, OFFICER, CAMPAIGN, COORDINATOR = "admin", "officer", "campaign", "coordinator"
ROLES = (ADMIN, OFFICER, CAMPAIGN, COORDINATOR)


@dataclass(frozen=True)
class StaffUser:
    id: str
    email: str
    role: str
    agency: str | None = None  # officers only: the one agency they act for
    lang: str = "id"

    def can(self, *roles: str) -> bool:
        """Admins may do everything; others only what their role names."""
        return self.role == ADMIN or self.role in roles


def api_principal(user: StaffUser):
    """The staff API's caller for this person: the same privacy scope (``serialize_report``) as the API.

    Admins act as admin; officers as their agency. Other roles have no report scope (None).
    """
    from bot.staff.auth import Principal

    if user.role == ADMIN:
        return Principal("admin", staff_id=user.id)
    if user.role == OFFICER and user.agency:
        return Principal("agency", agency=user.agency, staff_id=user.id)
    return None
