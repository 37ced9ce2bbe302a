"""Keyword matching from dialogues/keywords.yml: commands, yes/no, choices and corrections without NLU."""
from __future__ import annotations

import re

_PUNCT = re.compile(r"[^\w\s?/-]+", re.UNICODE)


def norm(text: str) -> str:
    return re.sub(r"\s+", " ", _PUNCT.sub(" ", (text or "").lower())).strip()


class Keywords:
    def __init__(self, data: dict):
        self.data = data
        self.commands = {name: {norm(w) for w in words} for name, words in data["commands"].items()}
        self.yes = {norm(w) for w in data["affirm"]}
        self.no = {norm(w) for w in data["deny"]}
        self.skip = {norm(w) for w in data["skip"]}
        self.send = {norm(w) for w in data.get("send", [])}
        self.choice_words = {k: {norm(w) for w in v} for k, v in data.get("choice_words", {}).items()}
        corr = data["corrections"]
        self.correction_markers = [norm(m) for m in corr["markers"]]
        self.correction_slots = {slot: [norm(w) for w in words] for slot, words in corr["slots"].items()}
        self.type_phrases = {t: [norm(p) for p in ps] for t, ps in data.get("types", {}).items()}

    def command(self, text: str) -> str | None:
        """A whole message that is a global command (``bantuan``, ``batal``…)."""
        t = norm(text)
        if not t:
            return None
        for name, words in self.commands.items():
            if t in words:
                return name
        return None

    def starts_with_command(self, text: str, name: str) -> str | None:
        """``relawan ABC123`` / ``status LPR-…``: the rest after a leading command word, else None."""
        t = norm(text)
        for w in sorted(self.commands.get(name, ()), key=len, reverse=True):
            if t.startswith(w + " "):
                return text.strip()[len(w):].strip()
        return None

    def is_yes(self, text: str) -> bool:
        return any(t in self.yes for t in _forms(text))

    def is_yes_phrase(self, text: str) -> bool:
        """Yes, or a short phrase starting with yes ("yes that is fine, send it"): for yes/no questions only."""
        return self.is_yes(text) or _leading_yes(text, self.yes, self.no)

    def is_no(self, text: str) -> bool:
        return any(t in self.no for t in _forms(text))

    def is_send(self, text: str) -> bool:
        """"kirim", "kirim dong", "send it": send the summary."""
        return any(t in self.send for t in _forms(text))

    def is_skip(self, text: str) -> bool:
        return any(t in self.skip for t in _forms(text))

    def choice(self, text: str, options: list[str]) -> str | None:
        for t in _forms(text):
            if t.isdigit() and 1 <= int(t) <= len(options):
                return options[int(t) - 1]
            for opt in options:
                if t == norm(opt) or t == norm(opt.replace("_", " ")) or t in self.choice_words.get(opt, ()):
                    return opt
        return None

    def correction(self, text: str) -> tuple[str, str] | None:
        """``eh salah, lokasinya di Kendari`` -> ("location", "di Kendari"). Needs a marker and a slot word."""
        t = norm(text)
        if not any(re.search(rf"\b{re.escape(m)}\b", t) for m in self.correction_markers):
            return None
        for slot, words in self.correction_slots.items():
            for w in words:
                m = re.search(rf"\b{re.escape(w)}\b", t)
                if m:
                    rest = t[m.end():].strip()
                    rest = re.sub(r"^(nya|yang benar|yg benar|seharusnya|harusnya|adalah|jadi|ke|is|should be|to)\b\s*", "", rest)
                    return slot, rest
        return None

    def report_type(self, text: str) -> str | None:
        t = norm(text)
        for rtype, phrases in self.type_phrases.items():
            if any(p in t for p in phrases):
                return rtype
        return None


# -- issue 14: particles ("rahasia aja", "yang anonim dong") and yes-phrases ("yes that's fine, send it")
_NEGATION = {"not", "no", "dont", "don't", "never", "tidak", "tdk", "bukan", "jangan", "gak", "ga", "nggak", "enggak",
             "belum", "but", "tapi", "wait", "tunggu"}


def _forms(text: str) -> list[str]:
    """The message as typed, then without particles and a leading "yang" (bot/nlu/normalize.py)."""
    from bot.nlu.normalize import strip_particles

    t = norm(text)
    bare = norm(strip_particles(text))
    return [t, bare] if bare and bare != t else [t]


def _leading_yes(text: str, yes: set[str], no: set[str]) -> bool:
    """A short phrase that starts with a yes word and has no negation: "yes that is fine", "oke kirim aja"."""
    words = norm(text).replace("'", "").split()
    if not 1 < len(words) <= 8 or words[0] not in yes:
        return False
    return not any(w in _NEGATION or w in no for w in words[1:])
