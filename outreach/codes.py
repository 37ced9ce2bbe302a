"""campaign_codes: one sign-up code per campaign and venue (e.g. one per campus booth).

A code arrives as a Telegram deep link (``/start CODE``), or as the WhatsApp/SMS text ``DAFTAR CODE``
(click-to-chat pre-filled text). Codes are stored upper-case; lookups ignore case.
"""
from __future__ import annotations

import re

from pymongo import ASCENDING

from bot.messages import utcnow

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")  # Telegram deep-link payload charset and length
SEGMENTS = ("kampus", "sekolah", "media", "komunitas", "umum")


def norm_code(code: str) -> str:
    return (code or "").strip().upper()


class CampaignCodes:
    def __init__(self, db):
        self.col = db["campaign_codes"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("campaign", ASCENDING), ("venue", ASCENDING)])

    async def lookup(self, code: str | None) -> dict | None:
        if not code or not CODE_RE.match(code.strip()):
            return None
        doc = await self.col.find_one({"_id": norm_code(code)})
        if doc:
            doc["code"] = doc["_id"]
        return doc

    async def upsert(self, code: str, campaign: str, venue: str | None = None, *, segment: str = "umum",
                     institution: str | None = None, region: str | None = None) -> dict:
        if not CODE_RE.match(code or ""):
            raise ValueError(f"code {code!r}: 2-64 characters of A-Z a-z 0-9 _ -")
        if segment not in SEGMENTS:
            raise ValueError(f"segment {segment!r}: one of {', '.join(SEGMENTS)}")
        fields = {"campaign": campaign, "venue": venue, "segment": segment, "institution": institution,
                  "region": region}
        await self.col.update_one({"_id": norm_code(code)},
                                  {"$set": fields, "$setOnInsert": {"created_at": utcnow()}}, upsert=True)
        return {"code": norm_code(code), **fields}

    async def for_campaign(self, campaign: str) -> list[dict]:
        return await self.col.find({"campaign": campaign}).sort("_id", ASCENDING).to_list(None)
