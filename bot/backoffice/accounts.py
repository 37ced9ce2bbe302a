"""Creating back-office accounts (used by ``laporbot staff user ...`` and tests): validation and the setup link."""
from __future__ import annotations

import re

from bot.backoffice.principal import OFFICER, ROLES

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")


class AccountError(ValueError):
    pass


def base_url(settings) -> str:
    url = getattr(settings, "lapor_public_url", None)
    if url:
        return url.rstrip("/")
    host = settings.lapor_http_host if settings.lapor_http_host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.lapor_http_port}"


def setup_url(settings, token: str, *, origin: str | None = None) -> str:
    """The one-time link; ``origin`` (the console's own address) is used when LAPOR_PUBLIC_URL is unset."""
    base = base_url(settings) if getattr(settings, "lapor_public_url", None) or not origin else origin.rstrip("/")
    return f"{base}/staff/setup/{token}"


async def add_user(db, email: str, role: str, agency: str | None = None, *, created_by: str = "cli",
                   lang: str = "id") -> tuple[dict, str]:
    """A new account and its one-time setup token. Officers need a known agency; other roles take none."""
    from bot import agencies
    from bot.staff.auth import AuditLog
    from bot.storage.staff_users import AccountExists, StaffUserStore, normalize_email

    email = normalize_email(email)
    if not EMAIL.match(email):
        raise AccountError(f"not an email address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    code = None
    if role == OFFICER:
        a = agencies.get(agency) if agency else None
        if a is None:
            raise AccountError("an officer needs --agency with a known agency code")
        code = a["code"]
    elif agency:
        raise AccountError("--agency is only for officers")
    store = StaffUserStore(db)
    await store.ensure_indexes()
    try:
        doc, token = await store.create(email, role, code, created_by=created_by, lang=lang)
    except AccountExists:
        raise AccountError(f"{email} already has an account (use: laporbot staff user reset {email})") from None
    await AuditLog(db).record(created_by, "staff_user_add", str(doc["_id"]), {"role": role, "agency": code})
    return doc, token
