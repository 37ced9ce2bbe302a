"""The message catalogues: both languages define the same texts with the same variables, every text the
code asks for exists, every text renders, and the SMS-bound texts keep the size they have.

Key names come from the code itself: string literals shaped ``group/name`` in bot/ (not bot/backoffice/),
channels/ and outreach/, the ``ask:`` prompts of dialogues/*.yml, and the notification events
(``notify/{event}``) enumerated from the report transitions they are built from.
"""
from __future__ import annotations

import ast
import re
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml
from jinja2 import meta

from bot import reports
from bot.templates import CATALOGUE, LANGUAGES, Renderer
from bot.tracking import new_tracking_id
from channels.formatting import gsm_friendly, is_gsm7, sms_units

ROOT = Path(__file__).resolve().parent.parent
CODE_DIRS = ("bot", "channels", "outreach")
KEY_SHAPE = re.compile(r"[a-z_]+/[a-z_]+")
BACKOFFICE = ROOT / "bot" / "backoffice"  # its own wording (templates/backoffice/i18n), not this renderer's
MIME_TYPES = {"application", "audio", "image", "text", "video"}  # "image/png" is a media type, not a text
# f-strings that build a key: the prefix, and whether the Renderer renders it (outreach/<campaign> only
# labels the outbox record of a campaign message; campaign texts live in templates/outreach/*.yml).
DYNAMIC_PREFIXES = {"notify/": True, "outreach/": False}
ONE_SMS_SEGMENT = 160  # GSM-7 characters in a single (unsplit) SMS


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def variables(r: Renderer, lang: str, key: str) -> set[str]:
    return meta.find_undeclared_variables(r.env.parse(r.catalogue.source(lang, key)))


# ------------------------------------------------------------------ the keys the code uses
def _python_files():
    for d in CODE_DIRS:
        yield from (p for p in sorted((ROOT / d).rglob("*.py")) if not p.is_relative_to(BACKOFFICE))


def literal_keys() -> set[str]:
    """Every string literal shaped like a text key in the application code."""
    found = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and KEY_SHAPE.fullmatch(node.value):
                if node.value.split("/")[0] not in MIME_TYPES:
                    found.add(node.value)
    return found


def dynamic_prefixes() -> set[str]:
    """Prefixes of f-strings shaped ``f"group/{…}"``: each must be enumerated below."""
    found = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
                head = node.values[0].value
                if isinstance(head, str) and re.fullmatch(r"[a-z_]+/", head) and len(node.values) > 1:
                    found.add(head)
    return found


def notification_events() -> set[str]:
    """``notify/{event}``: a transition's target status, or an event named in bot/staff (reopen, auto-close)."""
    events = set().union(*reports.TRANSITIONS.values(), *reports.CITIZEN_REOPEN.values())
    for path in sorted((ROOT / "bot" / "staff").glob("*.py")):
        events |= set(re.findall(r"""\bevent\s*=\s*["']([a-z_]+)["']""", path.read_text(encoding="utf-8")))
    return events


