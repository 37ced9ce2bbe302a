"""HTTP client for Rasa's `POST /model/parse`. Never raises from `parse`: when Rasa is off, down,
erroring or slow the answer is a degraded Interpretation (keyword fallback) and the bot carries on
with buttons and numbered choices."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

import aiohttp

from bot.nlu import interpret
from bot.nlu.interpret import Interpretation
from bot.nlu.normalize import normalize

log = logging.getLogger(__name__)


class NluClient:
    def __init__(self, url: str | None, timeout_s: float = 3.0):
        self.url = url.rstrip("/") if url else None
        self.timeout_s = timeout_s
        self.calls = 0            # HTTP parse calls made
        self.failures = 0         # of those, how many ended degraded
        self.last_error: str | None = None
        self.last_ok: float | None = None
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                connector=aiohttp.TCPConnector(limit=32))
        return self._session

    async def parse(self, text: str, today: dt.date | None = None) -> Interpretation:
        try:
            clean = normalize(interpret.clean_text(text))  # messy Indonesian made plain first
            if not clean or (not interpret.has_words(clean) and "?" not in clean):
                return interpret.empty(clean)
            if not self.url:
                return interpret.degraded(clean, today)
            answer = await self._post_parse(clean)
            if answer is None:
                return interpret.degraded(clean, today)
            return interpret.from_rasa(clean, answer, today)
        except Exception as exc:  # the conversation must go on whatever happens here
            log.exception("nlu parse failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
            try:
                return interpret.degraded(interpret.clean_text(text), today)
            except Exception:
                return interpret.Interpretation(text="", intent=None, confidence=0.0, category=None,
                                                category_confidence=0.0, source="degraded")

    async def _post_parse(self, text: str) -> dict | None:
        self.calls += 1
        try:
            http = await self._http()
            async with http.post(f"{self.url}/model/parse", json={"text": text}) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"HTTP {resp.status}")
                answer = await resp.json(content_type=None)
                if not isinstance(answer, dict):
                    raise RuntimeError("unexpected answer")
                self.last_ok = time.time()
                self.last_error = None
                return answer
        except (asyncio.TimeoutError, aiohttp.ClientError, RuntimeError, ValueError) as exc:
            self.failures += 1
            self.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning("rasa parse degraded: %s", self.last_error)
            return None

    async def health(self) -> dict:
        if not self.url:
            return {"state": "disabled", "url": None}
        out = {"url": self.url, "calls": self.calls, "failures": self.failures, "last_error": self.last_error}
        try:
            http = await self._http()
            async with http.get(f"{self.url}/status") as resp:
                if resp.status == 200:
                    body = await resp.json(content_type=None)
                    return {"state": "up", "model": (body or {}).get("model_file"), **out}
                return {"state": "down", "reason": f"HTTP {resp.status}", **out}
        except Exception as exc:
            return {"state": "down", "reason": type(exc).__name__, **out}

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
