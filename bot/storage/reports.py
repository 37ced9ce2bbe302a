"""reports: filed reports with their status history. Transitions are atomic compare-and-set on status."""
from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot import reports as domain
from bot.messages import utcnow
from bot.storage.durability import durable
from bot.tracking import new_tracking_id


class ReportStore:
    def __init__(self, db):
        self.col = db["reports"]
        self.durable = durable(self.col)  # acknowledged to someone outside: journaled first

    async def ensure_indexes(self) -> None:
        await self.col.create_index("tracking_id", unique=True)
        await self.col.create_index("draft_id", unique=True, sparse=True)
        await self.col.create_index([("contact_id", ASCENDING), ("created_at", DESCENDING)])
        await self.col.create_index([("volunteer_id", ASCENDING), ("created_at", DESCENDING)], sparse=True)
        await self.col.create_index([("status", ASCENDING), ("category", ASCENDING),
                                     ("location.region_code", ASCENDING)])
        await self.col.create_index([("agency", ASCENDING), ("status", ASCENDING)])
        await self.col.create_index("supporters")

    async def create(self, fields: dict) -> dict:
        """Insert with a fresh random tracking ID. Idempotent per ``draft_id``: a retried turn gets the same report."""
        if fields.get("draft_id"):
            existing = await self.col.find_one({"draft_id": fields["draft_id"]})
            if existing:
                return existing
        now = utcnow()
        for _ in range(5):
            doc = {"_id": ObjectId(), "tracking_id": new_tracking_id(), "status": domain.DITERIMA,
                   "history": [{"from": None, "to": domain.DITERIMA, "actor": "warga", "at": now, "note": None}],
                   "supporters": [], "additions": [], "attachments": [], "rating": None,
                   "created_at": now, "updated_at": now, **fields}
            try:
                await self.durable.insert_one(doc)
                return doc
            except DuplicateKeyError as exc:
                if "draft_id" in str(exc):
                    return await self.col.find_one({"draft_id": fields["draft_id"]})
        raise RuntimeError("could not allocate a tracking id")

    async def get(self, tracking_id: str) -> dict | None:
        return await self.col.find_one({"tracking_id": tracking_id})

    async def by_contact(self, contact_id, limit: int = 5) -> list[dict]:
        cur = self.col.find({"$or": [{"contact_id": contact_id}, {"volunteer_id": contact_id}]})
        return await cur.sort("created_at", DESCENDING).limit(limit).to_list(limit)

    async def count_since(self, contact_id, since: datetime) -> int:
        return await self.col.count_documents({"$or": [{"contact_id": contact_id}, {"volunteer_id": contact_id}],
                                               "created_at": {"$gte": since}})

    async def transition(self, tracking_id: str, target: str, *, actor: str, note: str | None = None,
                         extra: dict | None = None, by_citizen: bool = False, expected: str | None = None) -> dict:
        """Move to ``target`` if legal from the current status. Two racing callers: exactly one wins.

        ``expected`` (optional) is the status the caller saw; a different current status is a conflict.
        Raises TransitionError (illegal, stale, or lost the race) or KeyError (unknown ID).
        """
        current = await self.get(tracking_id)
        if current is None:
            raise KeyError(tracking_id)
        if expected is not None and current["status"] != expected:
            raise domain.TransitionError(current["status"], target)
        domain.check(current["status"], target, by_citizen=by_citizen)
        now = utcnow()
        entry = {"from": current["status"], "to": target, "actor": actor, "at": now, "note": note}
        updated = await self.col.find_one_and_update(
            {"_id": current["_id"], "status": current["status"], "updated_at": current["updated_at"]},
            {"$set": {"status": target, "updated_at": now, **(extra or {})}, "$push": {"history": entry}},
            return_document=ReturnDocument.AFTER)
        if updated is None:
            latest = await self.get(tracking_id)
            raise domain.TransitionError(latest["status"] if latest else "?", target)
        return updated

    async def add_supporter(self, tracking_id: str, contact_id) -> bool:
        res = await self.col.update_one({"tracking_id": tracking_id, "contact_id": {"$ne": contact_id}},
                                        {"$addToSet": {"supporters": contact_id}})
        return res.modified_count == 1

    async def add_info(self, tracking_id: str, text: str, attachments: list | None = None) -> None:
        push: dict = {"additions": {"text": text, "at": utcnow()}}
        if attachments:
            push["attachments"] = {"$each": attachments}
        await self.col.update_one({"tracking_id": tracking_id}, {"$push": push, "$set": {"updated_at": utcnow()}})

    async def set_rating(self, tracking_id: str, score: int, comment: str | None) -> None:
        await self.col.update_one({"tracking_id": tracking_id},
                                  {"$set": {"rating": {"score": score, "comment": comment, "at": utcnow()}}})

    async def set_fields(self, report_id, fields: dict) -> None:
        """Bookkeeping fields outside a transition (SLA clocks); never the status."""
        assert "status" not in fields
        await self.col.update_one({"_id": report_id}, {"$set": fields})

    async def due_for_autoclose(self, now: datetime, limit: int = 1000) -> list[dict]:
        """Answered reports whose automatic-closing time has come."""
        cur = self.col.find({"status": domain.DITANGGAPI, "autoclose_at": {"$lte": now}})
        return await cur.to_list(limit)

    def for_stats(self, start: datetime | None = None, end: datetime | None = None, agency: str | None = None,
                  projection: dict | None = None, *, province: str | None = None, category: str | None = None):
        """Reports filed in [start, end) (optionally of one agency, province code or category), as an async
        cursor."""
        q: dict = {}
        if start or end:
            q["created_at"] = {**({"$gte": start} if start else {}), **({"$lt": end} if end else {})}
        if agency:
            q["agency"] = agency
        if province:
            q["location.province_code"] = province
        if category:
            q["category"] = category
        return self.col.find(q, projection)

    async def search(self, query: dict, *, offset: int = 0, limit: int = 20) -> tuple[int, list[dict]]:
        """(total, one page newest first) of the reports matching a staff filter."""
        total = await self.col.count_documents(query)
        docs = await self.col.find(query).sort("created_at", DESCENDING).skip(offset).limit(limit).to_list(limit)
        return total, docs

    async def volunteer_summary(self, contact_id, limit: int = 5) -> tuple[int, int, list[dict]]:
        """(filed, settled, latest ``limit``) of the reports a volunteer filed for others."""
        total = await self.col.count_documents({"volunteer_id": contact_id})
        settled = await self.col.count_documents({"volunteer_id": contact_id, "status": domain.SELESAI})
        rows = await self.col.find({"volunteer_id": contact_id}).sort("created_at", DESCENDING).limit(limit) \
            .to_list(limit)
        return total, settled, rows

    def filed_by(self, contact_ids: list):
        """(contact_id, created_at) of the reports these contacts filed, as an async cursor."""
        return self.col.find({"contact_id": {"$in": list(contact_ids)}}, {"contact_id": 1, "created_at": 1})

    async def open_similar_candidates(self, category: str, region_code: str | None, limit: int = 50) -> list[dict]:
        """Open public reports only: a rahasia or anonim report is never offered to a stranger as "similar"."""
        q: dict = {"status": {"$in": list(domain.OPEN_STATUSES)}, "category": category, "privacy": "publik"}
        if region_code:
            q["location.region_code"] = region_code
        cur = self.col.find(q, {"tracking_id": 1, "description": 1, "status": 1, "created_at": 1})
        return await cur.sort("created_at", DESCENDING).limit(limit).to_list(limit)

    async def reassign(self, tracking_id: str, agency: str | None, *, expected_agency: str | None, actor: str,
                       note: str, event: str, extra: dict | None = None) -> dict | None:
        """Change the agency of a forwarded report (re-route, or ``None`` = returned to the administrators).

        Recorded in the history as diteruskan -> diteruskan with ``event``; None when the report is no longer
        forwarded to ``expected_agency`` (someone else moved it first).
        """
        now = utcnow()
        entry = {"from": domain.DITERUSKAN, "to": domain.DITERUSKAN, "actor": actor, "at": now, "note": note,
                 "event": event}
        return await self.col.find_one_and_update(
            {"tracking_id": tracking_id, "status": domain.DITERUSKAN, "agency": expected_agency},
            {"$set": {"agency": agency, "updated_at": now, **(extra or {})}, "$push": {"history": entry}},
            return_document=ReturnDocument.AFTER)

    def of_party(self, contact_id, projection: dict | None = None):
        """Reports a contact filed, filed as a volunteer or supported, as an async cursor."""
        return self.col.find({"$or": [{"contact_id": contact_id}, {"volunteer_id": contact_id},
                                      {"supporters": contact_id}]}, projection)

    def filed_for_someone(self, projection: dict | None = None):
        """Reports a volunteer filed for a person with a phone number, as an async cursor."""
        return self.col.find({"on_behalf.phone": {"$nin": [None, ""]}}, projection)

    def using_files(self, file_ids: list, projection: dict | None = None):
        """Reports with an attachment among these GridFS ids (default: only ``attachments``), as an async cursor."""
        return self.col.find({"attachments.gridfs_id": {"$in": file_ids}}, projection or {"attachments": 1})

    async def pseudonymise_party(self, report: dict, contact_id, now: datetime) -> None:
        """Replace an erased contact in a report: fresh random reporter/volunteer id, name gone, support gone."""
        sets: dict = {"updated_at": now}
        unset: dict = {}
        if report.get("contact_id") == contact_id:
            sets.update(contact_id=ObjectId(), reporter_erased_at=now)
            unset["reporter_name"] = ""
        if report.get("volunteer_id") == contact_id:
            sets.update(volunteer_id=ObjectId(), volunteer_erased_at=now)
        upd = {"$set": sets, "$pull": {"supporters": contact_id}}
        if unset:
            upd["$unset"] = unset
        await self.col.update_one({"_id": report["_id"]}, upd)

    async def erase_on_behalf(self, report_id, now: datetime) -> None:
        """Remove the name and phone of the person a volunteer filed a report for."""
        await self.col.update_one({"_id": report_id}, {"$set": {
            "on_behalf.name": None, "on_behalf.phone": None, "on_behalf.consent": False,
            "on_behalf_erased_at": now, "updated_at": now}})

    async def settled_with_reporter(self, statuses: list, cutoff: datetime, limit: int) -> list[dict]:
        """Reports in these statuses updated before ``cutoff`` whose reporter is not retired yet (ids only)."""
        q = {"status": {"$in": statuses}, "updated_at": {"$lt": cutoff}, "reporter_retired_at": {"$exists": False}}
        return await self.col.find(q, {"_id": 1, "tracking_id": 1, "contact_id": 1,
                                       "volunteer_id": 1}).to_list(limit)

    async def retire_reporter(self, report: dict, now: datetime) -> None:
        """Pseudonymise a settled report: fresh random reporter/volunteer ids, no supporters, no name."""
        sets = {"reporter_retired_at": now,
                "contact_id": ObjectId() if report.get("contact_id") is not None else None,
                "supporters": [], "on_behalf": None}
        if report.get("volunteer_id") is not None:
            sets["volunteer_id"] = ObjectId()
        await self.col.update_one({"_id": report["_id"]}, {"$set": sets, "$unset": {"reporter_name": ""}})

    async def has_open_of(self, contact_id, open_statuses: list) -> bool:
        """Whether a contact filed (or filed as a volunteer) a report still in one of these statuses."""
        return await self.col.find_one({"$or": [{"contact_id": contact_id}, {"volunteer_id": contact_id}],
                                        "status": {"$in": open_statuses}}, {"_id": 1}) is not None

    async def forwarded_to_agencies(self, status: str, agencies: list, limit: int = 1000) -> list[dict]:
        """Reports in this status at one of these agencies (tracking id, agency and upstream only)."""
        return await self.col.find({"status": status, "agency": {"$in": agencies}},
                                   {"tracking_id": 1, "agency": 1, "upstream": 1}).to_list(limit)

    async def with_upstream_id(self, statuses: list, limit: int = 5000) -> list[dict]:
        """Reports in these statuses that an upstream system knows by an id."""
        return await self.col.find({"upstream.id": {"$exists": True}, "status": {"$in": statuses}}).to_list(limit)

    async def mark_upstream_error(self, report_ids: list, error: str) -> None:
        """Record why the upstream of these reports could not be read."""
        await self.col.update_many({"_id": {"$in": report_ids}}, {"$set": {"upstream.error": error}})

    async def clocks_matching(self, query: dict, limit: int) -> list[dict]:
        """Up to ``limit`` reports matching ``query``: tracking id, status, creation time and deadlines only."""
        proj = {"tracking_id": 1, "status": 1, "verify_due_at": 1, "followup_due_at": 1, "autoclose_at": 1,
                "created_at": 1}
        return await self.col.find(query, proj).limit(limit).to_list(limit)

    async def by_tracking_ids(self, tracking_ids: list[str]) -> list[dict]:
        """The reports with these tracking IDs (in no particular order)."""
        return await self.col.find({"tracking_id": {"$in": tracking_ids}}).to_list(len(tracking_ids) or 1)

    async def linked_to(self, contact_ids: list, tracking_ids: list[str]) -> list[dict]:
        """Reports of these contacts or with these tracking IDs: contact, agency, privacy and tracking id only."""
        proj = {"contact_id": 1, "agency": 1, "privacy": 1, "tracking_id": 1}
        query = {"$or": [{"contact_id": {"$in": contact_ids}}]
                 + ([{"tracking_id": {"$in": tracking_ids}}] if tracking_ids else [])}
        return await self.col.find(query, proj).to_list(5000)

    async def by_draft(self, draft_id: str) -> dict | None:
        """The report filed from this draft, or None."""
        return await self.col.find_one({"draft_id": draft_id})

    async def newest(self, query: dict, *, offset: int = 0, limit: int = 20) -> list[dict]:
        """One page, newest first, of the reports matching ``query`` (no total)."""
        return await self.col.find(query).sort("created_at", DESCENDING).skip(offset).limit(limit).to_list(limit)

    def filed_by_volunteers(self, contact_ids: list):
        """Reports these volunteers filed for others, newest first (safe fields only), as an async cursor."""
        return self.col.find({"volunteer_id": {"$in": contact_ids}},
                             {"tracking_id": 1, "status": 1, "category": 1, "agency": 1, "created_at": 1,
                              "volunteer_id": 1}).sort("created_at", -1)

    # -- reports a volunteer filed for someone, and what the agency has not seen yet ---------------------
    async def filed_for(self, phone: str, limit: int = 20) -> list[dict]:
        """Reports a volunteer filed for this phone number, newest first."""
        return await self.col.find({"on_behalf.phone": phone}).sort("created_at", -1).limit(limit).to_list(limit)

    async def any_filed_for(self, phone: str) -> bool:
        """Whether any report was filed for this phone number."""
        return await self.col.find_one({"on_behalf.phone": phone}, {"_id": 1}) is not None

    async def mark_citizen_update(self, tracking_id: str, kind: str) -> None:
        """The citizen added information or objected: the agency's inbox flags it (bot/storage/citizen_updates.py)."""
        from bot.storage import citizen_updates

        await citizen_updates.mark(self.col, tracking_id, kind)

    async def seen_by_agency(self, report: dict) -> None:
        """An officer opened the report: the flag clears unless the citizen wrote again since."""
        from bot.storage import citizen_updates

        await citizen_updates.seen(self.col, report)

