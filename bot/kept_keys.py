"""Signing keys (web chat visitors, staff sessions): derived from ``LAPOR_SECRET_KEY``, else a random key kept
in the data directory, shared by every process that uses that directory.

Several processes may start at once on a new data directory: each writes its candidate to a file of its own
and publishes it with ``os.link``, which fails if the key exists. So the first key wins whole, and nobody
ever reads a half-written one.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path


def kept_key(settings, purpose: str) -> bytes:
    """The 32-byte key for ``purpose`` (``webchat``, ``staff``); the file is ``<data dir>/<purpose>.key``."""
    if settings.lapor_secret_key:
        return hashlib.sha256(f"{purpose}:{settings.lapor_secret_key}".encode()).digest()
    path = Path(settings.lapor_data_dir) / f"{purpose}.key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    mine = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(mine, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_bytes(32).hex())
    try:
        os.link(mine, path)  # another process's key may be there already: then that one is the key
    except FileExistsError:
        pass
    finally:
        os.unlink(mine)
    return bytes.fromhex(path.read_text().strip())
