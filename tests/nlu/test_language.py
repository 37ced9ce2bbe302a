"""Language detection of free text (issue 14)."""
import pytest

from bot.nlu.language import detect


@pytest.mark.parametrize("text,lang", [
    ("The road in front of my house has been broken for two months", "en"),
    ("I want to complain about the water supply in Surabaya", "en"),
    ("my health insurance card was deactivated without notice", "en"),
    ("jalan depan rumah saya rusak parah sudah dua bulan", "id"),
    ("yg bener aja min, udh 3 hr air pdam gk ngalir", "id"),
    ("KTP elektronik saya belum jadi padahal sudah rekam 6 bulan", "id"),
])
def test_language_of_sentences(text, lang):
    assert detect(text) == lang


@pytest.mark.parametrize("text", ["yes", "ok", "ya", "halo", "LPR-AB12CD3", "2", "", "🙏🙏", "Jl. Merdeka"])
def test_short_messages_say_nothing(text):
    assert detect(text) is None



def test_tracking_numbers_links_and_addresses_are_not_words():
    """A random tracking number can look like an English word ("status LPR-CZFTBAD"); it must not count."""
    from bot.tracking import new_tracking_id

    for tid in ["LPR-CZFTBAD"] + [new_tracking_id() for _ in range(300)]:
        for text in (f"status {tid}", f"cek {tid}", f"{tid} gimana", f"status {tid.lower()} www.lapor.go.id",
                     f"check {tid} a@b.id"):
            assert detect(text) is None, text
    assert detect("tolong cek laporan saya LPR-CZFTBAD sudah sampai mana ya") == "id"
    assert detect("please check my report LPR-CZFTBAD, where is it now") == "en"
