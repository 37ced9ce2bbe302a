"""Strip metadata from photos on receipt: EXIF (GPS position, phone model, time), XMP, IPTC, comments.

JPEG: every APP1..APP15 and COM segment is dropped, except the two a viewer needs to show the picture as
taken: APP2 ``ICC_PROFILE`` (colours) and APP14 ``Adobe`` (colour transform). APP0 (JFIF) stays. The EXIF
orientation is the one EXIF value that changes how a photo looks, so when it is not "upright" a minimal
new EXIF block holding only that tag is written back (nothing else of the original EXIF survives). Bytes
after the end-of-image marker (appended previews, depth maps with their own EXIF) are dropped.

PNG: only the chunks needed to draw the image are kept (IHDR, PLTE, IDAT, IEND, transparency, colour and
gamma, pixel size, animation); eXIf, tEXt, iTXt, zTXt, tIME and unknown ancillary chunks are dropped.

Anything else (PDF, video, WebP) is stored as received. A file that does not parse is kept up to the point
where it stops parsing, never passed through with metadata we recognised.
"""
from __future__ import annotations

import struct

_JPEG_KEEP_APP = {0xE2: b"ICC_PROFILE\x00", 0xEE: b"Adobe"}
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
             b"bKGD", b"pHYs", b"cICP", b"acTL", b"fcTL", b"fdAT"}


def strip_metadata(data: bytes, mime_type: str | None = None) -> bytes:
    """The same picture without metadata; other content types (and unknown bytes) unchanged."""
    if data[:3] == b"\xff\xd8\xff":
        return strip_jpeg(data)
    if data[:8] == _PNG_SIG:
        return strip_png(data)
    return data


# ------------------------------------------------------------------ JPEG
def strip_jpeg(data: bytes) -> bytes:
    out = bytearray(b"\xff\xd8")
    orientation = 1
    i, n = 2, len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            break  # not a marker where one must be: keep the rest as it is
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # end of image: anything after it is dropped
            out += b"\xff\xd9"
            return _with_orientation(bytes(out), orientation)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers
            out += data[i:i + 2]
            i += 2
            continue
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        end = i + 2 + length
        is_meta = 0xE1 <= marker <= 0xEF or marker == 0xFE
        if is_meta:
            body = data[i + 4:min(end, n)]
            if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
                orientation = _exif_orientation(body[6:]) or orientation
            keep = _JPEG_KEEP_APP.get(marker)
            if keep is not None and body.startswith(keep) and end <= n:
                out += data[i:end]
            i = end
            continue
        if length < 2 or end > n:
            break
        out += data[i:end]
        i = end
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            j = _next_marker(data, i)
            out += data[i:j]
            i = j
    out += data[i:]
    return _with_orientation(bytes(out), orientation)


def _next_marker(data: bytes, i: int) -> int:
    """Index of the first marker after entropy-coded data (FF00 stuffing and RSTn belong to the data)."""
    n = len(data)
    while True:
        j = data.find(b"\xff", i)
        if j < 0 or j + 1 >= n:
            return n
        b = data[j + 1]
        if b == 0x00 or b == 0xFF or 0xD0 <= b <= 0xD7:
            i = j + 1
            continue
        return j


def _exif_orientation(tiff: bytes) -> int | None:
    """Tag 0x0112 of IFD0, if present and valid (1..8)."""
    try:
        bo = {b"II": "<", b"MM": ">"}[tiff[:2]]
        (ifd,) = struct.unpack(bo + "I", tiff[4:8])
        (count,) = struct.unpack(bo + "H", tiff[ifd:ifd + 2])
        for k in range(count):
            e = ifd + 2 + 12 * k
            tag, typ = struct.unpack(bo + "HH", tiff[e:e + 4])
            if tag == 0x0112 and typ == 3:
                (val,) = struct.unpack(bo + "H", tiff[e + 8:e + 10])
                return val if 1 <= val <= 8 else None
    except (KeyError, struct.error, IndexError):
        return None
    return None


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert a minimal EXIF (IFD0 with Orientation only) after SOI/APP0 when the photo is not upright."""
    if orientation == 1:
        return jpeg
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8) + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    body = b"Exif\x00\x00" + tiff
    seg = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    pos = 2
    if jpeg[2:4] == b"\xff\xe0":  # JFIF wants to stay first
        pos = 4 + struct.unpack(">H", jpeg[4:6])[0]
    return jpeg[:pos] + seg + jpeg[pos:]


# ------------------------------------------------------------------ PNG
def strip_png(data: bytes) -> bytes:
    out = bytearray(_PNG_SIG)
    i, n = 8, len(data)
    while i + 12 <= n:
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        end = i + 12 + length
        if end > n:
            if ctype in _PNG_KEEP:
                out += data[i:]
            break
        if ctype in _PNG_KEEP or not ctype[:1].islower():  # critical chunks are needed to decode
            out += data[i:end]
        i = end
        if ctype == b"IEND":
            break
    return bytes(out)
