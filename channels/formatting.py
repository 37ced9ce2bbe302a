"""Helpers the channel adapters share: text shaping, numbered menus, SMS segments, GridFS storage.

Nothing here knows a provider's protocol; each adapter picks what it needs.
"""
from __future__ import annotations

import hashlib
import hmac
import math

from bot.messages import utcnow

# ------------------------------------------------------------------ text shaping

def truncate(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` characters, preferring a word boundary, marking the cut."""
    text = " ".join((text or "").split())
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - len(ellipsis))]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + ellipsis


def split_text(text: str, limit: int) -> list[str]:
    """Split a long text into chunks of at most ``limit`` characters, at paragraph/line/word breaks."""
    text = text or ""
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 3:
            cut = window.rfind(" ")
        if cut < limit // 3:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def doc_choices(doc: dict) -> list[dict]:
    """The choices of a stored outbound message: list of {payload, label, description}."""
    return [c for c in (doc.get("choices") or []) if c and c.get("payload")]


def numbered_menu(text: str, choices: list[dict], footer: str | None = None) -> str:
    """Plain-text rendering of choices: ``1. Label`` lines under the text (SMS, fallbacks)."""
    if not choices:
        return text
    lines = [text.rstrip(), ""] if text else []
    lines += [f"{i}. {c['label']}" for i, c in enumerate(choices, 1)]
    if footer:
        lines.append(footer)
    return "\n".join(lines)


def pick_numbered(text: str, choices: list[dict]) -> dict | None:
    """A typed number (``2``, ``2.``, `` 2 ``) that names one of the offered choices."""
    t = (text or "").strip().rstrip(".)")
    if t.isascii() and t.isdigit() and choices:
        n = int(t)
        if 1 <= n <= len(choices):
            return choices[n - 1]
    return None


# ------------------------------------------------------------------ last offered menu, per person
# The numbered menu a person saw last is kept in MongoDB (collection ``channel_menus``) so a typed
# number maps back to its payload in whichever process receives the answer.

MENU_TTL_S = 30 * 86400


async def ensure_menu_index(db) -> None:
    await db["channel_menus"].create_index("at", expireAfterSeconds=MENU_TTL_S, name="menus_ttl")


async def remember_menu(db, channel: str, user_id: str, choices: list[dict]) -> None:
    await db["channel_menus"].update_one(
        {"_id": f"{channel}:{user_id}"},
        {"$set": {"choices": [{"payload": c["payload"], "label": c["label"]} for c in choices],
                  "at": utcnow()}}, upsert=True)


async def last_menu(db, channel: str, user_id: str) -> list[dict]:
    doc = await db["channel_menus"].find_one({"_id": f"{channel}:{user_id}"})
    return (doc or {}).get("choices") or []


# ------------------------------------------------------------------ SMS segments
GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = set("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXT for ch in text)


def sms_units(text: str) -> tuple[str, int]:
    """(encoding, length in that encoding's units): GSM-7 extension characters count twice, UCS-2 counts
    UTF-16 code units (an emoji is two)."""
    if is_gsm7(text):
        return "gsm7", sum(2 if ch in GSM7_EXT else 1 for ch in text)
    return "ucs2", len(text.encode("utf-16-le")) // 2


def sms_segment_count(text: str) -> int:
    enc, n = sms_units(text)
    single, multi = (160, 153) if enc == "gsm7" else (70, 67)
    if n <= single:
        return 1
    return math.ceil(n / multi)


def sms_split(text: str, segments_per_message: int = 1, max_messages: int = 10) -> list[str]:
    """Split into messages that each cost at most ``segments_per_message`` segments (160/70 for one,
    153/67 per segment when concatenated), breaking at lines or words."""
    enc, _ = sms_units(text)
    if segments_per_message <= 1:
        limit = 160 if enc == "gsm7" else 70
    else:
        limit = (153 if enc == "gsm7" else 67) * segments_per_message
    parts: list[str] = []
    for chunk in split_text(text, limit):
        # extension characters and surrogate pairs count double: shrink until the units fit
        while sms_units(chunk)[1] > limit:
            head = split_text(chunk, max(10, len(chunk) - max(5, len(chunk) // 20)))[0]
            while sms_units(head)[1] > limit:
                head = head[: max(1, len(head) - 5)]
            parts.append(head)
            chunk = chunk[len(head):].lstrip()
        if chunk:
            parts.append(chunk)
    return parts[:max_messages]


_GSM_FRIENDLY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                               "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u2022": "-", "\u00b7": "-"})


def gsm_friendly(text: str) -> str:
    """Typographic quotes, dashes and ellipses would force UCS-2 (70 chars a segment): use plain ones."""
    return (text or "").translate(_GSM_FRIENDLY)


def fit_sms(text: str, max_segments: int = 4) -> str:
    """Shorten a text so a concatenated send stays within ``max_segments`` segments."""
    if sms_segment_count(text) <= max_segments:
        return text
    enc, _ = sms_units(text)
    budget = (153 if enc == "gsm7" else 67) * max_segments
    lo, hi = 0, len(text)
    while lo < hi:  # longest prefix that fits (units are not characters, hence the search)
        mid = (lo + hi + 1) // 2
        if sms_units(text[:mid] + "…")[1] <= budget:
            lo = mid
        else:
            hi = mid - 1
    return truncate(text[:lo] + "…", lo + 1)


# ------------------------------------------------------------------ signatures
def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    a = a.encode() if isinstance(a, str) else a
    b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a, b)


def short_hash(text: str, n: int = 24) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


# ------------------------------------------------------------------ attachments in GridFS
async def store_file(db, data: bytes, *, filename: str, mime_type: str | None, channel: str, ref: str,
                     user_id: str | None = None):
    """Store an attachment's bytes in GridFS (bucket ``fs``); returns the file id."""
    from gridfs import AsyncGridFSBucket

    bucket = AsyncGridFSBucket(db)
    meta = {"channel": channel, "ref": ref, "mime_type": mime_type, "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "user": (user_id or "")[-3:]}
    return await bucket.upload_from_stream(filename or ref, data, metadata=meta)


async def read_file(db, file_id) -> bytes:
    from gridfs import AsyncGridFSBucket

    stream = await AsyncGridFSBucket(db).open_download_stream(file_id)
    return await stream.read()


def extension_for(mime_type: str | None) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "application/pdf": ".pdf",
            "video/mp4": ".mp4", "audio/ogg": ".ogg", "audio/mpeg": ".mp3"}.get((mime_type or "").split(";")[0],
                                                                               "")


# ------------------------------------------------------------------ attribution
async def record_attribution(stores, channel: str, user_id: str, source: dict) -> None:
    """First-touch attribution on the contact (deep-link code, ad referral): kept once, never overwritten."""
    await stores.contacts.col.update_one(
        {"channel": channel, "user_id": user_id, "attribution": {"$exists": False}},
        {"$set": {"attribution": {**source, "channel": channel, "at": utcnow()}}})
