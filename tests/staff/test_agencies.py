"""Agency directory: every region has its government and offices; routing = category + region (+ text)."""
from bot import agencies
from bot.nlu import regions as R


def test_every_region_has_a_government_and_codes_are_unique():
    regions = R.all_regions()
    codes = [a["code"] for a in agencies.all_agencies()]
    assert len(codes) == len(set(codes))
    for r in regions:
        gov = agencies.get(f"PEMDA-{r.code}")
        assert gov and r.name.split()[-1] in gov["name"]
        if r.kind != "provinsi":
            assert agencies.get(f"DUKCAPIL-{r.code}") and agencies.get(f"PDAM-{r.code}")
        else:
            assert agencies.get(f"SAMSAT-{r.code}")
    for code in ("PLN", "BPJSKES", "BPJSTK", "KEMENDIKBUD", "KEMENKES", "KEMENSOS", "ATRBPN", "KEMENHUB", "POLRI"):
        assert agencies.get(code), code
    assert agencies.get("pln")["code"] == "PLN" and agencies.get(None) is None and agencies.get("XYZ") is None


def test_routing_examples():
    kota_kupang = R.by_code("53.71")
    assert agencies.suggest("kependudukan", kota_kupang)["code"] == "DUKCAPIL-53.71"
    assert agencies.suggest("listrik_air", kota_kupang)["code"] == "PLN"
    assert agencies.suggest("listrik_air", kota_kupang, "air PDAM mati tiga hari")["code"] == "PDAM-53.71"
    assert agencies.suggest("infrastruktur", kota_kupang)["code"] == "DPU-53.71"
    assert agencies.suggest("kesehatan", kota_kupang, "kartu BPJS ditolak rumah sakit")["code"] == "BPJSKES"
    assert agencies.suggest("perizinan", kota_kupang, "perpanjang STNK lama sekali")["code"] == "SAMSAT-53"
    assert agencies.suggest("lainnya", kota_kupang)["code"] == "PEMDA-53.71"
    assert agencies.suggest("pertanahan", R.by_code("53"))["code"] == "KANWILBPN-53"
    assert agencies.suggest("infrastruktur", None)["code"] == "KEMENPU"
    assert agencies.suggest("lainnya", None) is None
    assert agencies.suggest(None, None) is None


def test_search():
    assert [a["code"] for a in agencies.search("PLN")] == ["PLN"]
    assert {a["code"] for a in agencies.search("dukcapil kupang")} == {"DUKCAPIL-53.71", "DUKCAPIL-53.01"}
    assert agencies.search("bpjs")[0]["code"] == "BPJSKES"
    assert agencies.search("") == [] and agencies.search("zzzz qqq") == []
    assert "aliases" not in agencies.search("pdam kota kupang")[0]
