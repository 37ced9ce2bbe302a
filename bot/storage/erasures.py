"""erasures: contacts erased whose last reply is still to purge (``bot.privacy.rights``); the retention sweep
finishes what is left here.

``ErasureStore`` also holds the erasure's writes to three collections whose owners sit above the storage layer
(``channels.inbox`` for ``whatsapp_inbox``, ``outreach.events`` and ``outreach.deliveries``), which the privacy
code may not import; these are the only writes to them outside their owners.
"""
from __future__ import annotations

from bson import ObjectId
from pymongo import UpdateOne


class ErasureStore:
    def __init__(self, db):
        self.col = db["erasures"]
        self.whatsapp_inbox = db["whatsapp_inbox"]
        self.subscription_events = db["subscription_events"]
        self.deliveries = db["campaign_deliveries"]

    async def begin(self, contact_id, at) -> None:
        """Remember that this contact is being erased (not purged yet)."""
        await self.col.update_one({"_id": contact_id}, {"$set": {"at": at, "purged": False}}, upsert=True)

    async def finish(self, contact_id) -> None:
        """Nothing is left to purge for this contact."""
        await self.col.delete_one({"_id": contact_id})

    def overdue(self, before, limit: int):
        """Erasures begun before ``before`` (still to purge), at most ``limit``, as an async cursor."""
        return self.col.find({"at": {"$lt": before}}).limit(limit)

    async def forget_whatsapp_payloads(self, user_id: str) -> None:
        """Delete stored WhatsApp webhook payloads from or about this WhatsApp id (not one being processed)."""
        base = "payload.entry.changes.value."
        await self.whatsapp_inbox.delete_many({"status": {"$ne": "processing"}, "$or": [
            {base + "contacts.wa_id": user_id}, {base + "messages.from": user_id},
            {base + "statuses.recipient_id": user_id}]})

    async def unlink_subscription_events(self, contact_id) -> None:
        """Remove a contact's id from its subscription events."""
        await self.subscription_events.update_many({"contact_id": contact_id}, {"$set": {"contact_id": None}})

    async def pseudonymise_deliveries(self, contact_id) -> None:
        """Give each campaign delivery of a contact a fresh random contact id."""
        deliveries = await self.deliveries.find({"contact_id": contact_id}, {"_id": 1}).to_list(None)
        if deliveries:
            await self.deliveries.bulk_write(
                [UpdateOne({"_id": d["_id"]}, {"$set": {"contact_id": ObjectId()}}) for d in deliveries],
                ordered=False)
