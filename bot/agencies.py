"""Agency directory and routing suggestion (category + region -> agency).

The directory holds, each with a stable code:
- the regional government of every province, regency and city in ``bot.nlu.regions``
  (``PEMDA-<region code>``), with the regional offices citizens complain to most
  (Dukcapil, Dinas PU, Dinas Kesehatan, Dinas Pendidikan, ... as ``<OFFICE>-<region code>``),
  a PDAM per regency/city, a Samsat per province and a land office (BPN) per region;
- national ministries, agencies and state-owned utilities (``PLN``, ``BPJSKES``, ``KEMENKES``, ...).

Interface used by the dialogue: ``get(code)``, ``suggest(category, region)``, ``search(text)``.
"""
from __future__ import annotations

import re
from functools import lru_cache

# code, name, aliases (lower-case words citizens use)
_NATIONAL: list[tuple[str, str, tuple[str, ...]]] = [
    ("PLN", "PT PLN (Persero)", ("pln", "listrik", "perusahaan listrik negara")),
    ("BPJSKES", "BPJS Kesehatan", ("bpjs kesehatan", "bpjs", "jkn", "kis")),
    ("BPJSTK", "BPJS Ketenagakerjaan", ("bpjs ketenagakerjaan", "bpjstk", "jamsostek", "bpjs tk")),
    ("KEMENDAGRI", "Kementerian Dalam Negeri (Ditjen Dukcapil)", ("kemendagri", "dukcapil pusat", "ditjen dukcapil")),
    ("KEMENDIKBUD", "Kementerian Pendidikan (Kemendikbud)", ("kemendikbud", "kemdikbud", "kemendikdasmen", "pendidikan")),
    ("KEMENKES", "Kementerian Kesehatan", ("kemenkes", "kesehatan")),
    ("KEMENSOS", "Kementerian Sosial", ("kemensos", "bansos", "pkh", "bantuan sosial")),
    ("ATRBPN", "Kementerian ATR/BPN", ("atr", "bpn", "pertanahan", "sertifikat tanah")),
    ("KEMENHUB", "Kementerian Perhubungan", ("kemenhub", "perhubungan")),
    ("POLRI", "Kepolisian Negara RI (pelayanan)", ("polri", "polisi", "kepolisian", "sim", "skck")),
    ("KEJAKSAAN", "Kejaksaan RI (pelayanan)", ("kejaksaan", "jaksa")),
    ("KEMENPU", "Kementerian Pekerjaan Umum", ("kementerian pu", "pupr", "kemenpupr", "jalan nasional")),
    ("KEMNAKER", "Kementerian Ketenagakerjaan", ("kemnaker", "kemenaker", "tenaga kerja")),
    ("KLHK", "Kementerian Lingkungan Hidup", ("klhk", "lingkungan hidup")),
    ("KEMENDAG", "Kementerian Perdagangan (Perlindungan Konsumen)", ("kemendag", "perlindungan konsumen")),
    ("KEMENAG", "Kementerian Agama", ("kemenag", "haji", "kua", "madrasah")),
    ("KEMENKEU", "Kementerian Keuangan", ("kemenkeu", "keuangan")),
    ("DJP", "Direktorat Jenderal Pajak", ("djp", "pajak", "npwp")),
    ("BEACUKAI", "Direktorat Jenderal Bea dan Cukai", ("bea cukai", "beacukai")),
    ("IMIGRASI", "Direktorat Jenderal Imigrasi", ("imigrasi", "paspor")),
    ("KOMDIGI", "Kementerian Komunikasi dan Digital", ("komdigi", "kominfo", "internet", "sinyal")),
    ("KEMENDES", "Kementerian Desa dan PDT", ("kemendes", "dana desa")),
    ("OJK", "Otoritas Jasa Keuangan", ("ojk", "bank", "pinjol", "perbankan", "asuransi")),
    ("BPOM", "Badan Pengawas Obat dan Makanan", ("bpom", "obat", "makanan")),
    ("BNPB", "Badan Nasional Penanggulangan Bencana", ("bnpb", "bencana")),
    ("KEMENPANRB", "Kementerian PANRB", ("kemenpanrb", "menpan", "asn")),
    ("BKN", "Badan Kepegawaian Negara", ("bkn", "cpns", "kepegawaian")),
    ("KEMENTAN", "Kementerian Pertanian", ("kementan", "pupuk", "pertanian")),
    ("PERTAMINA", "PT Pertamina (Persero)", ("pertamina", "bbm", "elpiji", "lpg")),
    ("TELKOM", "PT Telkom Indonesia", ("telkom", "indihome")),
    ("KAI", "PT Kereta Api Indonesia", ("kai", "kereta", "krl")),
    ("POS", "PT Pos Indonesia", ("pos indonesia", "kantor pos")),
]

