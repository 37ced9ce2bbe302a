from bot.nlu import regions


def names(text):
    return [r.name for r in regions.resolve(text)]


def test_inventory_is_complete():
    regs = regions.all_regions()
    provinces = [r for r in regs if r.kind == "provinsi"]
    local = [r for r in regs if r.kind != "provinsi"]
    assert len(provinces) == 38
    assert len(local) >= 514
    assert {r.kind for r in local} == {"kabupaten", "kota"}
    assert all(r.code.startswith(r.province_code + ".") for r in local)
    assert len({r.code for r in regs}) == len(regs)


def test_by_code():
    assert regions.by_code("53.71").name == "Kota Kupang"
    assert regions.by_code("53.01").name == "Kabupaten Kupang"
    assert regions.by_code("53").kind == "provinsi"
    assert regions.by_code("99.99") is None
    assert regions.by_code("") is None


def test_kupang_variants():
    assert set(names("kupang")) == {"Kota Kupang", "Kabupaten Kupang"}
    assert names("Kota Kupang") == ["Kota Kupang"]
    assert names("kab kupang") == ["Kabupaten Kupang"]
    assert names("Kab. Kupang") == ["Kabupaten Kupang"]
    assert names("kabupaten kupang") == ["Kabupaten Kupang"]


def test_region_inside_sentence_and_district_hint():
    text = "jalan di depan SDN 3 Oebobo Kupang berlubang besar sejak 2 minggu lalu, sudah ada motor jatuh"
    assert names(text) == ["Kota Kupang"]  # Oebobo is a kecamatan of Kota Kupang
    assert names("banjir di kecamatan apa saja di kota bogor") == ["Kota Bogor"]


def test_province_and_aliases():
    assert names("jalan rusak di jogja") == ["Daerah Istimewa Yogyakarta"]
    assert names("provinsi gorontalo") == ["Gorontalo"]
    assert set(names("Gorontalo")) == {"Kota Gorontalo", "Kabupaten Gorontalo"}
    assert names("macet di jaksel") == ["Kota Administrasi Jakarta Selatan"]
    assert names("tolitoli") == ["Kabupaten Toli-Toli"]


def test_province_narrows_ambiguity():
    assert names("bandung, jawa barat") == ["Kota Bandung", "Kabupaten Bandung"] or \
        set(names("bandung, jawa barat")) == {"Kota Bandung", "Kabupaten Bandung"}
    # Kabupaten Malang vs Kota Malang are both in Jawa Timur: still ambiguous.
    assert len(regions.resolve("Malang jatim")) == 2


def test_common_words_are_not_places():
    assert regions.resolve("ada batu besar di tengah jalan") == []
    assert names("saya tinggal di Kota Batu") == ["Kota Batu"]
    assert regions.resolve("") == []
    assert regions.resolve("halo min") == []
    assert regions.resolve("🙂🙂🙂") == []


def test_common_word_allowed_for_known_place():
    assert [r.name for r in regions.resolve("batu", allow_common=True)] == ["Kota Batu"]


# -- issue 14: districts and well-known towns, acronym expansions
import pytest  # noqa: E402

from bot.nlu import districts  # noqa: E402


@pytest.mark.parametrize("text,names", [
    ("jalan rusak di Ubud", {"Kabupaten Gianyar"}),
    ("puskesmas Serpong tutup terus", {"Kota Tangerang Selatan"}),
    ("pungli di Kecamatan Cibinong", {"Kabupaten Bogor"}),
    ("pdam mati di kec. karawaci", {"Kota Tangerang"}),
    ("macet parah di Cikarang tiap pagi", {"Kabupaten Bekasi"}),
    ("lampu jalan mati di Nusa Dua", {"Kabupaten Badung"}),
    ("sampah menumpuk di Cisarua", {"Kabupaten Bogor", "Kabupaten Sumedang", "Kabupaten Bandung Barat"}),
])
def test_districts_and_towns_resolve_to_their_regency(text, names):
    assert {r.name for r in regions.resolve(text)} == names


def test_a_regency_named_in_the_text_wins_over_a_district():
    assert [r.name for r in regions.resolve("jalan di Ubud, Kabupaten Badung rusak")] == ["Kabupaten Badung"]


@pytest.mark.parametrize("text", ["Persetujuan Bangunan Gedung (PBG) saya ditolak tanpa alasan",
                                  "izin di Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu (DPMPTSP) lama",
                                  "Saya tinggal di Tanjung, jalannya rusak", "jalan di kampung baru rusak"])
def test_ordinary_and_acronym_words_are_not_places(text):
    assert regions.resolve(text) == []


def test_place_after_an_acronym_expansion_is_kept():
    text = "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu (DPMPTSP) Kabupaten Bogor lambat"
    assert [r.name for r in regions.resolve(text)] == ["Kabupaten Bogor"]


def test_every_curated_town_points_at_known_regions():
    where, _shown, _n = districts._index()  # noqa: SLF001
    assert len(where) > 6000  # every kecamatan of the dataset, plus the towns
    import json

    towns = json.loads(districts.TOWNS_FILE.read_text(encoding="utf-8"))["towns"]
    assert all(regions.by_code(c) for codes in towns.values() for c in codes)
