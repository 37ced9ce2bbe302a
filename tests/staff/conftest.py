"""Staff-side fixtures: a runtime serving HTTP, a client, tokens and reports in a given state."""
from __future__ import annotations

import aiohttp
import pytest

from bot.messages import Identity, utcnow

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PHONE_ID = "6281234567890"      # a WhatsApp-style channel identity that must never reach an agency
TELEGRAM_ID = "987654321012"
NAME = "Siti Rahayu"


@pytest.fixture
async def rt(make_runtime):
    return await make_runtime(http=True)


@pytest.fixture
async def client(rt):
    async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{rt.http_port}") as s:
        yield s


async def agency_headers(rt, code: str) -> dict:
    token, _ = await rt.staff.tokens.issue(code)
    return {"Authorization": f"Bearer {token}"}


async def citizen(rt, user_id: str = TELEGRAM_ID, channel: str = "telegram", name: str = NAME,
                  language: str = "id") -> dict:
    c = await rt.stores.contacts.get_or_create(Identity(channel, user_id, name))
    if language != "id":
        await rt.stores.contacts.update(c["_id"], {"language": language})
        c["language"] = language
    return c


async def make_report(rt, contact: dict | None = None, *, privacy: str = "publik", category: str = "infrastruktur",
                      region=("53.71", "Kota Kupang", "53", "Nusa Tenggara Timur"), description: str | None = None,
                      **fields) -> dict:
    contact = contact or await citizen(rt)
    doc = {"type": "pengaduan", "category": category,
           "description": description or "Jalan di depan SDN 3 Oebobo berlubang besar, motor sering jatuh",
           "location": {"text": "Jl. Frans Seda", "region_code": region[0], "region_name": region[1],
                        "province_code": region[2], "province_name": region[3]},
           "incident_date": "2026-11-01", "privacy": privacy, "agency_suggested": "DPU-53.71", "agency": None,
           "channel": contact["channel"], "language": contact.get("language", "id"),
           "contact_id": contact["_id"], "reporter_name": contact.get("name"),
           **rt.staff.sla.initial_deadlines(utcnow()), **fields}
    return await rt.stores.reports.create(doc)


async def advance(rt, tid: str, *steps: str, agency: str = "DPU-53.71") -> dict:
    """Move a report through staff steps directly (not through HTTP)."""
    report = None
    for to in steps:
        note = "Sudah kami perbaiki, terima kasih." if to == "ditanggapi" else None
        report, _ = await rt.staff.transition(tid, to, actor="admin", note=note,
                                              agency=agency if to == "diteruskan" else None)
    return report


async def outbox_for(rt, contact_id) -> list[dict]:
    return await rt.stores.messages.col.find({"contact_id": contact_id, "direction": "out"}).sort(
        "created_at", 1).to_list(200)
