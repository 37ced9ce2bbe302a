"""Console wording: every key a template names exists in Indonesian, and English has the same keys."""
import re
from pathlib import Path

from bot.backoffice.i18n import catalogue
from bot.backoffice.pages import ROOT, wib

KEY = re.compile(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_]+)["'](?!\s*~)""")  # not a prefix joined with ~


def test_english_has_every_indonesian_key():
    catalogue.cache_clear()
    assert set(catalogue("id")) == set(catalogue("en"))


def test_every_literal_key_in_the_templates_exists():
    ids = catalogue("id")
    missing = {(p.name, k) for p in Path(ROOT).rglob("*.html") for k in KEY.findall(p.read_text()) if k not in ids}
    assert not missing


def test_times_show_in_wib():
    from datetime import datetime, timezone

    assert wib(datetime(2026, 12, 4, 16, 59, 59, tzinfo=timezone.utc)) == "2026-12-04 23:59 WIB"
    assert wib("2026-12-04T16:59:59+00:00") == "2026-12-04 23:59 WIB"
    assert wib(None) == ""