def dialogue_keys() -> set[str]:
    """The prompts (``ask:``) of every flow in dialogues/*.yml."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "ask" and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for path in sorted((ROOT / "dialogues").glob("*.yml")):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found


def used_keys() -> set[str]:
    return literal_keys() | dialogue_keys() | {f"notify/{e}" for e in notification_events()}


# ------------------------------------------------------------------ representative context
def sample_context(role: str = "reporter", own: bool = True) -> dict:
    """One value for every variable any text uses (a new variable needs a sample here)."""
    tid = new_tracking_id()
    options = [{"name": "Dinas Pekerjaan Umum Kota Kupang", "province_name": "Nusa Tenggara Timur",
                "tracking_id": tid, "snippet": "Jalan berlubang di depan SD 3"},
               {"name": "Dinas Kesehatan Kabupaten Bogor", "province_name": "Jawa Barat",
                "tracking_id": new_tracking_id(), "snippet": "Puskesmas tutup siang hari"}]
    items = [{"tracking_id": tid, "status": reports.DITERUSKAN},
             {"tracking_id": new_tracking_id(), "status": reports.SELESAI}]
    slots = {"category_guess": "infrastruktur", "category": "kesehatan", "on_behalf_name": "Bu Sari",
             "region": {"name": "Kota Kupang"}, "incident_date": date(2026, 5, 12)}
    summary = {"type": "pengaduan", "description": "Jalan berlubang besar di depan sekolah sejak dua bulan lalu",
               "on_behalf_name": "Bu Sari", "location": "Jl. Sudirman", "region": "Kota Kupang",
               "incident_date": "2026-05-12", "category": "infrastruktur", "agency": "Dinas PU",
               "attachments": 2, "privacy": "anonim"}
    view = {"tracking_id": tid, "status": reports.DITANGGAPI, "updated_at": datetime(2026, 6, 1, 9, 30),
            "description": "Jalan berlubang besar di depan sekolah", "answer": "Akan diperbaiki bulan ini",
            "next": "next.ditanggapi"}
    return dict(tracking_id=tid, role=role, own=own, options=options, items=items, slots=slots, summary=summary,
                view=view, max_mb=10, suggestion={"name": "Dinas PU"}, location="Jalan Sudirman", count=3,
                volunteer=role == "volunteer", added=True, limit=5, agency="Dinas PU Kota Kupang", slot="agency",
                value=None, kind="kejahatan", in_flow=False, to="en", district="Cisarua",
                note="Sudah diperbaiki minggu ini.", on_behalf="Bu Sari", text="Kami sudah cek lokasinya.",
                sub={"institution": "Universitas Gadjah Mada"}, total=4, settled=1,
                contact={"name": "Budi", "language": "id"}, days=365, params=[tid, "Ditanggapi"],
                code="482913", minutes=10,
                mydata={"contact": {"name": "Budi", "channel": "whatsapp", "language": "id",
                                    "consent": {"given": True}},
                        "messages": {"received": 12, "sent": 15}, "reports": items,
                        "subscription": {"status": "subscribed"}, "draft": {"flow": "filing"}})


CONTEXTS = [sample_context(role, own) for role, own in
            (("reporter", True), ("reporter", False), ("supporter", False), ("volunteer", True),
             ("on_behalf", False))]


# ------------------------------------------------------------------ tests
def test_both_languages_define_the_same_texts(renderer):
    keys = {lang: renderer.catalogue.keys(lang) for lang in LANGUAGES}
    assert keys["id"], "no texts found"
    assert keys["en"] - keys["id"] == set(), "English texts with no Indonesian original"
    assert keys["id"] - keys["en"] == set(), "Indonesian texts not yet translated"


def test_a_text_is_either_in_the_catalogue_or_a_file(renderer):
    for lang in LANGUAGES:
        assert (ROOT / "templates" / lang / CATALOGUE).is_file()
        both = set(renderer.catalogue.entries[lang]) & renderer.catalogue.files(lang)
        assert both == set(), f"{lang}: defined twice (catalogue and .j2): {sorted(both)}"


def test_each_text_uses_the_same_variables_in_both_languages(renderer):
    differ = {}
    for key in sorted(renderer.catalogue.keys("id") & renderer.catalogue.keys("en")):
        id_vars, en_vars = variables(renderer, "id", key), variables(renderer, "en", key)
        if id_vars != en_vars:
            differ[key] = {"only id": sorted(id_vars - en_vars), "only en": sorted(en_vars - id_vars)}
    assert differ == {}


def test_labels_have_the_same_keys_in_both_languages(renderer):
    def paths(node, prefix=""):
        if isinstance(node, dict):
            return set().union(*(paths(v, f"{prefix}{k}.") for k, v in node.items()))
        return {prefix.rstrip(".")}

    assert paths(renderer._labels["id"]) == paths(renderer._labels["en"])  # noqa: SLF001


def test_the_key_scan_finds_what_the_code_says():
    """Guards the scan itself: known call sites of each kind are seen, and no key is built unseen."""
    lits = literal_keys()
    assert {"errors/unavailable", "channels/reply_with_number", "errors/pick_a_choice",
            "volunteer/consent_required", "notify/staff_reply"} <= lits
    assert not any(k.split("/")[0] in MIME_TYPES for k in lits)
    assert {"filing/ask_location", "filing/summary"} <= dialogue_keys()
    assert {"dibuka_kembali", "auto_selesai", reports.SELESAI} <= notification_events()
    assert reports.DITERIMA not in notification_events()  # the first status is never a transition's target
    assert dynamic_prefixes() == set(DYNAMIC_PREFIXES), "a key built at run time: enumerate its values here"


def test_every_text_the_code_uses_exists(renderer):
    used = used_keys()
    for lang in LANGUAGES:
        missing = used - renderer.catalogue.keys(lang)
        assert missing == set(), f"{lang}: texts the code asks for but nobody wrote: {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_renders_with_a_representative_context(renderer, lang):
    keys = sorted(renderer.catalogue.keys(lang))
    unknown = set().union(*(variables(renderer, lang, k) for k in keys)) - set(CONTEXTS[0]) - {"lang"}
    assert unknown == set(), "variables without a sample value in sample_context()"
    for key in keys:
        for ctx in CONTEXTS:
            text = renderer.render(key, lang, **ctx)
            assert text and text == text.strip(), (key, ctx["role"])
            if "tracking_id" in variables(renderer, lang, key):
                assert ctx["tracking_id"] in text, key


@pytest.mark.parametrize("lang", LANGUAGES)
def test_numbered_lists_and_conditional_lines_start_a_new_line(renderer, lang):
    """A newline right after a block tag is dropped (trim_blocks): list texts keep theirs with ``+%}``."""
    lists = [k for k in sorted(renderer.catalogue.keys(lang)) if "loop.index" in renderer.catalogue.source(lang, k)]
    assert {"filing/ask_agency_pick", "tracking/my_reports", "filing/similar_found"} <= set(lists)
    for key in lists:
        lines = renderer.render(key, lang, **CONTEXTS[0]).split("\n")
        assert [ln[:3] for ln in lines if re.match(r"\d+\. ", ln)] == ["1. ", "2. "], (key, lines)
        assert not re.search(r"\d+\. .*\d+\. ", "\n".join(lines)), key
    similar = renderer.render("filing/similar_found", lang, **CONTEXTS[0]).split("\n")
    assert len(similar) == 4  # heading, two reports, the question
    receipt = renderer.render("filing/receipt", lang, **dict(CONTEXTS[0], volunteer=True)).split("\n")
    assert len(receipt) == 3 and "Kawan LAPOR!" in receipt[-1]
    assert len(renderer.render("filing/receipt", lang, **dict(CONTEXTS[0], volunteer=False)).split("\n")) == 2


SAME_IN_BOTH_LANGUAGES = ["held/subject"]  # "LAPOR!": the service's name


def test_english_is_rendered_from_the_english_catalogue(renderer):
    ctx = CONTEXTS[0]
    same = [k for k in sorted(renderer.catalogue.keys("en"))
            if renderer.render(k, "en", **ctx) == renderer.render(k, "id", **ctx)]
    # Only texts that are the same words in both languages (a proper name) may match, and only these.
    assert same == SAME_IN_BOTH_LANGUAGES, same


def test_every_text_stays_gsm7(renderer):
    """An SMS with one non-GSM-7 character is sent as UCS-2: 70 characters a segment instead of 160."""
    for lang in LANGUAGES:
        for key in sorted(renderer.catalogue.keys(lang)):
            text = gsm_friendly(renderer.render(key, lang, **CONTEXTS[-1]))
            assert is_gsm7(text), (lang, key, sorted({c for c in text if not is_gsm7(c)}))


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("event", sorted(notification_events()))
def test_status_sms_to_the_person_filed_for_fits_one_segment(renderer, lang, event):
    """The person a volunteer filed for hears about each status change by SMS (docs/staff.md). The wording
    around the agency's name and note fits one GSM-7 segment, so short ones go out as a single SMS."""
    ctx = dict(CONTEXTS[-1], agency=None, note="")
    assert ctx["role"] == "on_behalf"
    text = gsm_friendly(renderer.render(f"notify/{event}", lang, **ctx))
    encoding, units = sms_units(text)
    assert encoding == "gsm7" and units <= ONE_SMS_SEGMENT, (units, text)


