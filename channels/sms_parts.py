"""Long SMS texts arrive whole (issue 12): every part, in order, numbered ``(n/N)``.

An agency's answer may be up to 8,000 characters (``MAX_NOTE_CHARS`` of the staff API). Instead of cutting it,
or asking the citizen to reply "LAGI" for more (each reply costs them an SMS and needs state per number), all
parts are sent at once, one after the other, each costing at most ``SEGMENTS_PER_PART`` concatenated segments.
Separate SMS can arrive out of order on a handset: the ``(n/N)`` prefix lets the reader put them in order.

``MAX_PARTS`` bounds one message: 40 parts of 4 segments hold about 24,000 GSM-7 characters, or about 10,000
when one character forces UCS-2 (67 a segment), so the longest answer the bot can produce arrives whole even in
UCS-2 (with the notification's own words around it). Anything longer is cut at the last part, ending in "...".
"""
from __future__ import annotations

from channels.formatting import sms_split

SEGMENTS_PER_PART = 4
MAX_PARTS = 40
MARK_ROOM = 8  # "(40/40) " in GSM-7 or UCS-2 units
CUT = "..."


def split_whole(text: str, segments_per_part: int = SEGMENTS_PER_PART, max_parts: int = MAX_PARTS) -> list[str]:
    """All of ``text`` as SMS bodies; more than one: each prefixed ``(n/N) ``."""
    parts = sms_split(text, segments_per_part, max_messages=10 ** 9)
    if len(parts) <= 1:
        return parts
    parts = sms_split(text, segments_per_part, max_messages=10 ** 9, reserve=MARK_ROOM + len(CUT))
    if len(parts) > max_parts:
        parts = parts[:max_parts]
        parts[-1] = parts[-1].rstrip() + CUT
    total = len(parts)
    return [f"({n}/{total}) {p}" for n, p in enumerate(parts, 1)]
