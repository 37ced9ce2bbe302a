"""The messy-Indonesian normaliser and the particle stripper (issue 14)."""
import pytest

from bot.nlu.normalize import normalize, strip_particles


@pytest.mark.parametrize("raw,plain", [
    ("yg rusak jln depan rmh sy", "yang rusak jalan depan rumah saya"),
    ("min, udh 2 mgg tdk ada air gan", ", sudah 2 minggu tidak ada air"),
    ("gk bisa bikin ktp di kec", "tidak bisa bikin ktp di kecamatan"),
    ("tolooong jalannyaaa rusaaak", "tolong jalannya rusak"),
    ("maaaaf mau tanya", "maaf mau tanya"),
    ("JALAN DI DEPAN PASAR RUSAK PARAH", "jalan di depan pasar rusak parah"),
    ("lampu mati 😡😡 di jkt", "lampu mati di Jakarta"),
    ("banjir di tangsel kak", "banjir di Tangerang Selatan"),
    ("pdam makasar mati", "pdam Makassar mati"),
    ("jalan rusak di sby", "jalan rusak di Surabaya"),
    ("macet parah di jogja", "macet parah di Yogyakarta"),
    ("status LPR-AB12CD3 gimana", "status LPR-AB12CD3 gimana"),
])
def test_normalize(raw, plain):
    assert normalize(raw) == plain


def test_normalize_keeps_ordinary_text_and_capitals():
    text = "Jalan Ahmad Yani di Kota Kupang berlubang sejak 12 Mei 2026."
    assert normalize(text) == text


@pytest.mark.parametrize("raw,bare", [("rahasia aja", "rahasia"), ("yang anonim dong", "anonim"),
                                      ("publik deh", "publik"), ("iya sih", "iya"), ("kok rahasia", "rahasia"),
                                      ("rahasiaaa ajaa", "rahasia"), ("ya", "")])
def test_strip_particles(raw, bare):
    assert strip_particles(raw) == bare
