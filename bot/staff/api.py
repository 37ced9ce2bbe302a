"""Staff HTTP API under /api/v1 (placeholder: the staff-side work fills this in)."""
from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application, runtime) -> None:
    return None
