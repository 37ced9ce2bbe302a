"""Poster QR codes for a campaign code: Telegram deep link or WhatsApp click-to-chat, PNG and SVG (segno)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import segno


def signup_link(code: str, *, telegram_bot: str | None = None, whatsapp_number: str | None = None) -> str:
    if telegram_bot:
        return f"https://t.me/{telegram_bot.lstrip('@')}?start={code}"
    if whatsapp_number:
        digits = "".join(ch for ch in whatsapp_number if ch.isdigit())
        return f"https://wa.me/{digits}?text={quote('DAFTAR ' + code)}"
    raise ValueError("give a Telegram bot username or a WhatsApp number for the link")


def write_qr(link: str, out_dir: Path, stem: str, scale: int = 10) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    qr = segno.make(link, error="m")
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.svg"]
    qr.save(str(paths[0]), scale=scale, border=4)
    qr.save(str(paths[1]), scale=scale, border=4, title=link)
    return paths


def qr_image(link: str, kind: str = "svg", scale: int = 10) -> bytes:
    """One QR code in memory (``svg`` or ``png``), for downloads from the back office."""
    import io

    buf = io.BytesIO()
    segno.make(link, error="m").save(buf, kind=kind, scale=scale, border=4, **({"title": link} if kind == "svg" else {}))
    return buf.getvalue()
