"""Writes that someone outside is told about (an inbound message we answer 2xx for, a report whose tracking ID
the citizen receives) are journaled before they are acknowledged: they survive a kill -9 of the database
process. On a replica set, set ``w=majority`` in MONGODB_URI as well (docs/storage.md)."""
from __future__ import annotations

from pymongo import WriteConcern


def durable(collection):
    """The same collection, with journaled writes (``j: true``) on top of the client's write concern."""
    wc = collection.write_concern.document
    return collection.with_options(write_concern=WriteConcern(**{**wc, "j": True}))
