"""The emergency lexicon: what is an emergency now, and what is an ordinary complaint (issue 14)."""
import pytest

from bot.nlu.emergency import detect

EMERGENCIES = [
    ("ada pembunuhan di desa", "kejahatan"),
    ("tolong pak ada perampokan di toko sebelah", "kejahatan"),
    ("suami saya memukuli saya terus, ini KDRT", "kejahatan"),
    ("there is a robbery happening right now", "kejahatan"),
    ("rumah kebakaran", "kebakaran"),
    ("TOLOOONG RUMAH TETANGGA KEBAKARAN 🔥🔥", "kebakaran"),
    ("tolong ada yang pingsan", "medis"),
    ("ayah saya sesak napas dan tidak sadarkan diri", "medis"),
    ("kecelakaan di jalan raya sekarang, korbannya berdarah", "medis"),
    ("banjir bandang sekarang", "bencana"),
    ("gempa! rumah roboh", "bencana"),
    ("banjir sampai atap, kami terjebak di rumah, tolong", "bencana"),
]
ORDINARY = [
    "jalan di depan rumah sering banjir kalau hujan, drainase mampet",
    "laporan saya soal pencurian motor tidak ditindaklanjuti polsek",
    "bantuan korban gempa belum cair sampai sekarang",
    "petugas damkar lambat datang saat kebakaran pasar minggu lalu",
    "kartu BPJS saya dinonaktifkan",
    "I was fired without my last salary being paid",
    "lampu jalan mati di jalan merdeka",
    "sampah dibakar tiap malam, asapnya masuk rumah",
    "",
]


@pytest.mark.parametrize("text,kind", EMERGENCIES)
def test_emergencies_are_recognised_with_their_kind(text, kind):
    assert detect(text) == kind


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_complaints_are_not_emergencies(text):
    assert detect(text) is None
