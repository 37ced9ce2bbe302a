"""Removing metadata (GPS position, camera, owner) from images before an agency sees them.

JPEG: every APP1..APP15 segment (EXIF, XMP, IPTC, ...) and comments are dropped; APP0 (JFIF) and the image
data stay. PNG: the ``eXIf``, ``tEXt``, ``zTXt``, ``iTXt`` and ``tIME`` chunks are dropped. An image that does
not parse (or a WebP) is served as it is only when no metadata marker occurs in it; otherwise None (the
caller does not serve it).
"""
from __future__ import annotations

import struct

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
_MARKERS = (b"Exif", b"EXIF", b"XMP", b"xmp", b"adobe", b"GPS", b"eXIf", b"tEXt", b"iTXt", b"zTXt")


def strip_jpeg(data: bytes) -> bytes | None:
    if data[:2] != b"\xff\xd8":
        return None
    out, i = bytearray(b"\xff\xd8"), 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out)
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            out += data[i:i + 2]
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if length < 2 or i + 2 + length > len(data):
            return None
        if not (0xE1 <= marker <= 0xEF or marker == 0xFE):
            out += data[i:i + 2 + length]
        i += 2 + length
    out += data[i:]
    return bytes(out)


def strip_png(data: bytes) -> bytes | None:
    if not data.startswith(_PNG_SIG):
        return None
    out, i = bytearray(_PNG_SIG), len(_PNG_SIG)
    while i + 12 <= len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            return None
        if kind not in _PNG_DROP:
            out += data[i:end]
        i = end
        if kind == b"IEND":
            break
    return bytes(out)


def strip_metadata(data: bytes, mime: str) -> bytes | None:
    """The image without metadata; None when it can't be cleaned safely (the caller refuses to serve it)."""
    if mime == "image/jpeg":
        cleaned = strip_jpeg(data)
    elif mime == "image/png":
        cleaned = strip_png(data)
    elif mime == "image/webp":
        cleaned = None
    else:  # GIF has no EXIF
        return data
    if cleaned is None and not any(m in data for m in _MARKERS):
        return data  # not parseable, but nothing that looks like metadata either
    return cleaned
