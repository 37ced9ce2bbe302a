"""Keys of the aiohttp applications (importable by every layer, unlike ``bot.http`` which builds the app)."""
from __future__ import annotations

from aiohttp import web

RUNTIME_KEY = web.AppKey("runtime", object)  # the running ``bot.app.Runtime``
