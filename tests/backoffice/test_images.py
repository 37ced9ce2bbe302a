"""Photo metadata (GPS, camera) never reaches an agency through the console; admins get the original."""
import struct
import zlib

from bot.backoffice.images import strip_jpeg, strip_metadata, strip_png
from tests.staff.conftest import advance, make_report

GPS = b"GPSLatitude -10.1772 GPSLongitude 123.6070 Canon EOS"


def _seg(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


JPEG = (b"\xff\xd8" + _seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _seg(0xE1, b"Exif\x00\x00" + GPS) + _seg(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + GPS)
        + _seg(0xFE, b"comment " + GPS) + _seg(0xDB, b"\x00" + bytes(64))
        + _seg(0xDA, b"\x00\x01\x02") + b"\x12\x34\xff\x00\x56" + b"\xff\xd9")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
       + _chunk(b"eXIf", b"MM\x00*" + GPS) + _chunk(b"tEXt", b"Comment\x00" + GPS)
       + _chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + _chunk(b"IEND", b""))


def test_jpeg_and_png_lose_their_metadata_and_keep_the_image():
    clean = strip_jpeg(JPEG)
    assert GPS not in clean and b"Exif" not in clean
    assert clean.startswith(b"\xff\xd8\xff\xe0") and clean.endswith(b"\x12\x34\xff\x00\x56\xff\xd9")
    assert _seg(0xDB, b"\x00" + bytes(64)) in clean
    clean = strip_png(PNG)
    assert GPS not in clean and b"IDAT" in clean and clean.endswith(_chunk(b"IEND", b""))
    assert strip_metadata(b"not a jpeg Exif", "image/jpeg") is None
    assert strip_metadata(JPEG[:60], "image/jpeg") is None  # truncated inside the EXIF segment
    assert strip_metadata(b"RIFF....WEBPEXIF", "image/webp") is None
    assert strip_metadata(b"\xff\xd8 not parseable, no metadata", "image/jpeg") == b"\xff\xd8 not parseable, no metadata"


async def test_officer_gets_the_photo_without_gps_admin_gets_the_original(rt, signed_in):
    from gridfs import AsyncGridFSBucket

    bucket = AsyncGridFSBucket(rt.stores.db)
    jid, pid = await bucket.upload_from_stream("a.jpg", JPEG), await bucket.upload_from_stream("b.png", PNG)
    report = await make_report(rt, attachments=[
        {"kind": "photo", "mime_type": "image/jpeg", "filename": "a.jpg", "size": len(JPEG), "gridfs_id": jid},
        {"kind": "photo", "mime_type": "image/png", "filename": "b.png", "size": len(PNG), "gridfs_id": pid}])
    tid = report["tracking_id"]
    await advance(rt, tid, "terverifikasi", "diteruskan")
    officer = await signed_in("officer", agency="DPU-53.71")
    admin = await signed_in("admin")
    for n in (0, 1):
        body = await (await officer.get(f"/staff/reports/{tid}/attachments/{n}")).read()
        assert GPS not in body and len(body) > 20
    assert await (await admin.get(f"/staff/reports/{tid}/attachments/0")).read() == JPEG
