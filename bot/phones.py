"""Phone numbers to E.164 (Indonesia by default) with the maintained ``phonenumbers`` library."""
from __future__ import annotations

import phonenumbers


def normalize_phone(text: str | None, region: str = "ID") -> str | None:
    if not text or any(ch.isalpha() for ch in text):  # no vanity letters: "O" is not a zero
        return None
    try:
        num = phonenumbers.parse(text.strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str | None) -> str:
    if not e164:
        return "-"
    return e164[:4] + "*" * max(0, len(e164) - 7) + e164[-3:]
