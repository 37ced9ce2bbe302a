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
