"""Which language a citizen writes: Indonesian or English (issue 14).

A maintained detector (lingua-language-detector, restricted to the two languages the bot speaks) looks at the
normalised text (bot/nlu/normalize.py, so "yg sy gk" reads as Indonesian). Short messages say too little:
below MIN_WORDS words or MIN_LETTERS letters, or when the detector is not sure (MIN_CONFIDENCE), the answer
is None and nothing changes. Tracking numbers, links and e-mail addresses are not words of any language and
are removed first ("status LPR-CZFTBAD" says nothing about the language).
"""
from __future__ import annotations

import re
from functools import lru_cache

from bot.nlu.normalize import normalize
from bot.tracking import CANDIDATE_RE

MIN_WORDS = 3
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.80
_NOT_WORDS = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+", re.IGNORECASE)


@lru_cache(maxsize=1)
def _detector():
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.INDONESIAN, Language.ENGLISH).build()


def detect(text: str | None) -> str | None:
    """``"id"``, ``"en"`` or None (too short, or not sure)."""
    t = normalize(_NOT_WORDS.sub(" ", CANDIDATE_RE.sub(" ", text or "")))
    words = re.findall(r"[^\W\d_]{2,}", t)
    if len(words) < MIN_WORDS or sum(len(w) for w in words) < MIN_LETTERS:
        return None
    from lingua import Language

    best = max(_detector().compute_language_confidence_values(" ".join(words)), key=lambda c: c.value)
    if best.value < MIN_CONFIDENCE:
        return None
    return {Language.INDONESIAN: "id", Language.ENGLISH: "en"}.get(best.language)
