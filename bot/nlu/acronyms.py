"""Capitalised words that spell out an acronym are a name, never a place (issue 14).

"Persetujuan Bangunan Gedung (PBG)", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu (DPMPTSP)":
``mask`` blanks such words (same length, so offsets stay valid) before places are looked for. An expansion is
a run of capitalised words (joined by small words such as "dan", "dan", "&") whose initials spell an
all-capitals word of the same message, or a run of four or more capitalised words right before "(".
"""
from __future__ import annotations

import re

_ACRONYM = re.compile(r"\b[A-Z]{2,}[0-9]?\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_JOINERS = {"dan", "&", "atau", "of", "and", "the", "untuk", "di", "ke"}
# A place qualifier ends a name: "... Satu Pintu Kabupaten Bogor" keeps "Kabupaten Bogor".
_PLACE_WORDS = {"kabupaten", "kab", "kota", "kecamatan", "kec", "provinsi", "desa", "kelurahan", "jalan", "jl"}


def _runs(text: str):
    """Runs of capitalised words (with joiners inside): lists of (start, end, word)."""
    run: list[tuple[int, int, str]] = []
    for m in _WORD.finditer(text):
        w = m.group(0)
        gap = text[run[-1][1]:m.start()] if run else ""
        if run and ("\n" in gap or any(c in gap for c in ".,;:!?()")):
            yield run
            run = []
        if w.lower() in _PLACE_WORDS:
            if run:
                yield run
            run = []
        elif w[0].isupper() and not w.isupper():
            run.append((m.start(), m.end(), w))
        elif run and w.lower() in _JOINERS:
            run.append((m.start(), m.end(), w))
        else:
            if run:
                yield run
            run = []
    if run:
        yield run


def spans(text: str) -> list[tuple[int, int]]:
    """Character spans of acronym expansions in ``text``."""
    acronyms = {a for a in _ACRONYM.findall(text or "") if len(a) >= 2}
    out = []
    for run in _runs(text or ""):
        words = [r for r in run if r[2].lower() not in _JOINERS]
        initials = "".join(w[2][0].upper() for w in words)
        end = run[-1][1]
        before_paren = text[end:end + 3].lstrip().startswith("(")
        if len(words) >= 2 and any(a.startswith(initials) or initials.startswith(a) or a in initials
                                   for a in acronyms if len(a) >= 2):
            out.append((run[0][0], end))
        elif len(words) >= 4 and before_paren:
            out.append((run[0][0], end))
    return out


def mask(text: str) -> str:
    """``text`` with acronym expansions blanked out (offsets unchanged)."""
    text = text or ""
    for a, b in spans(text):
        text = text[:a] + " " * (b - a) + text[b:]
    return text


def inside(text: str, surface: str) -> bool:
    """Is every occurrence of ``surface`` in ``text`` part of an acronym expansion?"""
    sp = spans(text)
    hits = [m.start() for m in re.finditer(re.escape(surface), text or "")] if surface else []
    return bool(hits) and all(any(a <= h < b for a, b in sp) for h in hits)
