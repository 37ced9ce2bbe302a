"""Round-trip accounting: every command this process sends to the database, counted by command and collection.

A PyMongo ``CommandListener`` given to the client (``bot/storage/database.py``); ``started`` does one dict
increment, so it is cheap enough to stay on in production. ``GET /metrics`` shows the counts (``db_commands``),
and ``bench/scale.py`` divides their growth by the turns answered: the bot's round-trips per turn.
Driver monitoring (heartbeats, the connection handshake) is not a command and is not counted."""
from __future__ import annotations

from collections import Counter

from pymongo import monitoring


class RoundTrips(monitoring.CommandListener):
    def __init__(self) -> None:
        self.counts: Counter = Counter()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        coll = event.command.get(event.command_name)
        self.counts[f"{event.command_name} {coll}" if isinstance(coll, str) else event.command_name] += 1

    def succeeded(self, event) -> None:
        pass

    def failed(self, event) -> None:
        pass

    def total(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> dict:
        """``{"total": n, "by_command": {"update messages": n, ...}}`` (a copy)."""
        return {"total": self.total(), "by_command": dict(self.counts)}
