"""What every channel adapter shares."""
from __future__ import annotations

from aiohttp import web


class Channel:
    name = "base"

    def __init__(self, runtime):
        self.runtime = runtime

    def add_routes(self, app: web.Application) -> None:
        return None

    def sender(self):
        return None

    async def start(self) -> None:
        return None

    async def drain(self) -> None:
        """Graceful stop, first step: take nothing new, finish (bounded) what was acknowledged."""
        return None

    async def stop(self) -> None:
        return None
