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
