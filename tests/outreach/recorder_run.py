"""Run ``laporbot campaign run`` with one extra channel whose sender appends each send to a file.

Used by the kill-and-resume test as a real subprocess: ``python -m tests.outreach.recorder_run FILE NAME``.
Settings (MONGODB_URI, LAPOR_DB, ...) come from the environment as for laporbot itself.
"""
from __future__ import annotations

import os
import sys

from bot.outbox import SendResult


class FileSender:
    def __init__(self, path: str, rate: float):
        self.channel, self.rate_per_s, self.per_chat_gap_s = "telegram", rate, 0.0
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.n = 0

    async def send(self, doc: dict) -> SendResult:
        os.write(self.fd, f"{doc['user_id']} {doc.get('campaign')}\n".encode())  # the provider "has" it now
        self.n += 1
        return SendResult("sent", provider_id=f"f{os.getpid()}-{self.n}")


class RecorderChannel:
    name = "recorder"

    def __init__(self, runtime, path, rate):
        self._sender = FileSender(path, rate)

    def add_routes(self, app):
        return None

    def sender(self):
        return self._sender

    async def start(self):
        return None

    async def stop(self):
        return None


def main() -> int:
    path, name = sys.argv[1], sys.argv[2]
    rate = float(os.environ.get("RECORDER_RATE", "30"))
    import channels

    real = channels.enabled_channels

    def patched(runtime, *, console=False):
        return real(runtime, console=console) + [RecorderChannel(runtime, path, rate)]

    channels.enabled_channels = patched
    from bot.cli import main as cli_main

    return cli_main(["campaign", "run", name, "--quiet"])


if __name__ == "__main__":
    raise SystemExit(main())
