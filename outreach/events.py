"""subscription_events: every sign-up and opt-out, appended (attribution per code and venue); its only owner."""
from __future__ import annotations

from bot.messages import utcnow


class SubscriptionEvents:
    def __init__(self, db):
        self.col = db["subscription_events"]

    async def ensure_indexes(self) -> None:
        await self.col.create_index([("campaign", 1), ("event", 1)])

    async def append(self, contact: dict, event: str, fields: dict) -> None:
        await self.col.insert_one({"contact_id": contact["_id"], "channel": contact.get("channel"), "event": event,
                                   "at": utcnow(), **fields})

    def signups(self, campaign: str):
        """Sign-up events of a campaign, as an async cursor."""
        return self.col.find({"campaign": campaign, "event": "subscribed"})
