"""Parsing what clients send: JSON bodies and frames, forms, query parameters. One place, one set of limits.

Every function here either returns a value that is safe to use and to store in MongoDB, or raises
``BadInput`` (status, code, message), which the HTTP layers turn into a clear 4xx. Nothing here raises
anything else on bad input: no ``RecursionError`` (nesting is limited), no ``UnicodeDecodeError`` (bodies
must be UTF-8), no ``OverflowError`` later in BSON (integers beyond 64 bits are kept as their digits), no
``InvalidDocument`` (NUL bytes in keys and lone surrogates anywhere become U+FFFD).
"""
from __future__ import annotations

import json
import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping
from urllib.parse import parse_qsl

MAX_DEPTH = 32  # WhatsApp payloads nest about 8 levels; MongoDB refuses documents deeper than 100
INT64 = (-(2 ** 63), 2 ** 63 - 1)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_DIGITS = re.compile(r"[0-9]{1,12}")


class BadInput(ValueError):
    """Input that cannot be accepted; ``status`` is the HTTP status to answer with (400 unless said)."""

    def __init__(self, message: str, code: str = "bad_request", status: int = 400):
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


def clean_str(s: str) -> str:
    """Lone surrogates (valid in JSON escapes, not in UTF-8) become U+FFFD."""
    return _SURROGATE.sub("\ufffd", s) if _SURROGATE.search(s) else s


def _clean_key(k: str) -> str:
    return clean_str(k).replace("\x00", "\ufffd")


def storable(value: Any, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of parsed JSON that BSON can encode; BadInput when nested deeper than ``max_depth``.

    Iterative (no recursion), so depth is checked without touching Python's recursion limit."""
    root: list = [value]
    stack: list[tuple[Any, Any, Any, int]] = [(root, 0, value, 1)]  # (parent, key, value, depth)
    while stack:
        parent, key, v, depth = stack.pop()
        if isinstance(v, (dict, list)) and depth > max_depth:
            raise BadInput(f"nested deeper than {max_depth} levels", "too_deep")
        if isinstance(v, dict):
            new: Any = {}
            for k, item in v.items():
                ck = _clean_key(k)
                new[ck] = None
                stack.append((new, ck, item, depth + 1))
        elif isinstance(v, list):
            new = [None] * len(v)
            stack.extend((new, i, item, depth + 1) for i, item in enumerate(v))
        elif isinstance(v, str):
            new = clean_str(v)
        elif isinstance(v, int) and not isinstance(v, bool) and not INT64[0] <= v <= INT64[1]:
            new = str(v)
        elif isinstance(v, float) and v != v:  # NaN (json accepts it): keep as text
            new = "NaN"
        else:
            new = v
        parent[key] = new
    return root[0]


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a JSON body or frame. Raises BadInput for bad UTF-8, bad JSON or too deep nesting."""
    if isinstance(raw, (bytes, bytearray)):
        try:
            raw = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise BadInput("the body is not UTF-8", "malformed_json") from None
    try:
        value = json.loads(raw)
    except RecursionError:  # the C parser stops at the interpreter's limit; deeper than any real body
        raise BadInput(f"nested deeper than {max_depth} levels", "too_deep") from None
    except ValueError:
        raise BadInput("the body is not valid JSON", "malformed_json") from None
    return storable(value, max_depth)


def loads_object(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> dict:
    value = loads(raw, max_depth=max_depth)
    if not isinstance(value, dict):
        raise BadInput("the body must be a JSON object", "malformed_json")
    return value


async def read_json_object(request, *, max_bytes: int, max_depth: int = MAX_DEPTH) -> dict:
    """An aiohttp request's JSON object body (empty body: ``{}``); 413 over ``max_bytes``."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise BadInput(f"request body over {max_bytes} bytes", "too_large", 413)
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise BadInput(f"request body over {max_bytes} bytes", "too_large", 413)
    return loads_object(raw, max_depth=max_depth) if raw.strip() else {}


def parse_form(raw: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; BadInput when it is not UTF-8 (last value wins)."""
    try:
        text = raw.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=1000)
    except (UnicodeDecodeError, ValueError):
        raise BadInput("the form is not UTF-8 or has too many fields", "malformed_form") from None
    return {clean_str(k): clean_str(v) for k, v in pairs}


# ------------------------------------------------------------------ query parameters
def only_params(query: Mapping, allowed: set[str]) -> None:
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise BadInput(f"unknown parameters: {', '.join(unknown)}", "unknown_parameters")


def int_param(query: Mapping, key: str, default: int, lo: int, hi: int) -> int:
    """ASCII digits only (``²`` or ``٣`` are refused), within [lo, hi]."""
    v = query.get(key)
    if v is None:
        return default
    if not _DIGITS.fullmatch(v) or not lo <= int(v) <= hi:
        raise BadInput(f"{key} must be an integer from {lo} to {hi}", "invalid_parameter")
    return int(v)


def date_param(query: Mapping, key: str, *, end_of_day: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (with ``end_of_day``: the instant after that whole day) or an ISO datetime; UTC if naive.
    Years 1970-9998 only, so arithmetic on the result cannot overflow."""
    v = query.get(key)
    if not v:
        return None
    try:
        if len(v) == 10:
            d = datetime.combine(date.fromisoformat(v), time(0), tzinfo=timezone.utc)
            if end_of_day:
                d += timedelta(days=1)
        else:
            d = datetime.fromisoformat(v)
            d = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        if not 1970 <= d.year <= 9998:
            raise ValueError("year out of range")
        return d
    except (ValueError, OverflowError):
        raise BadInput(f"{key} must be a date (YYYY-MM-DD) or ISO datetime between 1970 and 9998",
                       "invalid_parameter") from None
