"""Scan the WHOLE database (every collection, every document, recursively; GridFS chunks as bytes) for
traces of a person: strings are matched case-insensitively, inside keys and values."""
from __future__ import annotations


def _walk(value, path: str, needles: list[str], hits: list[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _walk(k, f"{path}.<key>", needles, hits)
            _walk(v, f"{path}.{k}", needles, hits)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _walk(v, f"{path}[{i}]", needles, hits)
    elif isinstance(value, str):
        low = value.lower()
        hits.extend(f"{path}: {n!r}" for n in needles if n.lower() in low)
    elif isinstance(value, (bytes, bytearray)) or hasattr(value, "__bytes__") and type(value).__name__ == "Binary":
        raw = bytes(value).lower()
        hits.extend(f"{path}: {n!r} (bytes)" for n in needles if n.lower().encode() in raw)
    elif type(value).__name__ == "ObjectId":
        hits.extend(f"{path}: {n!r} (id)" for n in needles if n == str(value))


async def traces(db, needles: list[str], *, skip: tuple[str, ...] = ()) -> list[str]:
    """Every place in the database where one of ``needles`` occurs (``collection[_id].field: needle``)."""
    hits: list[str] = []
    for name in sorted(await db.list_collection_names()):
        if name.startswith("system.") or name in skip:
            continue
        async for doc in db[name].find({}):
            _walk(doc, f"{name}[{doc.get('_id')}]", needles, hits)
    return hits
