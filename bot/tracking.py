"""Tracking IDs: ``LPR-`` + 6 random Crockford base32 characters + 1 check character.

Random (``secrets``), so one ID tells nothing about another. The check character is a weighted
sum mod 32 with odd weights (coprime to 32), so any single-character change of the body alters
the check and is detected; the check character itself is in the same alphabet.
"""
from __future__ import annotations

import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
# Crockford decoding of look-alikes, so a citizen typing O for 0 or I/L for 1 still matches.
_ALIASES = str.maketrans({"O": "0", "I": "1", "L": "1"})
PREFIX = "LPR-"
BODY_LEN = 6
# Anything that looks like an attempt at an ID: LPR, optional dash/space, 5-9 alphanumerics.
CANDIDATE_RE = re.compile(r"\bLPR[\s\-_]*([0-9A-Za-z]{5,9})\b", re.IGNORECASE)
_WEIGHTS = (3, 7, 11, 13, 17, 19)  # odd, so every single change shifts the sum mod 32


def _check_char(body: str) -> str:
    return ALPHABET[sum(_VALUE[c] * w for c, w in zip(body, _WEIGHTS)) % 32]


def new_tracking_id() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LEN))
    return PREFIX + body + _check_char(body)


class TrackingIdError(ValueError):
    """`reason` is ``format`` (not an ID at all) or ``checksum`` (looks mistyped)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def normalize(text: str) -> str:
    """Canonical form of a typed ID or raise TrackingIdError. Case, dash and spaces do not matter."""
    raw = re.sub(r"[\s\-_]", "", text.strip().upper())
    if raw.startswith("LPR"):
        raw = raw[3:]
    if len(raw) != BODY_LEN + 1:
        raise TrackingIdError("format")
    raw = raw.translate(_ALIASES)
    body, check = raw[:-1], raw[-1]
    if any(c not in _VALUE for c in body) or check not in _VALUE:
        raise TrackingIdError("format")
    if _check_char(body) != check:
        raise TrackingIdError("checksum")
    return PREFIX + body + check


def is_valid(text: str) -> bool:
    try:
        normalize(text)
        return True
    except TrackingIdError:
        return False


def find_in_text(text: str) -> tuple[str | None, str | None]:
    """Look for an ID in free text. Returns (normalized_id, None), (None, 'checksum'|'format') or (None, None)."""
    m = CANDIDATE_RE.search(text or "")
    if not m:
        return None, None
    try:
        return normalize(m.group(0)), None
    except TrackingIdError as exc:
        return None, exc.reason