def test_a_missing_english_text_falls_back_to_indonesian(tmp_path):
    for lang, body in (("id", "a/b: Halo {{ who }}\na/c: Satu\n"), ("en", "a/c: One\n")):
        (tmp_path / lang).mkdir()
        (tmp_path / lang / CATALOGUE).write_text(body, encoding="utf-8")
    (tmp_path / "id" / "a" / "long.j2").parent.mkdir()
    (tmp_path / "id" / "a" / "long.j2").write_text("Panjang {{ label('x.y') }}\n", encoding="utf-8")
    r = Renderer(tmp_path)
    assert r.render("a/c", "en") == "One"
    assert r.render("a/b", "en", who="Sari") == "Halo Sari"  # fallback, per key
    assert r.render("a/long", "en") == "Panjang y"  # a .j2 file is found the same way
    assert r.catalogue.keys("id") == {"a/b", "a/c", "a/long"}


def test_catalogue_entries_are_strict_but_falsy_and_can_include_each_other(tmp_path):
    (tmp_path / "id").mkdir()
    (tmp_path / "id" / CATALOGUE).write_text(
        'x/y: "{% if missing %}ada{% endif %}{{ shown }}"\nx/z: "{% include lang ~ \'/x/y\' %}!"\n',
        encoding="utf-8")
    r = Renderer(tmp_path)
    assert r.render("x/y", "id", shown="ok") == "ok"  # testing a missing variable is allowed
    assert r.render("x/z", "id", shown="ok") == "ok!"  # one entry includes another by key
    with pytest.raises(Exception, match="shown"):
        r.render("x/y", "id")  # printing one is an error


def test_a_catalogue_entry_must_be_text(tmp_path):
    (tmp_path / "id").mkdir()
    (tmp_path / "id" / CATALOGUE).write_text("x:\n  y: nested\n", encoding="utf-8")
    with pytest.raises(ValueError, match="key: text"):
        Renderer(tmp_path)