# Regional offices: prefix, name pattern, aliases, whether regencies/cities, provinces have one.
_REGIONAL: list[tuple[str, str, tuple[str, ...], bool, bool]] = [
    ("DUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil {where}", ("dukcapil", "disdukcapil", "capil", "ktp", "kk", "akta"), True, True),
    ("DPU", "Dinas Pekerjaan Umum {where}", ("dinas pu", "pu", "pupr", "jalan", "drainase"), True, True),
    ("DINKES", "Dinas Kesehatan {where}", ("dinkes", "dinas kesehatan", "puskesmas"), True, True),
    ("DISDIK", "Dinas Pendidikan {where}", ("disdik", "dinas pendidikan", "sekolah"), True, True),
    ("DINSOS", "Dinas Sosial {where}", ("dinsos", "dinas sosial", "bansos"), True, True),
    ("DLH", "Dinas Lingkungan Hidup {where}", ("dlh", "sampah", "lingkungan"), True, True),
    ("DISHUB", "Dinas Perhubungan {where}", ("dishub", "dinas perhubungan", "parkir", "angkot"), True, True),
    ("DPMPTSP", "Dinas Penanaman Modal dan PTSP {where}", ("dpmptsp", "ptsp", "perizinan", "izin", "imb", "pbg"), True, True),
    ("DISNAKER", "Dinas Tenaga Kerja {where}", ("disnaker", "dinas tenaga kerja"), True, True),
    ("SATPOLPP", "Satpol PP {where}", ("satpol pp", "satpol", "ketertiban"), True, True),
    ("DISPERINDAG", "Dinas Perdagangan {where}", ("disperindag", "dinas perdagangan", "pasar"), True, True),
    ("BPN", "Kantor Pertanahan {where}", ("bpn", "kantor pertanahan", "sertifikat"), True, False),
    ("KANWILBPN", "Kantor Wilayah BPN {where}", ("kanwil bpn", "bpn"), False, True),
    ("PDAM", "Perumda Air Minum (PDAM) {where}", ("pdam", "air minum", "air bersih", "ledeng"), True, False),
    ("SAMSAT", "Samsat {where}", ("samsat", "stnk", "pajak kendaraan", "bpkb"), False, True),
]

# category -> regional office prefix (None = the regional government itself) and the national fallback.
_ROUTES: dict[str, tuple[str | None, str | None]] = {
    "kependudukan": ("DUKCAPIL", "KEMENDAGRI"),
    "infrastruktur": ("DPU", "KEMENPU"),
    "kesehatan": ("DINKES", "KEMENKES"),
    "pendidikan": ("DISDIK", "KEMENDIKBUD"),
    "bantuan_sosial": ("DINSOS", "KEMENSOS"),
    "lingkungan": ("DLH", "KLHK"),
    "perhubungan": ("DISHUB", "KEMENHUB"),
    "perizinan": ("DPMPTSP", None),
    "ketenagakerjaan": ("DISNAKER", "KEMNAKER"),
    "ketertiban_umum": ("SATPOLPP", "POLRI"),
    "perlindungan_konsumen": ("DISPERINDAG", "KEMENDAG"),
    "pertanahan": ("BPN", "ATRBPN"),
    "listrik_air": (None, "PLN"),
    "lainnya": (None, None),
}
# Words in the citizen's text that point to a more specific agency than the category alone.
_TEXT_HINTS: list[tuple[re.Pattern, str]] = [
    (re.compile(r"\b(pdam|air (bersih|minum|ledeng|mati|keruh)|ledeng|pipa air)\b"), "PDAM"),
    (re.compile(r"\b(stnk|bpkb|samsat|pajak kendaraan|plat nomor)\b"), "SAMSAT"),
    (re.compile(r"\bbpjs (tk|ketenagakerjaan)|jamsostek|jht\b"), "BPJSTK"),
    (re.compile(r"\b(bpjs|jkn|kis)\b"), "BPJSKES"),
    (re.compile(r"\b(listrik|pln|token|meteran|padam)\b"), "PLN"),
    (re.compile(r"\b(sim|skck)\b"), "POLRI"),
]


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9/ ]+", " ", (text or "").lower()).strip()


