"""Real photo bytes for the privacy tests: an 8x8 baseline JPEG and PNG (made once with an image library),
plus builders that add the metadata a phone camera writes (EXIF with GPS position and phone model, XMP,
comments, an appended preview; PNG text and eXIf chunks)."""
from __future__ import annotations

import struct
import zlib

CLEAN_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d283a"
    "333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb0043011112121815182f1a1a2f"
    "63423842636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363"
    "6363ffc00011080008000803012200021101031101ffc4001f000001050101010101010000000000000000010203040506070809"
    "0a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c115"
    "52d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a"
    "737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9ca"
    "d2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f01000301010101010101010100000000000001"
    "02030405060708090a0bffc400b51100020102040403040705040400010277000102031104052131061241510761711322328108"
    "144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a53545556575859"
    "5a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9"
    "bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00c7"
    "a28a2b84fa83ffd9")
CLEAN_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000080000000808020000004b6d29dc0000001449444154789c633c2127c7800d3061"
    "151db41200d0ca01143e63a8990000000049454e44ae426082")

MODEL = b"PhoneCo X9 Pro"
# 10 deg 9' 30.00" S, 123 deg 36' 15.00" E (Kupang), as EXIF rationals
GPS_LAT = ((10, 1), (9, 1), (3000, 100))
GPS_LON = ((123, 1), (36, 1), (1500, 100))


def _tiff(orientation: int) -> bytes:
    """Big-endian TIFF: IFD0 (Make/Model, Orientation, GPS pointer) and a GPS IFD with a position."""
    ifd0_n, gps_n = 4, 4
    ifd0_at = 8
    gps_at = ifd0_at + 2 + 12 * ifd0_n + 4
    data_at = gps_at + 2 + 12 * gps_n + 4
    extra = bytearray()

    def put(raw: bytes) -> int:
        off = data_at + len(extra)
        extra.extend(raw)
        return off

    model_off = put(MODEL + b"\x00")
    lat_off = put(b"".join(struct.pack(">II", a, b) for a, b in GPS_LAT))
    lon_off = put(b"".join(struct.pack(">II", a, b) for a, b in GPS_LON))
    ifd0 = struct.pack(">H", ifd0_n)
    ifd0 += struct.pack(">HHII", 0x010F, 2, 4, int.from_bytes(b"PCo\x00", "big"))      # Make
    ifd0 += struct.pack(">HHII", 0x0110, 2, len(MODEL) + 1, model_off)                # Model
    ifd0 += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)                        # Orientation
    ifd0 += struct.pack(">HHII", 0x8825, 4, 1, gps_at) + struct.pack(">I", 0)         # GPSInfo
    gps = struct.pack(">H", gps_n)
    gps += struct.pack(">HHI", 0x0001, 2, 2) + b"S\x00\x00\x00"
    gps += struct.pack(">HHII", 0x0002, 5, 3, lat_off)
    gps += struct.pack(">HHI", 0x0003, 2, 2) + b"E\x00\x00\x00"
    gps += struct.pack(">HHII", 0x0004, 5, 3, lon_off) + struct.pack(">I", 0)
    return b"MM\x00\x2a" + struct.pack(">I", ifd0_at) + ifd0 + gps + bytes(extra)


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def gps_jpeg(orientation: int = 1) -> bytes:
    """CLEAN_JPEG as a phone would write it: EXIF with GPS after JFIF, XMP, a comment, a trailing preview."""
    exif = _segment(0xE1, b"Exif\x00\x00" + _tiff(orientation))
    xmp = _segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta><exif:GPSLatitude>10,9.5S"
                         b"</exif:GPSLatitude></x:xmpmeta>")
    com = _segment(0xFE, b"taken by Rudi Hartono")
    app0_end = 4 + struct.unpack(">H", CLEAN_JPEG[4:6])[0]
    preview = b"\xff\xd8" + exif + b"\xff\xd9"  # an appended preview image with its own EXIF
    return CLEAN_JPEG[:app0_end] + exif + xmp + com + CLEAN_JPEG[app0_end:] + preview


def _chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def meta_png() -> bytes:
    """CLEAN_PNG with eXIf (GPS), tEXt, iTXt, zTXt and tIME chunks after IHDR."""
    ihdr_end = 8 + 12 + 13
    meta = (_chunk(b"eXIf", _tiff(1)) + _chunk(b"tEXt", b"Author\x00Rudi Hartono")
            + _chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<x:xmpmeta>GPS</x:xmpmeta>")
            + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"PhoneCo X9 Pro"))
            + _chunk(b"tIME", b"\x07\xea\x0c\x01\x0c\x00\x00"))
    return CLEAN_PNG[:ihdr_end] + meta + CLEAN_PNG[ihdr_end:]
