"""The database a command-line tool uses: ``MONGODB_URI``, else a running bot's embedded server (same
``LAPOR_DATA_DIR``), else an embedded server of its own for the duration of the command."""
from __future__ import annotations

import contextlib

from bot.config import load_settings
from bot.embedded_db import EmbeddedMongo, running_uri
from bot.storage.database import connect


@contextlib.asynccontextmanager
async def open_stores():
    s = load_settings()
    embedded = None
    uri = s.mongodb_uri or running_uri(s.db_dir)  # a running bot's embedded database is shared, not restarted
    if not uri:
        s.lapor_data_dir.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedMongo(s.db_dir, log_path=s.lapor_data_dir / "db.log")
        uri = embedded.start()
    stores = await connect(uri, s.lapor_db, retention_days=s.lapor_message_retention_days)
    try:
        yield stores
    finally:
        await stores.close()
        if embedded:
            await embedded.astop()
