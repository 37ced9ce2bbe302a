"""Messy Indonesian made plain before the model sees it (our own lexicon, tests/nlu/test_normalize.py).

- emoji and other pictographs become spaces;
- a message written in ALL CAPS is lower-cased (a capital then means nothing);
- letters repeated three or more times collapse ("tolooong" -> "tolong", "maaaf" -> "maaf");
- chat abbreviations are spelled out ("yg" -> "yang", "sy" -> "saya", "gk" -> "tidak", "jln" -> "jalan");
- greetings to the admin ("min", "gan", "kak") are dropped;
- informal place names become the official ones ("jkt" -> "Jakarta", "tangsel" -> "Tangerang Selatan").

``strip_particles`` removes the particles of spoken Indonesian (aja, dong, deh, ya, sih, kok, nih, yah) and a
leading "yang", so "yang anonim dong" is the choice "anonim".
"""
from __future__ import annotations

import re

ABBREVIATIONS = {
    "yg": "yang", "sy": "saya", "sya": "saya", "gw": "saya", "gue": "saya", "tdk": "tidak", "gk": "tidak",
    "ggk": "tidak", "ga": "tidak", "gak": "tidak", "nggak": "tidak", "ngga": "tidak", "enggak": "tidak",
    "engga": "tidak", "kagak": "tidak", "udh": "sudah", "udah": "sudah", "sdh": "sudah", "dah": "sudah",
    "blm": "belum", "jln": "jalan", "jl": "jalan", "kab": "kabupaten", "kec": "kecamatan", "kel": "kelurahan",
    "ds": "desa", "dgn": "dengan", "dg": "dengan", "utk": "untuk", "krn": "karena", "karna": "karena",
    "bgt": "banget", "sm": "sama", "tp": "tapi", "tpi": "tapi", "jg": "juga", "dr": "dari", "dri": "dari",
    "dlm": "dalam", "org": "orang", "gmn": "gimana", "gmana": "gimana", "tlg": "tolong", "tlong": "tolong",
    "skrg": "sekarang", "skrang": "sekarang", "rmh": "rumah", "sklh": "sekolah", "pdhl": "padahal",
    "bnyk": "banyak", "byk": "banyak", "lg": "lagi", "dpt": "dapat", "tsb": "tersebut", "pake": "pakai",
    "kalo": "kalau", "klo": "kalau", "kl": "kalau", "emg": "memang", "bener": "benar", "kmrn": "kemarin",
    "kemaren": "kemarin", "sampe": "sampai", "smp": "sampai", "hr": "hari", "bln": "bulan", "thn": "tahun",
    "mgg": "minggu", "bs": "bisa", "bsa": "bisa", "sdg": "sedang", "lgi": "lagi", "ato": "atau", "atw": "atau",
    "trs": "terus", "trus": "terus", "msh": "masih", "mrk": "mereka", "kami2": "kami", "knp": "kenapa",
    "napa": "kenapa", "gimana2": "gimana", "dmn": "di mana", "dimana": "di mana", "brp": "berapa",
    "pemda": "pemerintah daerah", "pemkot": "pemerintah kota", "pemkab": "pemerintah kabupaten",
    "yth": "yang terhormat", "mhn": "mohon", "trm": "terima", "makasi": "makasih", "thx": "thanks",
    "pls": "please", "plz": "please", "u": "you", "ur": "your",
}
# Said to whoever answers: no meaning for the model.
ADDRESS_WORDS = {"min", "mimin", "gan", "agan", "kak", "kakak", "sis", "bang", "bro", "om", "admin"}
PLACES = {
    "jkt": "Jakarta", "jakarta": "Jakarta", "sby": "Surabaya", "jogja": "Yogyakarta", "jogjakarta": "Yogyakarta",
    "yogya": "Yogyakarta", "jogya": "Yogyakarta", "djogja": "Yogyakarta", "tangsel": "Tangerang Selatan",
    "makasar": "Makassar", "mks": "Makassar", "bdg": "Bandung", "smg": "Semarang", "mdn": "Medan",
    "bks": "Bekasi", "dpk": "Depok", "bgr": "Bogor", "plg": "Palembang", "pku": "Pekanbaru", "mlg": "Malang",
    "sda": "Sidoarjo", "bpp": "Balikpapan", "btm": "Batam", "pnk": "Pontianak", "smd": "Samarinda",
    "dps": "Denpasar", "jayapura": "Jayapura", "tgr": "Tangerang", "cimahi": "Cimahi",
}
PARTICLES = {"aja", "saja", "dong", "deh", "ya", "yah", "sih", "kok", "nih", "lah", "kah", "please", "pls",
             "aj", "ae", "mah", "tuh", "yaa", "yaaa", "kak", "min", "gan", "say"}
KEEP_DOUBLE = {"maaf", "saat", "taat", "jumaat", "sakit", "tunggu", "tinggi", "manggarai", "allah", "ssst"}

_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\uFE0F\u200D\u20E3]+")
_REPEAT = re.compile(r"([a-zA-Z])\1{2,}")
_WORD = re.compile(r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*")


def _collapse(word: str) -> str:
    if not _REPEAT.search(word):
        return word
    two = _REPEAT.sub(r"\1\1", word)
    if two.lower() in KEEP_DOUBLE:
        return two
    return _REPEAT.sub(r"\1", word)


def _is_all_caps(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)


def normalize(text: str | None) -> str:
    """The same message in plain Indonesian; meaning, numbers and tracking IDs unchanged."""
    t = _EMOJI.sub(" ", text or "")
    if _is_all_caps(t):
        t = re.sub(r"LPR-[0-9A-Z]+", lambda m: m.group(0).replace("LPR-", "\0"), t).lower().replace("\0", "LPR-")

    def word(m: re.Match) -> str:
        w = _collapse(m.group(0))
        low = w.lower()
        if low in ABBREVIATIONS:
            return ABBREVIATIONS[low]
        if low in PLACES:
            return PLACES[low]
        if low in ADDRESS_WORDS:
            return ""
        return w

    t = _WORD.sub(word, t)
    return re.sub(r"[ \t]+", " ", t).strip()


def strip_particles(text: str) -> str:
    """``yang anonim dong`` -> ``anonim``; ``rahasia aja`` -> ``rahasia``; lower-case, plain words."""
    words = [_collapse(w) for w in re.findall(r"[\w-]+", (text or "").lower())]
    while words and words[0] == "yang":
        words = words[1:]
    return " ".join(w for w in words if w not in PARTICLES and re.sub(r"(\w)\1+$", r"\1", w) not in PARTICLES)
