"""Emergencies by lexicon: crimes in progress, violence, medical emergencies, fires and disasters.

``detect(text)`` returns the kind (``kejahatan``, ``kebakaran``, ``medis``, ``bencana``) or None. It needs no
model, so it answers even when the NLU is down, and it runs before anything else in a turn.

Words that are emergencies on their own ("pembunuhan", "kebakaran", "pingsan") count unless the message is
plainly about the past or about a service ("kemarin", "laporan saya tidak ditindaklanjuti") and carries no
sign of urgency ("sekarang", "tolong", "darurat"). Words that are also everyday complaints ("banjir",
"kecelakaan") count only with a sign of urgency ("banjir bandang sekarang").
"""
from __future__ import annotations

import re

from bot.nlu.normalize import normalize

_STRONG = {
    "kejahatan": [
        r"pembunuhan", r"(di|ter)bunuh", r"membunuh", r"mau bunuh", r"perampokan", r"(di)?rampok", r"merampok",
        r"(di)?begal", r"pembegalan", r"penusukan", r"(di|ke)tusuk", r"menusuk", r"penembakan", r"(di|ter)tembak",
        r"pemerkosaan", r"(di)?perkosa", r"pelecehan seksual", r"penculikan", r"(di)?culik", r"penyanderaan",
        r"(di)?sandera", r"tawuran", r"(di)?aniaya", r"penganiayaan", r"(di)?keroyok", r"pengeroyokan",
        r"dipukuli", r"kdrt", r"kekerasan dalam rumah tangga", r"bom", r"senjata tajam", r"sajam",
        r"murder(ed)?", r"killing", r"robbery", r"being robbed", r"stabb(ed|ing)", r"shooting", r"shot",
        r"rape(d)?", r"kidnap(ped|ping)?", r"assault(ed)?", r"domestic violence",
    ],
    "kebakaran": [r"kebakaran", r"(ter|ke)bakar", r"api membesar", r"fire", r"on fire"],
    "medis": [
        r"pingsan", r"tidak sadarkan diri", r"gak sadar(kan diri)?", r"tak sadarkan diri", r"sesak napas",
        r"sesak nafas", r"pendarahan", r"perdarahan", r"kejang", r"serangan jantung", r"keracunan",
        r"overdosis", r"tenggelam", r"sekarat", r"mau melahirkan", r"unconscious", r"fainted", r"not breathing",
        r"heart attack", r"bleeding", r"seizure", r"drowning", r"overdose",
    ],
    "bencana": [
        r"banjir bandang", r"tsunami", r"gempa( bumi)?", r"(gunung )?meletus", r"erupsi", r"lahar",
        r"puting beliung", r"tanah longsor menimpa", r"longsor menimpa", r"tertimbun", r"terseret arus",
        r"flash flood", r"earthquake", r"eruption", r"landslide",
    ],
}
# Emergencies only with a sign of urgency.
_WEAK = {
    "bencana": [r"banjir", r"longsor", r"flood(ing)?", r"angin kencang"],
    "medis": [r"kecelakaan", r"luka parah", r"berdarah", r"accident", r"injured"],
    "kejahatan": [r"maling", r"pencuri(an)?", r"thief", r"ngamuk", r"mengamuk"],
}
_URGENT = [r"sekarang", r"skrg", r"saat ini", r"sedang", r"lagi terjadi", r"tolong", r"darurat", r"segera",
           r"cepat", r"cepetan", r"help", r"now", r"urgent", r"emergency", r"terjebak", r"hanyut", r"masih",
           r"minta bantuan", r"sos"]
_NOT_NOW = [r"kemarin", r"kemaren", r"minggu lalu", r"bulan lalu", r"tahun lalu", r"dulu", r"bekas", r"pasca",
            r"sudah lama", r"laporan saya", r"tidak ditindaklanjuti", r"tidak diproses", r"belum diproses",
            r"lambat", r"pelayanan", r"bantuan (korban|bencana) belum", r"last (week|month|year)", r"yesterday",
            r"rawan", r"sering", r"akibat", r"pascagempa", r"belum (cair|dapat|diterima|datang|ada)", r"setiap (hari|tahun|musim)", r"tiap (hari|tahun|musim)", r"kalau hujan"]

# "until now" is a duration, not urgency.
_SINCE_RX = re.compile(r"\b(?:sampai|hingga|sampe|until|till|up to) (?:sekarang|saat ini|now)\b")
KINDS = tuple(_STRONG)


def _rx(words: list[str]) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(words) + r")\b")


_STRONG_RX = {k: _rx(v) for k, v in _STRONG.items()}
_WEAK_RX = {k: _rx(v) for k, v in _WEAK.items()}
_URGENT_RX = _rx(_URGENT)
_NOT_NOW_RX = _rx(_NOT_NOW)


def detect(text: str | None) -> str | None:
    """The kind of emergency a message reports, or None."""
    t = normalize(text or "").lower()
    if not t:
        return None
    urgent = bool(_URGENT_RX.search(_SINCE_RX.sub(" ", t)))
    calm = bool(_NOT_NOW_RX.search(t)) and not urgent
    for kind, rx in _STRONG_RX.items():
        if rx.search(t) and not calm:
            return kind
    if urgent:
        for kind, rx in _WEAK_RX.items():
            if rx.search(t):
                return kind
    return None
