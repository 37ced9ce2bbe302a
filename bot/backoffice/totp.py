"""Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): SHA-1, 6 digits, 30-second steps."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote

STEP_S = 30
DIGITS = 6


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    s = secret.strip().replace(" ", "").upper()
    return base64.b32decode(s + "=" * (-len(s) % 8))


def code_at(secret: str, step: int) -> str:
    digest = hmac.new(_key(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    off = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[off:off + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** DIGITS).zfill(DIGITS)


def now_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // STEP_S)


def matching_step(secret: str, code: str, *, at: float | None = None, window: int = 1) -> int | None:
    """The time step whose code equals ``code`` (one step of clock drift each way), else None."""
    code = (code or "").strip().replace(" ", "")
    if not secret or len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    base = now_step(at)
    for step in range(base - window, base + window + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def uri(secret: str, email: str, issuer: str = "LAPOR Back Office") -> str:
    return (f"otpauth://totp/{quote(issuer)}:{quote(email)}?secret={secret}&issuer={quote(issuer)}"
            f"&digits={DIGITS}&period={STEP_S}")
