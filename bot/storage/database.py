"""Connect to MongoDB (PyMongo async API) and build every collection store."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from bot.storage.audit import AuditLog
from bot.storage.contacts import ContactStore
from bot.storage.conversations import ConversationStore
from bot.storage.files import FileStore
from bot.storage.handoffs import HandoffStore
from bot.storage.leases import LeaseStore
from bot.storage.messages import MessageStore
from bot.storage.notifications import NotificationStore
from bot.storage.reports import ReportStore
from bot.storage.staff_tokens import TokenStore
from bot.storage.telegram_callbacks import CallbackPayloads
from bot.storage.volunteers import VolunteerStore

log = logging.getLogger(__name__)


@dataclass
class Stores:
    client: AsyncMongoClient
    db: AsyncDatabase
    contacts: ContactStore
    conversations: ConversationStore
    messages: MessageStore
    reports: ReportStore
    leases: LeaseStore
    handoffs: HandoffStore
    volunteers: VolunteerStore
    files: FileStore
    staff_tokens: TokenStore
    audit: AuditLog
    notifications: NotificationStore
    telegram_callbacks: CallbackPayloads

    async def ensure_indexes(self) -> None:
        for store in (self.contacts, self.conversations, self.messages, self.reports, self.leases,
                      self.handoffs, self.volunteers):
            await store.ensure_indexes()

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except PyMongoError:
            return False

    async def close(self) -> None:
        await self.client.close()


async def connect(uri: str, db_name: str, *, retention_days: int = 365, attempts: int = 1,
                  timeout_ms: int = 5000) -> Stores:
    """Open the client, wait for the server (retrying with back-off), create indexes."""
    client: AsyncMongoClient = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=timeout_ms, tz_aware=True, connectTimeoutMS=timeout_ms)
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            await client.admin.command("ping")
            break
        except PyMongoError as exc:
            if attempt == attempts:
                await client.close()
                raise
            log.warning("database not reachable (%s); retry %d/%d in %.1fs",
                        type(exc).__name__, attempt, attempts, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
    db = client[db_name]
    stores = Stores(
        client=client, db=db,
        contacts=ContactStore(db), conversations=ConversationStore(db),
        messages=MessageStore(db, retention_days=retention_days), reports=ReportStore(db), leases=LeaseStore(db),
        handoffs=HandoffStore(db), volunteers=VolunteerStore(db), files=FileStore(db),
        staff_tokens=TokenStore(db), audit=AuditLog(db), notifications=NotificationStore(db),
        telegram_callbacks=CallbackPayloads(db),
    )
    await stores.ensure_indexes()
    return stores
