"""contacts: one document per person per channel identity (language, consent, tags, subscription).

The document also carries the person's dialogue state (``conv``, owned by ``ConversationStore``, see
``bot/storage/conversations.py``) and two small markers that let the inbound path skip whole queries:

- ``handoff`` = ``{"id", "status"}`` while a "talk to a person" request is active (set when it is requested
  and when it is taken, removed when it closes: ``bot/storage/handoffs.py``); the live-conversation intercept
  looks up the handoff only while the marker says ``taken``;
- ``has_held`` while WhatsApp messages wait for the person to write (``bot/held.py``); the release runs only
  when it is there.

Every write raises ``rev`` (``bump``), so a turn that starts from this process's cached copy
(``bot/storage/contact_cache.py``) can tell that the contact changed since; each write also drops that copy.

Reads that return contacts to other code leave ``conv`` out (projection), except ``get_or_create`` and
``get_with_state``, which the engine uses to read contact and state in one command.
"""
from __future__ import annotations

from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from bot.messages import Identity, utcnow
from bot.storage.contact_cache import REV, ContactCache, bump
from bot.storage.conversations import CONV, fresh_conv

NO_STATE = {CONV: 0}  # projection: the contact without its dialogue state


class ContactStore:
    def __init__(self, db, cache: ContactCache | None = None):
        self.col = db["contacts"]
        self.cache = cache if cache is not None else ContactCache()

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("channel", ASCENDING), ("user_id", ASCENDING)], unique=True)
        await self.col.create_index([("subscription.status", ASCENDING), ("channel", ASCENDING)])
        await self.col.create_index([("subscription.code", ASCENDING)])
        await self.col.create_index([("subscription.campaign", ASCENDING)], name="outreach_attrib")

    async def get_or_create(self, identity: Identity, default_language: str = "id", cached: bool = False) -> dict:
        """One read on the hot path (the contact with its dialogue state ``conv``); one insert, with a fresh
        state, only the first time this identity writes. ``cached``: this process's copy when it has one
        (no read; marked ``CACHED``, see ``bot/storage/contact_cache.py``). What is read is cached."""
        doc = self.cache.get(identity) if cached else None
        if doc is not None:
            return doc
        doc = await self.col.find_one({"channel": identity.channel, "user_id": identity.user_id})
        if doc:
            self.cache.put(doc)
            return doc
        doc = {
            "_id": ObjectId(),
            "channel": identity.channel,
            "user_id": identity.user_id,
            "name": identity.display_name,
            "language": default_language,
            "consent": None,  # None = not asked yet; {"given": bool, "at": datetime}
            "tags": [],
            "created_at": utcnow(),
            "reachable": True,
            CONV: fresh_conv(),
            REV: 0,
        }
        try:
            await self.col.insert_one(doc)
        except DuplicateKeyError:  # another process created it between our read and write
            doc = await self.col.find_one({"channel": identity.channel, "user_id": identity.user_id})
        self.cache.put(doc)
        return doc

    async def get(self, contact_id) -> dict | None:
        return await self.col.find_one({"_id": contact_id}, NO_STATE)

    async def get_with_state(self, contact_id, cached: bool = False) -> dict | None:
        """The contact with its dialogue state (``conv``), in one read (the engine, after a version conflict);
        ``cached`` as in ``get_or_create``."""
        doc = self.cache.get_by_id(contact_id) if cached else None
        if doc is not None:
            return doc
        doc = await self.col.find_one({"_id": contact_id})
        if doc:
            self.cache.put(doc)
        return doc

    async def find_by_identity(self, channel: str, user_id: str) -> dict | None:
        return await self.col.find_one({"channel": channel, "user_id": user_id}, NO_STATE)

    async def update(self, contact_id, fields: dict[str, Any]) -> None:
        if fields:
            self.cache.forget(contact_id)
            await self.col.update_one({"_id": contact_id}, bump({"$set": fields}))

    async def get_many(self, contact_ids) -> dict:
        """{_id: contact} for the given ids, in one query."""
        ids = list({i for i in contact_ids if i is not None})
        if not ids:
            return {}
        return {c["_id"]: c for c in await self.col.find({"_id": {"$in": ids}}, NO_STATE).to_list(None)}

    def matching(self, query: dict, projection: dict | None = None):
        """Contacts matching a query (a campaign audience), as an async cursor (without ``conv`` unless a
        projection asks for it)."""
        return self.col.find(query, projection or NO_STATE)

    async def find_one_matching(self, query: dict) -> dict | None:
        return await self.col.find_one(query, NO_STATE)

    async def count(self, query: dict) -> int:
        return await self.col.count_documents(query)

    async def count_by_channel_language(self, query: dict) -> dict:
        """{(channel, language): n} for the contacts matching ``query``."""
        out: dict = {}
        async for row in await self.col.aggregate([
                {"$match": query},
                {"$group": {"_id": {"channel": "$channel", "language": "$language"}, "n": {"$sum": 1}}}]):
            out[(row["_id"]["channel"], row["_id"].get("language"))] = row["n"]
        return out

    async def opted_out_among(self, contact_ids) -> list[dict]:
        """Those of ``contact_ids`` who left the outreach list (subscription and unreachable times)."""
        ids = list(contact_ids)
        if not ids:
            return []
        return await self.col.find({"_id": {"$in": ids}, "subscription.status": "opted_out"},
                                   {"subscription": 1, "unreachable_at": 1}).to_list(None)

    async def record_attribution(self, channel: str, user_id: str, source: dict) -> None:
        """First-touch attribution (deep-link code, ad referral): kept once, never overwritten."""
        self.cache.forget_identity(channel, user_id)
        await self.col.update_one(
            {"channel": channel, "user_id": user_id, "attribution": {"$exists": False}},
            bump({"$set": {"attribution": {**source, "channel": channel, "at": utcnow()}}}))

    async def mark_unreachable(self, contact_id, reason: str) -> None:
        """Provider says the person blocked us: stop all bulk sends until they write again."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id}, bump({"$set": {
            "reachable": False, "unreachable_reason": reason, "unreachable_at": utcnow(),
            "subscription.status": "opted_out"}}))

    async def delete(self, contact_id) -> None:
        """Delete a contact document."""
        self.cache.forget(contact_id)
        await self.col.delete_one({"_id": contact_id})

    async def notified_sms_contacts(self, phone: str, other_than) -> list[dict]:
        """SMS contacts (ids only) the staff side made for this phone, without consent, other than one id."""
        return await self.col.find({"channel": "sms", "user_id": phone, "consent": None,
                                    "_id": {"$ne": other_than}}, {"_id": 1}).to_list(10)

    async def created_before(self, cutoff, limit: int) -> list[dict]:
        """Up to ``limit`` contacts (ids only) created before ``cutoff``."""
        return await self.col.find({"created_at": {"$lt": cutoff}}, {"_id": 1}).to_list(limit)

    def without_consent(self):
        """Contacts (ids only) who have not given consent, as an async cursor."""
        return self.col.find({"consent.given": {"$ne": True}}, {"_id": 1})

    async def tagged(self, tag: str, limit: int) -> list[dict]:
        """Up to ``limit`` contacts with this tag, by channel."""
        return await self.col.find({"tags": tag}, NO_STATE).sort("channel", 1).to_list(limit)

    async def add_tag(self, contact_id, tag: str) -> None:
        """Give a contact a tag (once)."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id}, bump({"$addToSet": {"tags": tag}}))

    async def remove_tag(self, contact_id, tag: str) -> bool:
        """Take a tag from a contact; False when no contact has this id."""
        self.cache.forget(contact_id)
        res = await self.col.update_one({"_id": contact_id}, bump({"$pull": {"tags": tag}}))
        return res.matched_count != 0

    async def names_of(self, contact_ids: list) -> dict:
        """{_id: contact} with name, channel and user id only, for these ids."""
        return {c["_id"]: c for c in await self.col.find(
            {"_id": {"$in": contact_ids}}, {"name": 1, "channel": 1, "user_id": 1}).to_list(None)}

    # ------------------------------------------------------------------ markers (see the module docstring)
    async def mark_handoff(self, contact_id, handoff_id, status: str) -> None:
        """The contact has an active handoff in ``status`` (requested / taken)."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id},
                                  bump({"$set": {"handoff": {"id": handoff_id, "status": status}}}))

    async def clear_handoff(self, contact_id, handoff_id) -> None:
        """That handoff ended: the marker goes, unless it names another one by now."""
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id, "handoff.id": handoff_id}, bump({"$unset": {"handoff": ""}}))

    async def clear_handoffs(self, pairs: list[tuple]) -> None:
        """``clear_handoff`` for many (contact id, handoff id) pairs, in one command."""
        if pairs:
            for c, _ in pairs:
                self.cache.forget(c)
            await self.col.update_many({"_id": {"$in": [c for c, _ in pairs]},
                                        "handoff.id": {"$in": [h for _, h in pairs]}},
                                       bump({"$unset": {"handoff": ""}}))

    async def mark_held(self, contact_ids) -> None:
        """Messages wait for these contacts to write (``bot/held.py``)."""
        ids = [i for i in contact_ids if i is not None]
        if ids:
            for i in ids:
                self.cache.forget(i)
            await self.col.update_many({"_id": {"$in": ids}}, bump({"$set": {"has_held": True}}))

    async def clear_held(self, contact_id, wrote_at=None) -> None:
        """Before held messages are released; ``wrote_at`` (the person just wrote) also raises the
        conversation's ``last_inbound_at`` in the same update, so the released messages go out as free text."""
        update: dict = {"$unset": {"has_held": ""}}
        if wrote_at is not None:
            update["$max"] = {f"{CONV}.last_inbound_at": wrote_at}
        self.cache.forget(contact_id)
        await self.col.update_one({"_id": contact_id}, bump(update))
