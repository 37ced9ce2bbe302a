"""Limits on tracking-ID lookups by typed text: per contact and per source address (a web chat visit is a new
contact each time, its address is not). Counted in the database, so the limits hold across processes."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from bot.dialogue.turn import Turn

WINDOW = timedelta(hours=1)


def address_key(peer: str) -> str:
    return hashlib.sha256(("lookup-peer:" + peer).encode()).hexdigest()[:24]


async def lookup_allowed(turn: Turn) -> bool:
    """Count this lookup; False once the contact or its source address used up the hour's allowance."""
    s, counters = turn.settings, turn.stores.counters
    ok = await counters.hit(f"lookup:c:{turn.contact['_id']}", WINDOW) <= s.lapor_max_lookups_per_hour
    peer = turn.msg.peer
    if peer:
        ok = await counters.hit(f"lookup:a:{address_key(peer)}", WINDOW) <= s.lapor_max_lookups_per_address_per_hour \
            and ok
    return ok
