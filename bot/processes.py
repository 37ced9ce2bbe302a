"""Child processes the bot owns (embedded database, Rasa): they never outlive the bot."""
from __future__ import annotations

import signal
import socket
from pathlib import Path


def die_with_parent() -> None:
    """``preexec_fn``: on Linux the child gets SIGKILL when the thread that started it dies (even by SIGKILL of
    the whole bot), so no server is left orphaned. SIGKILL, not SIGTERM: a server busy draining connections
    could outlive a SIGTERM with nobody left to follow up (one embedded server did, for hours); the database's
    acknowledged writes are journaled, and a graceful stop still sends SIGTERM first (``EmbeddedMongo.stop``).
    Start children from a long-lived thread (the event loop's)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def log_tail(path: Path | str | None, lines: int = 12) -> str:
    """The last lines of a child's log, for an error message a person can act on."""
    if not path:
        return ""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
