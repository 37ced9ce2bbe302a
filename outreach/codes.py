"""campaign_codes: one sign-up code per campaign and venue (e.g. one per campus booth).

A code arrives as a Telegram deep link (``/start CODE``), or as the WhatsApp/SMS text ``DAFTAR CODE``
(click-to-chat pre-filled text). Codes are stored upper-case; lookups ignore case.

Lookups are cached in memory for ``CACHE_TTL_S`` (a booth sends the same code thousands of times): a code
created or changed in this process is seen at once, one changed by another process within the TTL.
"""
from __future__ import annotations

import re
import time

from pymongo import ASCENDING

from bot.messages import utcnow

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")  # Telegram deep-link payload charset and length
SEGMENTS = ("kampus", "sekolah", "media", "komunitas", "umum")
CACHE_TTL_S = 5.0
CACHE_MAX = 1024  # codes come from untrusted messages: unknown ones are cached too, so the cache is bounded


def norm_code(code: str) -> str:
    return (code or "").strip().upper()


class CampaignCodes:
    def __init__(self, db):
        self.col = db["campaign_codes"]
        self._cache: dict[str, tuple[float, dict | None]] = {}

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("campaign", ASCENDING), ("venue", ASCENDING)])

    async def lookup(self, code: str | None) -> dict | None:
        if not code or not CODE_RE.match(code.strip()):
            return None
        key, now = norm_code(code), time.monotonic()
        hit = self._cache.get(key)
        if hit and now - hit[0] < CACHE_TTL_S:
            return dict(hit[1]) if hit[1] else None
        doc = await self.col.find_one({"_id": key})
        if doc:
            doc["code"] = doc["_id"]
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now, dict(doc) if doc else None)
        return doc

    async def upsert(self, code: str, campaign: str, venue: str | None = None, *, segment: str = "umum",
                     institution: str | None = None, region: str | None = None) -> dict:
        if not CODE_RE.match(code or ""):
            raise ValueError(f"code {code!r}: 2-64 characters of A-Z a-z 0-9 _ -")
        if segment not in SEGMENTS:
            raise ValueError(f"segment {segment!r}: one of {', '.join(SEGMENTS)}")
        fields = {"campaign": campaign, "venue": venue, "segment": segment, "institution": institution,
                  "region": region}
        self._cache.pop(norm_code(code), None)
        await self.col.update_one({"_id": norm_code(code)},
                                  {"$set": fields, "$setOnInsert": {"created_at": utcnow()}}, upsert=True)
        self._cache.pop(norm_code(code), None)  # and after: a lookup during the write may have cached the old
        return {"code": norm_code(code), **fields}

    async def for_campaign(self, campaign: str) -> list[dict]:
        return await self.col.find({"campaign": campaign}).sort("_id", ASCENDING).to_list(None)
