"""Metadata stripping on real JPEG/PNG bytes carrying a GPS position and the phone model."""
import struct

from bot.privacy.exif import _exif_orientation, strip_metadata
from tests.privacy.photos import CLEAN_JPEG, CLEAN_PNG, MODEL, gps_jpeg, meta_png


def _orientation(jpeg: bytes) -> int | None:
    i = jpeg.find(b"Exif\x00\x00")
    return None if i < 0 else _exif_orientation(jpeg[i + 6:])


def test_jpeg_with_gps_exif_comes_out_as_the_clean_picture():
    dirty = gps_jpeg()
    assert MODEL in dirty and b"Exif" in dirty and b"\x88\x25" in dirty
    assert strip_metadata(dirty, "image/jpeg") == CLEAN_JPEG


def test_orientation_survives_alone_in_a_minimal_exif():
    out = strip_metadata(gps_jpeg(orientation=6), "image/jpeg")
    assert _orientation(out) == 6
    assert MODEL not in out and b"PCo" not in out and b"\x88\x25" not in out and b"Rudi" not in out
    assert b"xmpmeta" not in out and out.count(b"\xff\xd8") == 1
    # the only change from the clean picture is the 1-tag EXIF right after JFIF
    app0_end = 4 + struct.unpack(">H", CLEAN_JPEG[4:6])[0]
    seg_len = struct.unpack(">H", out[app0_end + 2:app0_end + 4])[0]
    assert out[:app0_end] + out[app0_end + 2 + seg_len:] == CLEAN_JPEG


def test_stripping_is_idempotent_and_clean_files_are_untouched():
    assert strip_metadata(CLEAN_JPEG) == CLEAN_JPEG
    assert strip_metadata(CLEAN_PNG) == CLEAN_PNG
    once = strip_metadata(gps_jpeg(orientation=8))
    assert strip_metadata(once) == once


def test_png_text_and_exif_chunks_are_dropped():
    dirty = meta_png()
    out = strip_metadata(dirty, "image/png")
    assert out == CLEAN_PNG
    for needle in (b"eXIf", b"tEXt", b"iTXt", b"zTXt", b"tIME", b"Rudi"):
        assert needle not in out


def test_truncated_or_foreign_bytes_never_keep_recognised_metadata():
    dirty = gps_jpeg()
    cut = dirty[:dirty.find(MODEL) + 3]  # cut inside the EXIF segment
    out = strip_metadata(cut)
    assert b"Exif" not in out and b"PCo" not in out
    assert strip_metadata(b"%PDF-1.4 Rudi", "application/pdf") == b"%PDF-1.4 Rudi"
    odd = b"\xff\xd8\xff\xe0" + b"JFIF-test-photo" * 20 + b"\xff\xd9"  # malformed APP0 length: kept as is
    assert strip_metadata(odd) == odd
