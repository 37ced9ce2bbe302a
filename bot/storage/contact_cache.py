"""The contacts this process read or saved last, with their dialogue state: the read a turn can skip.

A contact document carries ``rev``, raised (``bump``) by every write of ``ContactStore`` and
``ConversationStore`` and of the start-up data moves (``migrations.py``): nothing else writes ``contacts``. A
turn that starts from a cached copy saves with a filter on that ``rev``: if anything wrote the contact since
(this process or another), the save matches nothing and the engine reads the contact again and reruns the
whole inbound path (held messages, live conversation, turn). ``ConversationStore.save`` keeps the contact as
it wrote it. So a stale copy costs a rerun, never a wrong answer. The writers of this process also drop the copy
first, so a copy goes stale here only when a write lands while a turn of the same contact is saving; the engine
uses the cache only while no other bot process is live.

Copies are kept as BSON bytes: every ``get`` returns a fresh document that a turn may change freely. Bounded
(least recently used goes first).
"""
from __future__ import annotations

from collections import OrderedDict

import bson

from bot.messages import Identity

REV = "rev"  # the contact document's write counter
CACHED = "_cached"  # set (in memory only) on a copy that came from the cache: its turn saves against ``rev``
ENTRIES = 8192  # about 3 KB each (contact + state): ~25 MB at most
BSON_OPTS = bson.CodecOptions(tz_aware=True, tzinfo=bson.tz_util.utc)


def bump(update: dict) -> dict:
    """``update`` that also raises the contact's ``rev`` (every write of a contact does)."""
    return {**update, "$inc": {**update.get("$inc", {}), REV: 1}}


class ContactCache:
    def __init__(self, entries: int = ENTRIES):
        self.entries = entries
        self._docs: OrderedDict = OrderedDict()  # (channel, user_id) -> (id, BSON of the contact with ``conv``)
        self._keys: dict = {}  # contact id -> (channel, user_id)
        self.hits = self.misses = 0

    def get(self, identity: Identity) -> dict | None:
        key = (identity.channel, identity.user_id)
        entry = self._docs.get(key)
        if entry is None:
            self.misses += 1
            return None
        self._docs.move_to_end(key)
        self.hits += 1
        return self._copy(entry[1])

    def get_by_id(self, contact_id) -> dict | None:
        entry = self._docs.get(self._keys.get(contact_id))
        return self._copy(entry[1]) if entry is not None else None

    @staticmethod
    def _copy(raw: bytes) -> dict:
        """A fresh document, marked ``CACHED`` (its turn saves against ``rev``)."""
        doc = bson.decode(raw, codec_options=BSON_OPTS)
        doc[CACHED] = True
        return doc

    def put(self, doc: dict) -> None:
        """Keep ``doc`` (a whole contact document as stored, ``conv`` and ``rev`` included)."""
        doc = {k: v for k, v in doc.items() if k != CACHED}
        key = (doc["channel"], doc["user_id"])
        old = self._keys.get(doc["_id"])
        if old is not None and old != key:
            self._docs.pop(old, None)
        self._docs[key] = (doc["_id"], bson.encode(doc))
        self._docs.move_to_end(key)
        self._keys[doc["_id"]] = key
        while len(self._docs) > self.entries:
            _, (gone, _) = self._docs.popitem(last=False)
            self._keys.pop(gone, None)

    def forget(self, contact_id) -> None:
        key = self._keys.pop(contact_id, None)
        if key is not None:
            self._docs.pop(key, None)

    def forget_identity(self, channel: str, user_id: str) -> None:
        entry = self._docs.pop((channel, user_id), None)
        if entry is not None:
            self._keys.pop(entry[0], None)

    def clear(self) -> None:
        self._docs.clear()
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._docs)
