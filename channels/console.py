"""Console channel: chat with the engine in a terminal, or pipe lines in from a script.

Replies are printed with numbered choices; typing a number answers with that choice (the engine maps it,
through the conversation's ``last_choices``, as on every channel).
``/lokasi LAT,LON`` sends a location pin; ``/foto PATH`` attaches a file.
"""
from __future__ import annotations

import asyncio
import itertools
import sys
import threading
import uuid
from pathlib import Path

from bot.engine import TurnFailed
from bot.messages import Identity, InboundMessage, Location, Media, OutboundMessage
from bot.sending import Outcome, SendResult
from channels.base import Channel


def format_message(msg: OutboundMessage | dict) -> str:
    text = msg.text if isinstance(msg, OutboundMessage) else msg["text"]
    choices = msg.choices if isinstance(msg, OutboundMessage) else [
        type("C", (), c) for c in (msg.get("choices") or [])]
    lines = [text]
    for i, c in enumerate(choices, 1):
        lines.append(f"  [{i}] {c.label}")
    return "\n".join(lines)


class ConsoleSender:
    channel = "console"
    rate_per_s = 1000.0
    per_chat_gap_s = 0.0

    def __init__(self, out):
        self.out = out

    async def send(self, doc: dict) -> SendResult:
        self.out.write("bot (notifikasi)> " + format_message(doc).replace("\n", "\n    ") + "\n")
        self.out.flush()
        return SendResult(Outcome.SENT, provider_id=f"console-{doc['_id']}")


class ConsoleChannel(Channel):
    name = "console"

    def __init__(self, runtime, user_id: str = "warga", stdin=None, stdout=None, prompt: bool | None = None):
        super().__init__(runtime)
        self.user_id = user_id
        self.stdin = stdin or sys.stdin
        self.out = stdout or sys.stdout
        self.prompt = self.stdin.isatty() if prompt is None else prompt
        self._seq = itertools.count(1)
        self._session = uuid.uuid4().hex[:8]

    def sender(self):
        return ConsoleSender(self.out)

    def to_inbound(self, line: str) -> InboundMessage:
        ident = Identity("console", self.user_id)
        mid = f"{self._session}-{next(self._seq)}"
        text = line.rstrip("\n")
        stripped = text.strip()
        if stripped.startswith("/lokasi "):
            try:
                lat, lon = (float(x) for x in stripped.split(" ", 1)[1].split(","))
                return InboundMessage(ident, mid, location=Location(lat, lon), kind="location")
            except ValueError:
                pass
        if stripped.startswith("/foto "):
            path = Path(stripped.split(" ", 1)[1])
            return InboundMessage(ident, mid, media=[Media("photo", str(path), "image/jpeg", path.name,
                                                          path.stat().st_size if path.exists() else None)],
                                  kind="media")
        return InboundMessage(ident, mid, text=text)

    def show(self, replies: list[OutboundMessage]) -> None:
        for r in replies:
            self.out.write("bot> " + format_message(r).replace("\n", "\n     ") + "\n")
        self.out.flush()

    def _start_reader(self) -> asyncio.Queue:
        """Read stdin in a daemon thread, so Ctrl-C stops the bot without waiting for one more line."""
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue = asyncio.Queue()

        def pump():
            while True:
                line = self.stdin.readline()
                loop.call_soon_threadsafe(lines.put_nowait, line)
                if not line:
                    return

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
        return lines

    async def chat(self) -> None:
        """Read lines until EOF; each line is one inbound message."""
        lines = self._start_reader()
        while True:
            if self.prompt:
                self.out.write("anda> ")
                self.out.flush()
            line = await lines.get()
            if not line:
                break
            if not self.prompt:
                self.out.write(f"anda> {line.rstrip()}\n")
            try:
                replies = await self.runtime.engine.handle(self.to_inbound(line), inline=True)
            except TurnFailed:
                self.out.write("bot> " + self.runtime.engine.failure_text() + "\n")
                continue
            self.show(replies)
