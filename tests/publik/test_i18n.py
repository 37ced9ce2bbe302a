"""Public wording: English has every Indonesian key, every literal key the templates name exists, and every
key a template builds (status history events, actors, fields) exists too."""
import re
from pathlib import Path

from bot.backoffice.i18n import catalogue
from bot.publik.i18n import ROOT as I18N
from bot.publik.pages import ROOT

KEY = re.compile(r"""\bt\(\s*["']([a-z_0-9]+\.[a-z0-9_]+)["'](?!\s*~)""")


def test_english_has_every_indonesian_key():
    catalogue.cache_clear()
    assert set(catalogue("id", I18N)) == set(catalogue("en", I18N))


def test_every_key_the_pages_use_exists():
    ids = catalogue("id", I18N)
    missing = {(p.name, k) for p in Path(ROOT).rglob("*.html") for k in KEY.findall(p.read_text()) if k not in ids}
    assert not missing
    built = [f"publik.by_{a}" for a in ("warga", "petugas", "sistem")] + \
        [f"publik.event_{e}" for e in ("dialihkan", "dikembalikan")] + \
        [f"publik.field_{f}" for f in ("received", "forwarded", "pct_forwarded", "archived", "pct_archived",
                                       "settled", "pct_settled", "in_progress", "median_days_to_settle")]
    assert [k for k in built if k not in ids] == []


def test_every_service_has_its_wording():
    from bot.nlu.interpret import CATEGORIES

    ids = catalogue("id", I18N)
    assert [c for c in CATEGORIES if f"open311.service_{c}" not in ids or f"open311.keywords_{c}" not in ids] == []
