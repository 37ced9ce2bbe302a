"""Connect to MongoDB (PyMongo async API) and build every collection store."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from bot.storage.audit import AuditLog
from bot.storage.contacts import ContactStore
from bot.storage.conversations import ConversationStore
from bot.storage.counters import CounterStore
from bot.storage.files import FileStore
from bot.storage.handoffs import HandoffStore
from bot.storage.leases import LeaseStore
from bot.storage.messages import MessageStore
from bot.storage.migrations import run as run_migrations
from bot.storage.notifications import NotificationStore
from bot.storage.reports import ReportStore
from bot.storage.roundtrips import RoundTrips
from bot.storage.staff_tokens import TokenStore
from bot.storage.telegram_callbacks import CallbackPayloads
from bot.storage.volunteers import VolunteerStore

log = logging.getLogger(__name__)

# Servers drop connections that sat idle too long (the embedded server after 300 s, real deployments behind
# load balancers and firewalls often sooner). The pool retires its own idle connections first, so an
# operation never picks up one the server already closed (that was the AutoReconnect after a long start-up).
MAX_IDLE_MS = 60_000
# No single operation may hang forever on a server that accepted it and then went silent.
SOCKET_TIMEOUT_MS = 120_000


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
    counters: CounterStore
    files: FileStore
    staff_tokens: TokenStore
    audit: AuditLog
    notifications: NotificationStore
    telegram_callbacks: CallbackPayloads
    roundtrips: RoundTrips | None = None  # commands sent, by name (bot/storage/roundtrips.py; GET /metrics)

    async def ensure_indexes(self) -> None:
        for store in (self.contacts, self.conversations, self.messages, self.reports, self.leases,
                      self.handoffs, self.volunteers, self.counters):
            await store.ensure_indexes()
        await run_migrations(self.db)  # an older version's data, moved once (see the module)

    async def ping(self) -> bool:
        try:
            await self.db.command("ping")
            return True
        except PyMongoError:
            return False

    async def close(self) -> None:
        await self.messages.close()  # group-committed writes still waiting are written first
        await self.client.close()


async def connect(uri: str, db_name: str, *, retention_days: int = 365, attempts: int = 1,
                  timeout_ms: int = 5000) -> Stores:
    """Open the client, wait for the server (retrying with back-off), create indexes."""
    # The driver's own patience (30 s to find the server, 20 s to connect or to answer a monitoring check)
    # applies once running: a server that is slow under load (a model training beside it) is not declared
    # gone. Only the first contact is bounded by ``timeout_ms`` per attempt, so a wrong URI fails fast.
    roundtrips = RoundTrips()
    client: AsyncMongoClient = AsyncMongoClient(
        uri, tz_aware=True, maxIdleTimeMS=MAX_IDLE_MS, socketTimeoutMS=SOCKET_TIMEOUT_MS,
        event_listeners=[roundtrips])
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            with pymongo.timeout(timeout_ms / 1000):
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
    contacts = ContactStore(db)
    stores = Stores(
        client=client, db=db,
        contacts=contacts, conversations=ConversationStore(db, contacts.cache),
        messages=MessageStore(db, retention_days=retention_days), reports=ReportStore(db), leases=LeaseStore(db),
        handoffs=HandoffStore(db, contacts), volunteers=VolunteerStore(db), counters=CounterStore(db),
        files=FileStore(db),
        staff_tokens=TokenStore(db), audit=AuditLog(db), notifications=NotificationStore(db),
        telegram_callbacks=CallbackPayloads(db), roundtrips=roundtrips,
    )
    await stores.ensure_indexes()
    return stores
