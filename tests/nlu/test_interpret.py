"""Post-processing of Rasa answers, without a model."""
import datetime as dt

from bot.nlu import CATEGORIES, INTENTS, interpret

TODAY = dt.date(2026, 11, 23)


def answer(label, conf, ranking=(), entities=()):
    return {"intent": {"name": label, "confidence": conf},
            "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking] or [{"name": label, "confidence": conf}],
            "entities": list(entities)}


def test_split_label():
    assert interpret.split_label("lapor+infrastruktur") == ("lapor", "infrastruktur")
    assert interpret.split_label("lapor") == ("lapor", None)
    assert interpret.split_label("sapa") == ("sapa", None)
    assert interpret.split_label("nlu_fallback") == (None, None)
    assert interpret.split_label(None) == (None, None)
    assert len(INTENTS) == 11 and len(CATEGORIES) == 14


def test_from_rasa_composite_and_normalization():
    text = "jalan di depan SDN 3 Oebobo Kupang berlubang besar sejak 2 minggu lalu, sudah ada motor jatuh"
    a = answer("lapor+infrastruktur", 0.6,
               ranking=[("lapor+infrastruktur", 0.6), ("lapor+perhubungan", 0.3), ("sapa", 0.1)],
               entities=[{"entity": "lokasi", "start": text.index("Oebobo"), "end": text.index("Oebobo") + 6,
                          "value": "Oebobo"}])
    it = interpret.from_rasa(text, a, today=TODAY)
    assert it.intent == "lapor" and it.category == "infrastruktur"
    assert abs(it.confidence - 0.9) < 1e-6          # all lapor* labels together
    assert abs(it.category_confidence - 0.6 / 0.9) < 1e-6
    assert it.locations == ["Oebobo"]
    assert it.region.name == "Kota Kupang" and it.region.code == "53.71"
    assert it.incident_date == dt.date(2026, 11, 9) and it.date_text == "2 minggu lalu"
    assert it.source == "rasa"
    js = it.to_json()
    assert js["region"]["code"] == "53.71" and js["incident_date"] == "2026-11-09"


def test_from_rasa_ambiguous_region_and_tracking_checksum():
    it = interpret.from_rasa("cek LPR-3HBT04R di kupang", answer("cek_status", 0.97), today=TODAY)
    assert it.intent == "cek_status" and it.category is None
    assert it.region is None and {r.name for r in it.region_candidates} == {"Kota Kupang", "Kabupaten Kupang"}
    assert it.tracking_id is None and it.tracking_id_error == "checksum"
    ok = interpret.from_rasa("LPR-3hbt04q", answer("cek_status", 0.97))
    assert ok.tracking_id == "LPR-3HBT04Q" and ok.tracking_id_error is None


def test_low_confidence_is_unknown():
    it = interpret.from_rasa("hmm", answer("ya", 0.2, ranking=[("ya", 0.2), ("tidak", 0.19)]))
    assert it.intent is None and it.category is None


def test_degraded_keywords():
    d = interpret.degraded
    assert d("ya").intent == "ya"
    assert d("Tidak").intent == "tidak"
    assert d("batal").intent == "batal"
    assert d("STOP").intent == "berhenti"
    assert d("makasih ya").intent == "terima_kasih"
    assert d("mau lapor jalan rusak").intent == "lapor"
    assert d("status LPR-3HBT04Q").intent == "cek_status"
    assert d("LPR-3HBT04Q").tracking_id == "LPR-3HBT04Q"
    assert d("xyzzy").intent is None
    assert all(x.source == "degraded" for x in (d("ya"), d("xyzzy")))


def test_clean_text():
    assert interpret.clean_text(None) == ""
    assert interpret.clean_text("  a\x00b\x1b  ") == "a b"
    assert len(interpret.clean_text("x" * 10_000)) == interpret.MAX_TEXT_CHARS


def test_degraded_problem_words_mean_lapor():
    it = interpret.degraded("listrik mati di kab kupang sejak kemarin, PLN diam saja", today=TODAY)
    assert it.intent == "lapor" and it.category is None
    assert it.region.name == "Kabupaten Kupang" and it.incident_date == dt.date(2026, 11, 22)
    assert it.agencies == ["PLN"]


def test_a_word_of_an_acronym_expansion_is_not_a_location():
    """Issue 14: the model tagged a capitalised word of "Persetujuan Bangunan Gedung (PBG)" as lokasi."""
    from bot.nlu.interpret import from_rasa

    text = "Pengurusan Persetujuan Bangunan Gedung (PBG) saya ditolak terus di Kota Kendari"
    start = text.index("Gedung")
    answer = {"intent_ranking": [{"name": "lapor+perizinan", "confidence": 0.9}],
              "entities": [{"entity": "lokasi", "start": start, "end": start + 6, "value": "Gedung"},
                           {"entity": "lokasi", "start": text.index("Kota"), "end": len(text), "value": "Kota Kendari"}]}
    it = from_rasa(text, answer)
    assert it.locations == ["Kota Kendari"] and it.region.name == "Kota Kendari"
