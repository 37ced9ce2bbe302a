"""Turn Rasa's parse answer (or nothing, when Rasa is unavailable) into the bot's Interpretation.

Everything after Rasa is deterministic and local: the composite intent ``lapor+<kategori>`` is split
into intent and category, places are normalized to official regions, the date phrase becomes a
calendar date, tracking IDs are validated by their check character.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from bot import tracking
from bot.nlu import dates, regions
from bot.nlu.regions import Region

INTENTS = ("sapa", "lapor", "cek_status", "bantuan", "batal", "ya", "tidak", "terima_kasih", "berhenti",
           "luar_lingkup", "relawan")
CATEGORIES = ("infrastruktur", "kesehatan", "pendidikan", "kependudukan", "perizinan", "lingkungan",
              "ketertiban_umum", "perlindungan_konsumen", "ketenagakerjaan", "perhubungan", "bantuan_sosial",
              "listrik_air", "pertanahan", "lainnya")
ENTITIES = ("lokasi", "nomor_laporan", "tanggal", "instansi")
CATEGORY_SEP = "+"
# Below this DIET confidence the intent is reported as unknown (None) so the bot asks with buttons.
MIN_INTENT_CONFIDENCE = 0.35
# Rasa sees at most this much text; a 10k-character message is cut, not rejected.
MAX_TEXT_CHARS = 2000


@dataclass
class Interpretation:
    text: str
    intent: str | None
    confidence: float
    category: str | None
    category_confidence: float
    locations: list[str] = field(default_factory=list)
    region: Region | None = None
    region_candidates: list[Region] = field(default_factory=list)
    incident_date: dt.date | None = None
    date_text: str | None = None
    tracking_id: str | None = None
    tracking_id_error: str | None = None
    agencies: list[str] = field(default_factory=list)
    source: str = "rasa"

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 4),
            "category": self.category,
            "category_confidence": round(self.category_confidence, 4),
            "locations": list(self.locations),
            "region": self.region.to_json() if self.region else None,
            "region_candidates": [r.to_json() for r in self.region_candidates],
            "incident_date": self.incident_date.isoformat() if self.incident_date else None,
            "date_text": self.date_text,
            "tracking_id": self.tracking_id,
            "tracking_id_error": self.tracking_id_error,
            "agencies": list(self.agencies),
            "source": self.source,
        }


def clean_text(text: str | None) -> str:
    """Strip control characters and cut to MAX_TEXT_CHARS; keeps emoji and any script."""
    text = "" if text is None else str(text)
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)
    return text.strip()[:MAX_TEXT_CHARS]


def has_words(text: str) -> bool:
    return bool(re.search(r"[0-9A-Za-zÀ-ÿ]", text))


def split_label(label: str | None) -> tuple[str | None, str | None]:
    if not label:
        return None, None
    intent, _, category = label.partition(CATEGORY_SEP)
    if intent not in INTENTS:
        return None, None
    return intent, (category if category in CATEGORIES else None)


def _unique(items: list[str]) -> list[str]:
    seen, out = set(), []
    for s in items:
        k = s.strip().lower()
        if k and k not in seen:
            seen.add(k)
            out.append(s.strip())
    return out


# Named agencies and public facilities: a gazetteer beats examples here (closed list, exact names).
_AGENCY_RE = re.compile(
    r"\b(?:dis)?dukcapil\b|\bcapil\b|\bpln\b|\bpdam\b|\bpam\b|\bpuskesmas\b|\bpustu\b|\bposyandu\b|\brsud\b|"
    r"\brumah sakit(?: umum)?(?: daerah)?\b|\bsamsat\b|\bdishub\b|\bdisnaker\b|\bdinsos\b|\bdlh\b|\bbpn\b|"
    r"\bkantor pertanahan\b|\bbpjs(?: kesehatan| ketenagakerjaan| tk| kes)?\b|\bsatpol(?: pp)?\b|\bdpmptsp\b|"
    r"\bkelurahan\b|\bkecamatan\b|\bkantor desa\b|\bkrl\b|\btransjakarta\b|\bkua\b|\bkemenag\b|\bimigrasi\b|"
    r"\bdinas (?:pendidikan|kesehatan|sosial|pu|pupr|perhubungan|lingkungan hidup|pertanian|tenaga kerja)\b|"
    r"\bpupr\b|\bbpom\b|\bojk\b|\bpertamina\b|\bmal pelayanan publik\b",
    re.IGNORECASE)


def find_agencies(text: str) -> list[str]:
    return [m.group(0) for m in _AGENCY_RE.finditer(text or "")]


def _common(text: str, today: dt.date | None) -> dict:
    """Post-processing that needs no model: regions, date, tracking ID."""
    tid, terr = tracking.find_in_text(text)
    cands = regions.resolve(text)
    d, dtext = dates.resolve_date(text, today=today)
    return {"tracking_id": tid, "tracking_id_error": terr, "region_candidates": cands,
            "region": cands[0] if len(cands) == 1 else None, "incident_date": d, "date_text": dtext}


def _decide(answer: dict) -> tuple[str | None, float, str | None, float]:
    """Intent = the intent with the most probability mass, summing the `lapor+<kategori>` labels
    (a problem description spread over two plausible categories is still clearly `lapor`).
    Category = the best `lapor+*` label, with its share of the lapor mass as confidence."""
    ranking = answer.get("intent_ranking") or []
    if not ranking and answer.get("intent"):
        ranking = [answer["intent"]]
    mass: dict[str, float] = {}
    best_cat, best_cat_conf = None, 0.0
    for r in ranking:
        intent, category = split_label(r.get("name"))
        conf = float(r.get("confidence") or 0.0)
        if intent is None:
            continue
        mass[intent] = mass.get(intent, 0.0) + conf
        if category and conf > best_cat_conf:
            best_cat, best_cat_conf = category, conf
    if not mass:
        return None, 0.0, None, 0.0
    intent = max(mass, key=mass.get)
    conf = mass[intent]
    if intent != "lapor" or best_cat is None:
        return intent, conf, None, 0.0
    # A bare `lapor` ("saya mau lapor") outweighing every category means no problem described yet.
    bare = next((float(r.get("confidence") or 0) for r in ranking if r.get("name") == "lapor"), 0.0)
    if bare >= best_cat_conf:
        return intent, conf, None, 0.0
    return intent, conf, best_cat, best_cat_conf / conf if conf else 0.0


def from_rasa(text: str, answer: dict, today: dt.date | None = None) -> Interpretation:
    intent, conf, category, cat_conf = _decide(answer)
    if conf < MIN_INTENT_CONFIDENCE:
        intent, category, cat_conf = None, None, 0.0
    ents: dict[str, list[str]] = {k: [] for k in ENTITIES}
    for e in answer.get("entities") or []:
        name = e.get("entity")
        if name in ents:
            surface = text[e["start"]:e["end"]] if isinstance(e.get("start"), int) and isinstance(e.get("end"), int) \
                else str(e.get("value") or "")
            ents[name].append(surface or str(e.get("value") or ""))
    from bot.nlu.acronyms import inside

    ents["lokasi"] = [loc for loc in ents["lokasi"] if not inside(text, loc)]  # "Bangunan Gedung (PBG)"
    common = _common(text, today)
    # A name that is also an ordinary word ("di batu") counts when the model tagged it as a place.
    if not common["region_candidates"]:
        for loc in ents["lokasi"]:
            cands = regions.resolve(loc, allow_common=True)
            if cands:
                common["region_candidates"] = cands
                common["region"] = cands[0] if len(cands) == 1 else None
                break
    return Interpretation(
        text=text, intent=intent, confidence=conf, category=category, category_confidence=cat_conf,
        locations=_unique(ents["lokasi"]), agencies=_unique(ents["instansi"] + find_agencies(text)), source="rasa",
        **common)


# --- degraded mode: a tiny keyword fallback, so buttons and numbered choices still get meaning ---
_KEYWORDS: list[tuple[str, re.Pattern]] = [
    ("berhenti", re.compile(r"^\s*(stop|berhenti|unsubscribe|unreg)\s*[.!]*\s*$", re.I)),
    ("batal", re.compile(r"^\s*(batal|batalkan|cancel|gak jadi|ga jadi|nggak jadi|tidak jadi)\b", re.I)),
    ("ya", re.compile(r"^\s*(ya|iya|y|yes|ok|oke|okay|betul|benar|setuju|lanjut)\s*[.!]*\s*$", re.I)),
    ("tidak", re.compile(r"^\s*(tidak|tdk|nggak|gak|ga|enggak|no|n|bukan|salah)\s*[.!]*\s*$", re.I)),
    ("terima_kasih", re.compile(r"\b(terima ?kasih|makasih|thanks?|thank you|tq|trims)\b", re.I)),
    ("bantuan", re.compile(r"^\s*(bantuan|help|menu|info|panduan|\?)\s*$", re.I)),
    ("cek_status", re.compile(r"\b(status|lacak|cek laporan|track)\b", re.I)),
    ("sapa", re.compile(r"^\s*(halo|hai|hi|hello|selamat (pagi|siang|sore|malam)|assalamu.?alaikum|permisi|p)\s*[.!]*\s*$", re.I)),
    ("lapor", re.compile(r"\b(lapor|melapor|laporan|aduan|mengadu|pengaduan|keluhan|komplain|complain|report)\b", re.I)),
    # words that describe a problem: the message is probably a complaint
    ("lapor", re.compile(r"\b(rusak|berlubang|mati|padam|banjir|sampah|limbah|pungli|bocor|macet|longsor|"
                         r"belum cair|tidak cair|ditolak|dipersulit|belum dibayar)\b", re.I)),
]


def degraded(text: str, today: dt.date | None = None) -> Interpretation:
    intent = None
    for name, rx in _KEYWORDS:
        if rx.search(text):
            intent = name
            break
    common = _common(text, today)
    if common["tracking_id"] or common["tracking_id_error"]:
        intent = intent if intent in ("cek_status", "batal") else "cek_status"
    return Interpretation(text=text, intent=intent, confidence=0.0, category=None, category_confidence=0.0,
                          agencies=_unique(find_agencies(text)), source="degraded", **common)


def empty(text: str) -> Interpretation:
    """Defined answer for input with nothing to understand (empty, only emoji/punctuation)."""
    return Interpretation(text=text, intent=None, confidence=0.0, category=None, category_confidence=0.0,
                          source="rasa")
