"""Districts (kecamatan) and well-known towns resolved to their regency/city (issue 14).

Data: every kecamatan of ``bot/nlu/data/regions.json`` (idn-area-data, 7,285 districts) and a curated list of
well-known towns and places that are not a kecamatan name (``bot/nlu/data/towns.json``). Used by
``regions.resolve`` only when the text names no regency, city or province.

A district name counts when it follows "kecamatan"/"kec", or when it is not an ordinary word (STOP) and is
written with a capital letter or follows a word that introduces a place ("di cibinong", "deket karawaci"); a capitalised word inside an acronym expansion never counts (bot/nlu/acronyms.py).
A name shared by districts of several regencies returns all of them: the bot asks "Kecamatan X di A atau B?".
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

from bot.nlu.acronyms import mask

REGIONS_FILE = Path(__file__).parent / "data" / "regions.json"  # the same file bot/nlu/regions.py reads

TOWNS_FILE = Path(__file__).parent / "data" / "towns.json"
_TOKEN = re.compile(r"[0-9A-Za-zÀ-ÿ]+")
_QUALIFIERS = {"kecamatan", "kec", "distrik"}
# Lower-case names count after a word that introduces a place ("di cibinong", "deket karawaci").
_PLACE_PREPS = {"di", "ke", "dari", "dr", "deket", "dekat", "sekitar", "daerah", "wilayah", "kawasan", "pantai",
                "arah", "in", "near", "at", "area"}
# District names that are also everyday words (checked against the training texts): never matched bare.
STOP = set("""
abab ayah banda bandar bantaran bara barat bawang bener biaro bintang bola bukit butuh gantung gapura harian ibu
jabung jaya kota kuala kubu lawang lembur luas mandor matur meranti muara murung natal negara pacar pangkalan
panjang pinang pinggir raya salam sawit semen simpang sumur taman tambang tanggul tanjung tarik tebing tetap tulis
ujung baru lama tengah utara selatan timur pusat kampung pasar sungai gunung pantai danau air kali batu tanah
bukit kebun sawah hutan laut pulau teluk tanjung jalan gang lorong desa dusun rt rw blok rumah sekolah masjid
kantor pelayanan umum sentral mandiri indah asri makmur sejahtera sari mulya jati mekar sukamaju maju harapan
bunga melati mawar kenanga anggrek cempaka merdeka pahlawan kartini sudirman diponegoro gajah kuda kerbau
""".split())


@lru_cache(maxsize=1)
def _index() -> tuple[dict[str, set[str]], dict[str, str], int]:
    doc = json.loads(REGIONS_FILE.read_text(encoding="utf-8"))
    where: dict[str, set[str]] = {}
    shown: dict[str, str] = {}
    for _code, regency, name in doc["districts"]:
        key = " ".join(t.lower() for t in _TOKEN.findall(name))
        where.setdefault(key, set()).add(regency)
        shown.setdefault(key, name)
    for key, codes in json.loads(TOWNS_FILE.read_text(encoding="utf-8"))["towns"].items():
        where.setdefault(key, set()).update(codes)
        shown.setdefault(key, key.title())
    return where, shown, max(len(k.split()) for k in where)


def find(text: str) -> tuple[str, list[str]] | None:
    """(district name as written in the data, regency/city codes) of the first district mentioned, or None."""
    where, shown, longest = _index()
    raw = _TOKEN.findall(mask(text or ""))
    low = [t.lower() for t in raw]
    for i in range(len(low)):
        after_qualifier = i > 0 and low[i - 1] in _QUALIFIERS
        after_prep = i > 0 and low[i - 1] in _PLACE_PREPS
        for n in range(min(longest, len(low) - i), 0, -1):
            key = " ".join(low[i:i + n])
            if key not in where or len(key) < 4:
                continue
            if not after_qualifier and (key in STOP or not (raw[i][:1].isupper() or after_prep)):
                continue
            return shown[key], sorted(where[key])
    return None