def _where(region) -> str:
    return f"Provinsi {region.name}" if region.kind == "provinsi" else region.name


@lru_cache(maxsize=1)
def _directory() -> dict[str, dict]:
    from bot.nlu import regions as R

    out: dict[str, dict] = {}
    for code, name, aliases in _NATIONAL:
        out[code] = {"code": code, "name": name, "level": "nasional", "region_code": None,
                     "province_code": None, "aliases": list(aliases)}
    for r in R.all_regions():
        where = _where(r)
        out[f"PEMDA-{r.code}"] = {"code": f"PEMDA-{r.code}", "name": f"Pemerintah {where}", "level": r.kind,
                                  "region_code": r.code, "province_code": r.province_code,
                                  "aliases": ["pemda", "pemkot" if r.kind == "kota" else
                                              "pemkab" if r.kind == "kabupaten" else "pemprov"]}
        for prefix, pattern, aliases, local, provincial in _REGIONAL:
            if (r.kind == "provinsi" and not provincial) or (r.kind != "provinsi" and not local):
                continue
            code = f"{prefix}-{r.code}"
            out[code] = {"code": code, "name": pattern.format(where=where), "level": r.kind,
                         "region_code": r.code, "province_code": r.province_code, "aliases": list(aliases)}
    return out


def _public(entry: dict | None) -> dict | None:
    if entry is None:
        return None
    return {k: v for k, v in entry.items() if k != "aliases"}


def all_agencies() -> list[dict]:
    return [_public(a) for a in _directory().values()]


def get(code: str | None) -> dict | None:
    if not code:
        return None
    return _public(_directory().get(code.strip().upper()))


def _regional(prefix: str, region) -> dict | None:
    d = _directory()
    a = d.get(f"{prefix}-{region.code}")
    if a is None and region.kind != "provinsi":  # e.g. Samsat: the province's office
        a = d.get(f"{prefix}-{region.province_code}")
    if a is None and region.kind == "provinsi" and prefix == "BPN":
        a = d.get(f"KANWILBPN-{region.code}")
    return a


def suggest(category: str | None, region, text: str | None = None) -> dict | None:
    """The agency a report of ``category`` in ``region`` (a Region or None) most likely belongs to.

    ``text`` (optional, the citizen's description) refines it: water -> the region's PDAM, STNK -> Samsat.
    """
    d = _directory()
    t = _norm(text or "")
    for pattern, target in _TEXT_HINTS:
        if t and pattern.search(t):
            if target in d:
                return _public(d[target])
            if region is not None and (a := _regional(target, region)):
                return _public(a)
    office, national = _ROUTES.get(category or "", (None, None))
    if region is not None:
        if office and (a := _regional(office, region)):
            return _public(a)
        if national and category == "listrik_air":
            return _public(d[national])
        return _public(d.get(f"PEMDA-{region.code}"))
    return _public(d.get(national)) if national else None


def search(text: str, limit: int = 20) -> list[dict]:
    """Agencies whose code equals ``text`` or whose name/aliases contain every word of it."""
    t = _norm(text)
    if not t:
        return []
    d = _directory()
    exact = d.get(text.strip().upper())
    if exact:
        return [_public(exact)]
    words = t.split()
    hits = []
    for a in d.values():
        hay = " " + _norm(a["name"]) + " " + " ".join(a["aliases"]) + " "
        if all(f" {w}" in hay for w in words):
            alias_exact = t in a["aliases"]
            hits.append((0 if alias_exact and a["level"] == "nasional" else 1 if alias_exact else 2,
                         len(a["name"]), a))
    hits.sort(key=lambda h: (h[0], h[1]))
    return [_public(a) for *_, a in hits[:limit]]
